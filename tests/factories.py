"""Factories for bids in tests: build specs in code, go through the real intake and services."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from orchestrator.bid.onboarding import create_opportunity, import_sites
from orchestrator.context import Context
from orchestrator.intake.opportunity import OpportunitySpec, SiteSpec

PEOPLE = {
    "account_manager": "am@example.com",
    "bid_manager": "bm@example.com",
    "solution_consultant": "sc@example.com",
    "sales_support": "ss@example.com",
    "operations": "ops@example.com",
    "finance": "fin@example.com",
    "legal": "legal@example.com",
    "management": "boss@example.com",
}
APPROVERS = {
    "technical": PEOPLE["operations"],
    "financial": PEOPLE["finance"],
    "legal": PEOPLE["legal"],
    "management": PEOPLE["management"],
}
WON_TRAIL = [
    (None, "pre_qualification", "create"),
    ("pre_qualification", "qualification", "qualify"),
    ("qualification", "kick_off", "decide_bid"),
    ("kick_off", "bid_production", "start_production"),
    ("bid_production", "governance_review", "request_governance"),
    ("governance_review", "submission", "approve_governance"),
    ("submission", "customer_decision", "submit"),
    ("customer_decision", "contract_preparation", "win"),
    ("contract_preparation", "contracted", "sign_contract"),
]
"""The audit trail of a bid carried from intake to a signed contract, one event a move."""
COUNTRIES = ("BE", "NL", "DE", "FR", "GB", "ES")


def opportunity_spec(ctx: Context, **overrides: Any) -> OpportunitySpec:
    return OpportunitySpec.model_validate(opportunity_data(ctx, **overrides))


def opportunity_yaml(ctx: Context, path: Path, **overrides: Any) -> Path:
    """The factory's opportunity as the YAML file a user hands in."""
    path.write_text(yaml.safe_dump(opportunity_data(ctx, **overrides), sort_keys=False))
    return path


def opportunity_data(ctx: Context, **overrides: Any) -> dict[str, Any]:
    today = ctx.clock().date()
    data: dict[str, Any] = {
        "account": {"name": "Acme Logistics", "tier": "top"},
        "title": "Managed WAN for 40 warehouses",
        "source": "rfp",
        "rfp_reference": "ACME-RFP-1",
        "submission_deadline": (today + timedelta(days=40)).isoformat(),
        "estimated_revenue": {"short_term": 300000, "medium_term": 500000, "long_term": 400000},
        "currency": "EUR",
        "team": dict(PEOPLE),
        "bants": {
            "budget_eur": 1_500_000,
            "authority": "decision_maker",
            "need": "clear",
            "timeframe_months": 6,
            "sales_ready": True,
        },
        "services": ["managed_network"],
        "strategic_fit": "high",
    }
    data.update(overrides)
    return data


def sites(count: int, prefix: str = "S") -> list[SiteSpec]:
    return [
        SiteSpec(
            site_id=f"{prefix}{n:04d}",
            name=f"Site {n}",
            street=f"Main street {n}",
            postcode=f"{1000 + n}",
            city="Town",
            country=COUNTRIES[n % len(COUNTRIES)],
            bandwidth_mbps=100,
            access="fiber",
        )
        for n in range(1, count + 1)
    ]


def new_bid(ctx: Context, site_count: int = 6, **overrides: Any) -> str:
    ref = create_opportunity(ctx, opportunity_spec(ctx, **overrides), actor="test")
    if site_count:
        import_sites(ctx, ref, sites(site_count), actor="test")
    return ref


def transitions(ctx: Context) -> list[tuple[str | None, str | None, str]]:
    """(from, to, trigger) of every state change in the audit trail, oldest first."""
    from sqlmodel import Session, col, select

    from orchestrator.store.models import AuditEvent

    with Session(ctx.engine) as session:
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        return [(e.from_state, e.to_state, e.trigger) for e in events if e.from_state != e.to_state]


def grant_all(ctx: Context, ref: str) -> None:
    """Every requested approval of the current round, granted by the right approver."""
    from orchestrator.bid import services
    from orchestrator.store.db import transaction

    with transaction(ctx.engine) as session:
        opportunity = services.get_opportunity(session, ref)
        areas = [
            a.area
            for a in services.current_approvals(session, opportunity)
            if a.status == "requested"
        ]
    for area in areas:
        services.approve(ctx, ref, area=area, by=APPROVERS[area])
