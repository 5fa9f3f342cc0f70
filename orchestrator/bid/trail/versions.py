"""Bid versions: the priced deal frozen with a number, and kept as it was sent.

A version is a snapshot of plain values — the sites, the quotes with the site specification
each priced, every priced line, the terms, the deviations and the answers to the customer's
questionnaire — hashed; the same content is the same version. A new one is recorded (in the
caller's transaction) when that content changed: a design freeze, the governance request,
the submission, a best-and-final offer's revised deal, a MACD after the win, documents
rendered again after a change. Approvals name the version they were asked for; the version
that goes to the customer is marked submitted and its files live in its own folder
(`v<N>/`), never written again: a later change makes the next version beside it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.bid.measures.deal import Deal, load_deal
from orchestrator.bid.trail.recording import audit
from orchestrator.commercial.quotes import site_spec
from orchestrator.context import Context
from orchestrator.lifecycle.table import State
from orchestrator.ports import DealVersion, ProducedDocuments
from orchestrator.store.models import BidVersion, Document, Opportunity, Requirement

VERSION_STATES = frozenset(
    {
        State.BID_PRODUCTION,
        State.GOVERNANCE_REVIEW,
        State.SUBMISSION,
        State.CUSTOMER_DECISION,
        State.CONTRACT_PREPARATION,
        State.CONTRACTED,
    }
)
"""Where a bid has a priced deal its documents render from (bid production on)."""
VERSION_RECORDED = "version_recorded"
VERSION_SUBMITTED = "version_submitted"


def snapshot_of(session: Session, opportunity: Opportunity, deal: Deal) -> dict[str, Any]:
    """The version's content as plain JSON values (no ids, no dates of today)."""
    specs = {site.site_id: site_spec(site) for site in deal.sites}
    answers = session.exec(
        select(Requirement.req_id, Requirement.compliance, Requirement.answer)
        .where(Requirement.opportunity_id == opportunity.id)
        .order_by(col(Requirement.position))
    ).all()
    priced = deal.priced
    return {
        "ref": opportunity.ref,
        "currency": deal.currency,
        "fx": {"rate": priced.fx.rate, "as_of": priced.fx.as_of},
        "contract_months": priced.contract_months,
        "sites": [
            {
                "site_id": site.site_id,
                "name": site.name,
                **specs[site.site_id],
                "requested_install_date": site.requested_install_date,
                # an offered alternative: what the customer asked
                **(
                    {"asked": f"{site.asked_access} {site.asked_bandwidth_mbps}"}
                    if site.asked_access
                    else {}
                ),
            }
            for site in deal.sites
        ],
        "quotes": [
            {
                "site_id": quote.site_id,
                "provider": quote.provider,
                "kind": quote.kind.value,
                "monthly_cost": quote.monthly_cost,
                "one_off_cost": quote.one_off_cost,
                "currency": quote.currency,
                "valid_until": quote.valid_until,
                "delivery_days": quote.delivery_days,
                "provider_reference": quote.provider_reference,
                "spec": specs.get(quote.site_id),
            }
            for quote in sorted(deal.quotes.values(), key=lambda q: q.site_id)
        ],
        "lines": [
            {
                "kind": line.kind,
                "service": line.service,
                "site_id": line.site_id,
                "monthly_eur": line.monthly_eur,
                "one_off_eur": line.one_off_eur,
                "source": line.source,
            }
            for line in priced.lines
        ],
        "totals": {
            "monthly_eur": priced.monthly_eur,
            "one_off_eur": priced.one_off_eur,
            "contract_value_eur": priced.contract_value_eur,
            "discount_pct": priced.discount_pct,
            "margin_pct": deal.margin.margin_pct,
        },
        "pricing": dict(opportunity.pricing or {}),
        "terms": {"deviations": list(deal.deviations), "services": sorted(opportunity.services)},
        "offer": {
            "title": opportunity.title,
            "service_strategy": opportunity.service_strategy,
            "win_themes": list(opportunity.win_themes),
            "incumbent": opportunity.incumbent,
        },
        "answers": [
            {"id": req_id, "compliance": str(compliance) if compliance else None, "answer": text}
            for req_id, compliance, text in answers
        ],
        "fingerprint": deal.fingerprint,
    }


def _canonical(snapshot: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The snapshot as stored (JSON round-trip: dates as ISO strings) and its SHA-256."""
    text = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), default=str)
    return json.loads(text), hashlib.sha256(text.encode()).hexdigest()


def latest_version(session: Session, opportunity: Opportunity) -> BidVersion | None:
    return session.exec(
        select(BidVersion)
        .where(BidVersion.opportunity_id == opportunity.id)
        .order_by(col(BidVersion.number).desc())
    ).first()


def submitted_version(session: Session, opportunity: Opportunity) -> BidVersion | None:
    """The version the customer holds: the last one submitted."""
    return session.exec(
        select(BidVersion)
        .where(BidVersion.opportunity_id == opportunity.id)
        .where(col(BidVersion.submitted_at).is_not(None))
        .order_by(col(BidVersion.number).desc())
    ).first()


def first_submitted_on(session: Session, opportunity: Opportunity) -> date | None:
    """The day the offer first went to the customer (None before the submission)."""
    first = session.exec(
        select(BidVersion)
        .where(BidVersion.opportunity_id == opportunity.id)
        .where(col(BidVersion.submitted_at).is_not(None))
        .order_by(col(BidVersion.number))
    ).first()
    return first.submitted_at.date() if first is not None and first.submitted_at else None


def rendering_version(
    session: Session, ctx: Context, opportunity: Opportunity
) -> DealVersion | None:
    """The version a render reads, from bid production on; None before (nothing priced)."""
    if opportunity.state not in VERSION_STATES:
        return None
    return version_view(session, ctx, opportunity)


def version_view(
    session: Session, ctx: Context, opportunity: Opportunity, deal: Deal | None = None
) -> DealVersion:
    """The version documents render from now: the latest recorded one when the deal is still
    its content, else the next number (a draft, dated today) with the deal as it stands.
    The deal is priced here once and handed to the renderer."""
    from orchestrator.bid.measures.approval_summary import area_views
    from orchestrator.bid.measures.summary import approval_facts

    deal = deal or load_deal(session, ctx, opportunity)
    _, digest = _canonical(snapshot_of(session, opportunity, deal))
    latest = latest_version(session, opportunity)
    approvals = area_views(deal, approval_facts(session, ctx, opportunity))
    if latest is not None and latest.content_hash == digest:
        return DealVersion(
            latest.number,
            latest.created_at.date(),
            deal,
            recorded=True,
            submitted=latest.submitted_at is not None,
            submitted_on=latest.submitted_at.date() if latest.submitted_at else None,
            approvals=approvals,
        )
    number = (latest.number if latest is not None else 0) + 1
    return DealVersion(number, ctx.clock().date(), deal, recorded=False, approvals=approvals)


def record_version(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    *,
    reason: str,
    actor: str,
    deal: Deal | None = None,
    proposal_hash: str | None = None,
) -> BidVersion:
    """The version of the deal as it stands, recorded in the caller's transaction when its
    content is new (with a `version_recorded` event); the latest one when it is the same.

    A version not yet submitted takes the proposal hash rendered from it; a submitted one
    keeps the hash of what was sent.
    """
    deal = deal or load_deal(session, ctx, opportunity)
    snapshot, digest = _canonical(snapshot_of(session, opportunity, deal))
    latest = latest_version(session, opportunity)
    if latest is not None and latest.content_hash == digest:
        if proposal_hash and latest.submitted_at is None and latest.proposal_hash != proposal_hash:
            latest.proposal_hash = proposal_hash
            session.add(latest)
        return latest
    version = BidVersion(
        opportunity_id=opportunity.id or 0,
        number=(latest.number if latest is not None else 0) + 1,
        reason=reason,
        created_by=actor,
        created_at=ctx.clock(),
        content_hash=digest,
        snapshot=snapshot,
        proposal_hash=proposal_hash,
    )
    session.add(version)
    session.flush()
    audit(
        session,
        ctx,
        opportunity,
        VERSION_RECORDED,
        actor=actor,
        reason=reason,
        inputs={
            "version": version.number,
            "content_hash": digest,
            "fingerprint": deal.fingerprint,
            "contract_value_eur": deal.priced.contract_value_eur,
            "margin_pct": deal.margin.margin_pct,
        },
    )
    return version


VERSION_KINDS = frozenset(
    {"proposal", "pricing_schedule", "compliance_matrix", "submission_letter"}
)
"""The documents rendered from a version (and their PDFs); QRFs and the plan are not."""


def attach_documents(
    session: Session, opportunity: Opportunity, version: BidVersion, produced: ProducedDocuments
) -> int:
    """The Document rows of `produced` rendered from a version (the proposal, its annex, the
    submission letter) that belong to no version yet are this version's."""
    keys = {
        (d.kind, d.name, d.content_hash)
        for d in produced.documents
        if d.kind.removesuffix("_pdf") in VERSION_KINDS
    }
    attached = 0
    for row in session.exec(
        select(Document).where(
            Document.opportunity_id == opportunity.id, col(Document.version_id).is_(None)
        )
    ).all():
        if (row.kind, row.name, row.content_hash) in keys:
            row.version_id = version.id
            session.add(row)
            attached += 1
    return attached


def submit_version(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    produced: ProducedDocuments,
    *,
    actor: str,
    at: datetime | None = None,
) -> BidVersion:
    """The version whose files `produced` holds went to the customer (at `at`, default now):
    recorded if new, marked submitted (once), its files attached to it."""
    version = record_version(
        session,
        ctx,
        opportunity,
        reason="submission",
        actor=actor,
        proposal_hash=produced.proposal_hash,
    )
    if version.submitted_at is None:
        version.submitted_at = at or ctx.clock()
        session.add(version)
        audit(
            session,
            ctx,
            opportunity,
            VERSION_SUBMITTED,
            actor=actor,
            reason=f"version {version.number} sent to the customer",
            inputs={
                "version": version.number,
                "proposal_hash": version.proposal_hash,
                "files": sorted(d.location for d in produced.documents),
            },
        )
    attach_documents(session, opportunity, version, produced)
    return version


def version_json(version: BidVersion | None) -> dict[str, Any] | None:
    """A version as the doors show it (status, history, the API)."""
    if version is None:
        return None
    return {
        "number": version.number,
        "reason": version.reason,
        "created_by": version.created_by,
        "created_at": version.created_at.isoformat(),
        "content_hash": version.content_hash,
        "proposal_hash": version.proposal_hash,
        "submitted_at": version.submitted_at.isoformat() if version.submitted_at else None,
        "contract_value_eur": version.snapshot.get("totals", {}).get("contract_value_eur"),
    }
