"""Factories for bids in tests: build specs in code, go through the real intake and services."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine

from orchestrator.bid.opportunity.onboarding import create_opportunity, import_sites
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
QUOTE_HEADER = (
    "site_id",
    "provider",
    "kind",
    "monthly_cost",
    "one_off_cost",
    "currency",
    "valid_until",
    "provider_reference",
)


_REFERENCES = itertools.count(1)
"""Every bid a factory makes answers its own RFP (a reference names one bid)."""


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
        "rfp_reference": f"ACME-RFP-{next(_REFERENCES)}",
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
        "service_strategy": "sla",
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
    from orchestrator.bid.progress import services
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


def quote_file(
    ctx: Context,
    ref: str,
    path: Path,
    *,
    kind: str = "firm",
    cost_share: float = 0.4,
    valid_days: int = 180,
    only: set[str] | None = None,
) -> Path:
    """A provider's answer: one quote per sourced site of the bid (by its routed provider),
    costing `cost_share` of the site's list price, valid for `valid_days`."""
    import csv

    from sqlmodel import Session

    from orchestrator.bid.facts import get_opportunity
    from orchestrator.commercial.pricing import site_line
    from orchestrator.commercial.quotes import catalogue_for, ordered_sites

    catalogue = catalogue_for(ctx.settings.rules_dir)
    valid_until = (ctx.clock().date() + timedelta(days=valid_days)).isoformat()
    with Session(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        sites = ordered_sites(session, opportunity.id or 0)
        rows = []
        for site in sites:
            provider = catalogue.providers.routed_provider(site.country, site.access)
            if provider is None or (only is not None and site.site_id not in only):
                continue
            price = site_line(opportunity, site, catalogue)
            rows.append(
                [
                    site.site_id,
                    provider,
                    kind,
                    round((price.list_monthly_eur or 100.0) * cost_share, 2),
                    round((price.list_one_off_eur or 100.0) * cost_share, 2),
                    "EUR",
                    valid_until,
                    f"{provider[:3].upper()}-{kind[0].upper()}-{site.site_id}",
                ]
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(QUOTE_HEADER)
        writer.writerows(rows)
    return path


def produce(
    ctx: Context,
    ref: str,
    *,
    cost_share: float = 0.4,
    by: str = PEOPLE["solution_consultant"],
    qrf_dir: Path | None = None,
    person: Callable[[Callable[[], object]], None] | None = None,
) -> None:
    """Bid production's work as people do it: QRFs sent, firm quotes in, the design frozen.
    `person` runs each command (the production stack's fault test runs one again when it
    met the database restarting)."""
    from orchestrator.bid.producing.production import freeze_design
    from orchestrator.bid.producing.quotes import import_quotes
    from orchestrator.bid.producing.sourcing import send_quote_requests

    run = person or (lambda command: command())
    answer = ctx.output_dir_for(ref) / f"quotes-firm-{cost_share:g}.csv"
    run(partial(send_quote_requests, ctx, ref, qrf_dir, actor=PEOPLE["sales_support"]))
    run(partial(quote_file, ctx, ref, answer, cost_share=cost_share))
    run(partial(import_quotes, ctx, ref, answer, actor=PEOPLE["sales_support"]))
    run(partial(order_details, ctx, ref))
    run(partial(freeze_design, ctx, ref, by=by))


def order_details(ctx: Context, ref: str) -> None:
    """What provisioning needs from the customer (legal and billing entity, purchase order),
    known here before the verdict so that a won bid's order sheet is clean."""
    from orchestrator.bid.opportunity.offer import set_order_details

    set_order_details(
        ctx,
        ref,
        by=PEOPLE["sales_support"],
        legal_entity="Acme Holding NV",
        billing_entity="Acme Services NV",
        purchase_order=f"PO-{ref}",
        contract_start=ctx.clock().date() + timedelta(days=90),
    )


def submit(ctx: Context, ref: str, by: str = PEOPLE["bid_manager"]) -> None:
    """The offer goes out after the last approval, as a person records it (bid submit)."""
    from orchestrator.bid.progress.submission import submit_offer

    submit_offer(ctx, ref, by=by, channel="portal", reference=f"portal receipt {ref}")


def carry_to_governance(ctx: Context, ref: str, decider: str = PEOPLE["bid_manager"]) -> None:
    """From intake to governance review: go/no-go, production's work, approvals requested."""
    from orchestrator.bid.progress import services

    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=decider, reason="fits")
    services.run_to_wait(ctx, ref)
    produce(ctx, ref)
    services.run_to_wait(ctx, ref)


def queue_render(ctx: Context, ref: str, key: str = "extra") -> None:
    """One more render of the bid due, as a move or a change queues one."""
    from orchestrator.bid.facts import get_opportunity
    from orchestrator.core.effects import EffectKind
    from orchestrator.store import effects
    from orchestrator.store.db import transaction

    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        effects.enqueue(
            session,
            key=f"render:{opportunity.id}:{key}",
            kind=EffectKind.RENDER,
            opportunity_id=opportunity.id,
            payload={"ref": ref},
            now=ctx.clock(),
        )


def record_statements(engine: Engine) -> list[str]:
    """Every SQL statement sent to the bid database from now on, in order (the statements
    of `reading` blocks too: on PostgreSQL they go through the reader beside the engine)."""
    from sqlalchemy import event

    from orchestrator.store.db import engines

    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    for each in engines(engine):
        event.listen(each, "before_cursor_execute", record)
    return seen
