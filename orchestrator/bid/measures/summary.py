"""What approvers see before they decide: the deal's value, margin against the floor,
quote coverage, discount, deviations, risks, the documents, and the version it binds to.

The same summary goes into every approval request (the Slack message is built from it at
delivery) and is shown by `bid approval show`; `areas` holds what each approver decides on
(`bid.approval_summary`), shown to each by area.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from orchestrator.bid.facts import account_of
from orchestrator.bid.measures.approval_summary import (
    ApprovalFacts,
    CustomerTerm,
    Redesign,
    area_views,
)
from orchestrator.bid.measures.deal import Deal, loss_making_lines
from orchestrator.context import Context
from orchestrator.store.models import Document, Opportunity, Requirement, Site

SUMMARY_DOCUMENTS = ("proposal", "control_plan", "submission_letter")
LOSS_LINES_SHOWN = 10
"""How many loss-making lines the approval summary lists (the total covers them all)."""


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}%"


def _money(amount: float, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def risks_of(deal: Deal, outputs: dict[str, Any]) -> list[str]:
    """What could go wrong with this deal, in words a bid manager would write."""
    risks: list[str] = []
    margin, floor = deal.margin.margin_pct, outputs.get("margin_floor_pct")
    coverage = deal.coverage
    if outputs.get("verdict") == "refused":
        risks.append(f"governance refuses the deal: {outputs.get('refusal')}")
    if margin is not None and floor is not None and margin < floor:
        risks.append(
            f"margin {_pct(margin)} is below the {_pct(float(floor))} floor: management must "
            "approve, finance alone cannot"
        )
    escalate = outputs.get("discount_escalation_pct")
    if escalate is not None and deal.priced.discount_pct > float(escalate):
        risks.append(
            f"discount {_pct(deal.priced.discount_pct)} against list is above the "
            f"{_pct(float(escalate))} escalation threshold"
        )
    if coverage.budgetary:
        risks.append(
            f"{coverage.budgetary:,} of {coverage.quoted:,} quoted sites are priced on budgetary "
            "quotes: costs may still move"
        )
    if coverage.expired:
        risks.append(f"{coverage.expired:,} quotes have expired (valid_until passed)")
    losing = loss_making_lines(deal)
    if losing:
        total = sum(line.loss for line in losing)
        shown = ", ".join(f"{line.site_id} ({line.loss:,.2f})" for line in losing[:5]) + (
            f" and {len(losing) - 5} more" if len(losing) > 5 else ""
        )
        risks.append(
            f"{len(losing):,} sites cost more than they sell for, losing {total:,.2f} EUR over "
            f"the contract: {shown} (bid pricing --site S --monthly X --reason ...)"
        )
    if coverage.fallback_sites:
        risks.append(
            f"{coverage.fallback_sites:,} sites are quoted by the fallback partner "
            f"({', '.join(coverage.fallback_countries)}): one more party in the delivery chain"
        )
    if coverage.unsourced:
        risks.append(f"{len(coverage.unsourced):,} sites have no provider")
    if deal.priced.unpriced:
        risks.append(f"{len(deal.priced.unpriced):,} lines have no price")
    return risks


def loss_summary(deal: Deal) -> dict[str, Any]:
    """The loss-making lines in short: how many, their total loss over the contract (EUR),
    and the largest ones with their loss, where `bid pricing --site` would help."""
    lines = loss_making_lines(deal)
    return {
        "count": len(lines),
        "total_loss_eur": round(sum(line.loss for line in lines), 2),
        "lines": [line.to_json() for line in lines[:LOSS_LINES_SHOWN]],
    }


def headline(summary: dict[str, Any]) -> str:
    """The summary in one line (the text of an approval message)."""
    value, margin, coverage = summary["value"], summary["margin"], summary["coverage"]
    currency = summary["currency"]
    floor = margin.get("floor_pct")
    parts = [
        f"value {_money(value['contract'], currency)} over {value['contract_months']} months",
        f"margin {_pct(margin['pct'])}" + (f" (floor {_pct(float(floor))})" if floor else ""),
        f"firm quotes {coverage['firm']:,} of {coverage['sites']:,} sites",
        f"discount {_pct(summary['discount_pct'])}",
    ]
    if summary["deviations"]:
        parts.append(f"{len(summary['deviations'])} deviation(s) from standard terms")
    if summary["risks"]:
        parts.append(f"{len(summary['risks'])} risk(s)")
    return "; ".join(parts)


def documents_of(session: Session, opportunity: Opportunity) -> list[dict[str, str]]:
    """The newest file of each document the approvers read."""
    rows = session.exec(
        select(Document)
        .where(Document.opportunity_id == opportunity.id)
        .where(col(Document.kind).in_(SUMMARY_DOCUMENTS))
        .order_by(col(Document.id).desc())
    ).all()
    newest: dict[str, Document] = {}
    for row in rows:
        newest.setdefault(row.kind, row)
    return [
        {"kind": kind, "path": newest[kind].path, "version": newest[kind].content_hash}
        for kind in SUMMARY_DOCUMENTS
        if kind in newest
    ]


def redesigns_of(session: Session, opportunity: Opportunity) -> tuple[Redesign, ...]:
    """The ordered sites built otherwise than the customer asked (`Site.asked`), read as
    plain columns (a big bid has thousands of sites, most built as asked)."""
    from sqlalchemy import select as columns

    fields = ("access", "bandwidth_mbps", "service", "sla_class", "interface", "resilience")
    rows = session.execute(
        columns(
            col(Site.site_id),
            col(Site.country),
            col(Site.asked),
            col(Site.redesign_reason),
            *(getattr(Site, name) for name in fields),
        ).where(col(Site.opportunity_id) == opportunity.id, col(Site.ordered).is_(True))
    ).all()
    redesigns = []
    for site_id, country, asked, reason, *values in rows:
        if not asked:
            continue
        designed = dict(zip(fields, values, strict=True))
        redesigns.append(
            Redesign(
                site_id=site_id,
                country=country,
                asked=dict(asked),
                designed={name: designed.get(name) for name in asked},
                reason=reason,
            )
        )
    return tuple(sorted(redesigns, key=lambda r: r.site_id))


def customer_terms_of(session: Session, opportunity: Opportunity) -> tuple[CustomerTerm, ...]:
    """The questionnaire's requirements legal owns (rules/rfp.yaml routes them), answered or not."""
    rows = session.exec(
        select(Requirement)
        .where(Requirement.opportunity_id == opportunity.id, Requirement.owner_role == "legal")
        .order_by(col(Requirement.position))
    ).all()
    return tuple(
        CustomerTerm(
            req_id=row.req_id,
            text=row.text,
            mandatory=row.mandatory,
            compliance=row.compliance.value if row.compliance else None,
            answered=bool(row.answer and row.answer.strip()),
        )
        for row in rows
    )


def approval_facts(session: Session, ctx: Context, opportunity: Opportunity) -> ApprovalFacts:
    """What the per-area views read beside the deal: the budget, the offer's validity, the
    redesigned sites, the customer's terms, the lead times of rules/delivery.yaml."""
    from datetime import timedelta

    from orchestrator.decisions.offer_rules import load_delivery, load_proposal_rules

    rules_dir = ctx.settings.rules_dir
    days = load_proposal_rules(rules_dir).validity_days
    budget = (opportunity.bants or {}).get("budget_eur")
    return ApprovalFacts(
        budget_eur=float(budget) if isinstance(budget, int | float) else None,
        offer_valid_until=opportunity.submission_deadline + timedelta(days=days),
        offer_validity_days=days,
        redesigns=redesigns_of(session, opportunity),
        customer_terms=customer_terms_of(session, opportunity),
        delivery=load_delivery(rules_dir),
        today=ctx.clock().date(),
    )


def build_summary(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    deal: Deal,
    outputs: dict[str, Any],
) -> dict[str, Any]:
    """The approval summary as plain data (kept in the outbox marker, printed as JSON)."""
    fx, priced = deal.priced.fx, deal.priced
    floor = outputs.get("margin_floor_pct")
    margin = deal.margin.margin_pct
    summary: dict[str, Any] = {
        "opportunity": opportunity.ref,
        "title": opportunity.title,
        "account": account_of(session, opportunity).name,
        "tier": deal.tier,
        "version": opportunity.proposal_hash,
        "round": opportunity.governance_round,
        "currency": fx.currency,
        "fx": {"rate_eur": fx.rate, "as_of": fx.as_of},
        "value": {
            "contract": fx.from_eur(priced.contract_value_eur),
            "monthly": fx.from_eur(priced.monthly_eur),
            "one_off": fx.from_eur(priced.one_off_eur),
            "contract_eur": priced.contract_value_eur,
            "contract_months": priced.contract_months,
            "lines": len(priced.lines),
        },
        "margin": {
            "pct": margin,
            "floor_pct": floor,
            "below_floor": margin is not None and floor is not None and margin < float(floor),
            "cost_eur": deal.margin.quoted_cost_eur,
        },
        "coverage": deal.coverage.to_json(),
        "discount_pct": priced.discount_pct,
        "deviations": list(deal.deviations),
        "risks": risks_of(deal, outputs),
        "loss_making": loss_summary(deal),
        "documents": documents_of(session, opportunity),
        "required": list(outputs.get("required", [])),
        "reasons": dict(outputs.get("reasons", {})),
        "verdict": outputs.get("verdict", "review"),
        "areas": area_views(deal, approval_facts(session, ctx, opportunity)),
    }
    summary["headline"] = headline(summary)
    return summary
