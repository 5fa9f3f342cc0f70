"""The Prefect UI's forms: the typed parameters its form flows take (rendered as forms) and
the words of the artifacts their runs leave.

The form flows themselves (`new_bid_from_rfp`, `advance_bid`, `generate_documents`) are a
door: they build typed commands and call `pipeline.dispatch`, so they live above the write
path, in `orchestrator/doors/prefect_forms.py`; this module, in the flows layer below it,
holds what they show and take, and imports no bid service.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, model_validator

from flows.hooks import on_run_failed
from orchestrator.bid.facts import SERVICE_ACTOR
from orchestrator.store.models import Role, Service, Source, Tier

REF_PATTERN = r"^(?:OPP-?)?\d+$"


class InlineOpportunity(BaseModel):
    """The fields of an opportunity YAML that an RFP needs, typed in the UI."""

    account: str = Field(min_length=1, description="Customer account name")
    tier: Tier = Field(description="Account tier")
    title: str = Field(min_length=1)
    source: Source = Source.RFP
    rfp_reference: str | None = None
    submission_deadline: date
    decision_date: date | None = None
    revenue_short_term: float = Field(ge=0, description="Estimated revenue, first year")
    revenue_medium_term: float = Field(default=0, ge=0)
    revenue_long_term: float = Field(default=0, ge=0)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    services: list[Service] = Field(default_factory=lambda: [Service.MANAGED_NETWORK])
    team: dict[Role, str] = Field(
        default_factory=dict, description="E-mail per role, e.g. bid_manager: bm@example.com"
    )
    budget_eur: float = Field(ge=0, description="BANTS: the customer's budget")
    authority: Literal["decision_maker", "influencer", "unknown"] = Field(
        description="BANTS: does our contact decide?"
    )
    need: Literal["clear", "vague", "none"] = Field(description="BANTS: the customer's need")
    timeframe_months: int = Field(ge=0, description="BANTS: months until the decision")
    sales_ready: bool = Field(description="BANTS: is the customer ready to buy?")
    strategic_fit: Literal["high", "medium", "low"] = "medium"

    def as_spec_data(self) -> dict[str, Any]:
        """The same mapping an opportunity YAML holds (validated by the intake's model)."""
        bants = {
            "budget_eur": self.budget_eur,
            "authority": self.authority,
            "need": self.need,
            "timeframe_months": self.timeframe_months,
            "sales_ready": self.sales_ready,
        }
        return {
            "account": {"name": self.account, "tier": self.tier.value},
            "title": self.title,
            "source": self.source.value,
            "rfp_reference": self.rfp_reference,
            "submission_deadline": self.submission_deadline,
            "decision_date": self.decision_date,
            "estimated_revenue": {
                "short_term": self.revenue_short_term,
                "medium_term": self.revenue_medium_term,
                "long_term": self.revenue_long_term,
            },
            "currency": self.currency,
            "team": {role.value: email for role, email in self.team.items()},
            "bants": bants,
            "services": [s.value for s in self.services],
            "strategic_fit": self.strategic_fit,
        }


class NewBidRequest(BaseModel):
    """A new bid from an RFP: files (as the worker sees them) or the fields inline."""

    opportunity_yaml: str | None = Field(default=None, description="Path of the opportunity YAML")
    sites_csv: str | None = Field(
        default=None, description="Path of the sites file, .csv or .xlsx (optional)"
    )
    inline: InlineOpportunity | None = Field(default=None, description="Instead of the YAML")
    carry_on: bool = Field(default=True, description="Run the bid's automated steps right away")

    @model_validator(mode="after")
    def _one_source(self) -> NewBidRequest:
        if (self.opportunity_yaml is None) == (self.inline is None):
            raise ValueError("give either opportunity_yaml or inline, not both")
        return self


class AdvanceRequest(BaseModel):
    """Advance a bid: one step, or as far as it goes without a person."""

    opportunity: str = Field(pattern=REF_PATTERN, description="OPP-0007 or 7")
    how: Literal["one_step", "until_waiting"] = "until_waiting"


class DocumentsRequest(BaseModel):
    """Render a bid's documents again (deterministic: same inputs, same files)."""

    opportunity: str = Field(pattern=REF_PATTERN, description="OPP-0007 or 7")
    kind: Literal["bid_documents", "submission_package", "order_sheet"] = "bid_documents"


def run_name(prefix: str) -> Callable[[], str]:
    """A run name from the request's opportunity, whether it came as a model or as JSON."""

    def name() -> str:
        from prefect.runtime import flow_run

        request = flow_run.parameters.get("request")
        ref = getattr(request, "opportunity", None)
        if ref is None and isinstance(request, dict):
            ref = request.get("opportunity")
        return f"{prefix} {ref}" if ref else prefix

    return name


FORM_OPTIONS: dict[str, Any] = {
    "persist_result": False,
    "on_failure": [on_run_failed],
    "on_crashed": [on_run_failed],
}
"""The form flows' options: no stored result; a failed or crashed run says so (hooks)."""


FINDINGS_SHOWN = 100
"""Findings the run's artifact lists; the rest are counted (`bid sites import --problems`)."""


class FindingLike(Protocol):
    """What the artifact shows of a finding: the intake's `Finding` or a result's `FindingOut`."""

    @property
    def file(self) -> str: ...
    @property
    def row(self) -> int | None: ...
    @property
    def field(self) -> str | None: ...
    @property
    def value(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def rule(self) -> str: ...
    @property
    def message(self) -> str: ...


def findings_markdown(ref: str, found: Sequence[FindingLike], *, refused: bool = False) -> str:
    """The run's artifact: what the intake found, as `bid sites import` lists it."""
    problems = sum(1 for f in found if f.kind == "problem")
    exceptions = len(found) - problems
    outcome = (
        "refused: nothing imported" if refused else "imported; each exception is a design task"
    )
    lines = [
        f"# Sites of {ref}: {problems} problem(s), {exceptions} exception(s) — {outcome}",
        "",
        "| file | row | field | value | kind | rule | message |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in found[:FINDINGS_SHOWN]:
        cells = (f.file, "" if f.row is None else str(f.row), f.field or "", f.value, f.kind,
                 f.rule, f.message)  # fmt: skip
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if len(found) > FINDINGS_SHOWN:
        lines += ["", f"… and {len(found) - FINDINGS_SHOWN:,} more (bid sites import --problems)"]
    return "\n".join(lines)


def created_note(ref: str, workspace_url: str | None, notes: Sequence[str] = ()) -> str:
    """What the run says it did: the bid, whose name is on its trail (the service's, not a
    name typed in the form), and where people open it."""
    lines = [
        f"# {ref} created",
        "",
        f"Created by `{SERVICE_ACTOR}`, the service's identity: this form has no actor field, "
        "so the bid's trail names the service, not the person who filled it in.",
    ]
    if notes:
        lines += ["", *(f"- {note}" for note in notes)]
    if workspace_url:
        lines += ["", f"Open it in the workspace: {workspace_url.rstrip('/')}/bids/{ref}"]
        lines += [
            "",
            f"People create bids in the workspace's form ({workspace_url.rstrip('/')}/bids/new), "
            "which checks the site list row by row before anything is saved.",
        ]
    return "\n".join(lines)
