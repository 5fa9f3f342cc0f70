"""The new-bid form as the opportunity YAML a person would hand the CLI.

The form's fields are the YAML's (account, title, RFP reference, deadline, revenue, team,
BANTS, services); the YAML is built here and carried by `opportunity.create` like any
uploaded file, so the intake validates it exactly as it validates a file (the required BANTS
fields required, the deadline not in the past) and its problems name the form's fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from orchestrator.store.models import Role, Service, Source, Tier

TEAM_ROLES: tuple[Role, ...] = (
    Role.BID_MANAGER,
    Role.ACCOUNT_MANAGER,
    Role.SOLUTION_CONSULTANT,
    Role.SALES_SUPPORT,
    Role.OPERATIONS,
    Role.FINANCE,
    Role.LEGAL,
    Role.MANAGEMENT,
)
"""The roles the form asks a person for (a bid's usual team)."""

TIERS = tuple(t.value for t in Tier)
SOURCES = tuple(s.value for s in Source)
SERVICES = tuple(s.value for s in Service)
AUTHORITIES = ("decision_maker", "influencer", "unknown")
NEEDS = ("clear", "vague", "none")
FIT = ("high", "medium", "low")

FORM_NAME = "new-bid-form.yaml"
"""The name problems in the form's YAML are reported under."""


def _number(value: str) -> float | int | str:
    text = value.strip().replace(",", "").replace(" ", "").replace("_", "")
    try:
        number = float(text)
    except ValueError:
        return value.strip()  # the intake names the field and says it is not a number
    return int(number) if number.is_integer() else number


def opportunity_document(form: Mapping[str, Any], services: list[str]) -> dict[str, Any]:
    """The opportunity YAML's mapping from the form's fields (blank optional fields left out)."""

    def text(key: str) -> str:
        return str(form.get(key) or "").strip()

    data: dict[str, Any] = {
        "account": {"name": text("account"), "tier": text("tier")},
        "title": text("title"),
        "source": text("source") or "rfp",
        "submission_deadline": text("submission_deadline"),
        "estimated_revenue": {
            "short_term": _number(text("revenue_short") or "0"),
            "medium_term": _number(text("revenue_medium") or "0"),
            "long_term": _number(text("revenue_long") or "0"),
        },
        "currency": text("currency") or "EUR",
        "services": services,
        "strategic_fit": text("strategic_fit") or "medium",
    }
    if text("service_strategy"):
        data["service_strategy"] = text("service_strategy")
    if text("rfp_reference"):
        data["rfp_reference"] = text("rfp_reference")
    team = {role.value: text(f"team_{role.value}") for role in TEAM_ROLES}
    data["team"] = {role: email for role, email in team.items() if email}
    data["bants"] = {
        "budget_eur": _number(text("budget_eur")),
        "authority": text("authority"),
        "need": text("need"),
        "timeframe_months": _number(text("timeframe_months")),
        "sales_ready": text("sales_ready") == "yes",
    }
    return data


def opportunity_yaml(form: Mapping[str, Any], services: list[str]) -> bytes:
    return yaml.safe_dump(
        opportunity_document(form, services), sort_keys=False, allow_unicode=True
    ).encode("utf-8")
