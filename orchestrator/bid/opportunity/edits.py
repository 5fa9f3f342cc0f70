"""Edits to a bid with an audit trail: its sites by delta, its deadline, contract term,
currency and RFP addenda.

What an edit does in the bid's phase comes from `rules/changes.yaml` (`bid.changes`): allowed
and recorded, the design unfrozen, approvals asked again, or refused. A site edit that changes
a price or a cost is a `sites` change; a correction that changes none (name, street, postcode,
city, contact) is `site_details` — the corrections an order sheet needs after a win. A new
deadline moves the Bid Control Plan's milestones with it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.bid.facts import StepResult, get_opportunity
from orchestrator.bid.measures import planning
from orchestrator.bid.measures.deal import load_deal
from orchestrator.bid.measures.intake_tasks import (
    SITE_EXCEPTION,
    close_exception_tasks,
    open_exception_tasks,
)
from orchestrator.bid.opportunity.onboarding import site_row_of
from orchestrator.bid.producing.changes import Change, ChangeOutcome, apply_change, check_allowed
from orchestrator.bid.team.people import check_actor
from orchestrator.bid.trail.recording import audit, carry_on, record_documents, refusals_kept
from orchestrator.commercial.orders import PRICE_FIELDS, find_site, next_order_line
from orchestrator.commercial.quotes import catalogue_for
from orchestrator.context import Context
from orchestrator.errors import ChangeRefused, InputError
from orchestrator.intake.files import MAX_CSV_BYTES
from orchestrator.intake.findings import Finding
from orchestrator.intake.limits import free_text
from orchestrator.intake.opportunity import MAX_YEARS_AHEAD, SiteSpec
from orchestrator.intake.site_changes import SITE_FIELDS
from orchestrator.lifecycle.table import State
from orchestrator.ports import ProducedDocuments, RenderedDocument
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import Milestone, MilestoneStatus, Opportunity, Site

MAX_ADDENDUM_BYTES = MAX_CSV_BYTES
KICK_OFF_STAGE = "kick_off"
"""The Bid Control Plan's milestones back-planned from the submission deadline."""


# --- the plan moves with the deadline ---------------------------------------------------------


def replan(session: Session, ctx: Context, opportunity: Opportunity) -> list[dict[str, str]]:
    """Move the open milestones planned from the submission deadline to where the plan puts
    them now; return what moved (name, from, to)."""
    rules, _ = planning.load_milestone_rules(ctx.settings.rules_dir)
    planned = {
        item.name: item.due_at
        for item in planning.plan(
            rules,
            KICK_OFF_STAGE,
            submission_deadline=opportunity.submission_deadline,
            anchor_time=ctx.clock(),
            country=planning.home_country(ctx),
        )
    }
    moved: list[dict[str, str]] = []
    for milestone in session.exec(
        select(Milestone)
        .where(Milestone.opportunity_id == opportunity.id, col(Milestone.name).in_(planned))
        .order_by(col(Milestone.id))
    ).all():
        due = planned[milestone.name]
        if milestone.status != MilestoneStatus.OPEN or _same_time(milestone.due_at, due):
            continue
        moved.append({"name": milestone.name, "from": _iso(milestone.due_at), "to": _iso(due)})
        milestone.due_at = due
        session.add(milestone)
    return moved


def _same_time(a: datetime, b: datetime) -> bool:
    return a.replace(tzinfo=None) == b.replace(tzinfo=None)


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="minutes")


def reopen_milestones(
    session: Session, ctx: Context, opportunity: Opportunity, names: tuple[str, ...]
) -> None:
    """Milestones a bid goes through again (a best-and-final offer): open once more."""
    for milestone in session.exec(
        select(Milestone).where(
            Milestone.opportunity_id == opportunity.id, col(Milestone.name).in_(names)
        )
    ).all():
        if milestone.status == MilestoneStatus.DONE:
            milestone.status, milestone.completed_at = MilestoneStatus.OPEN, None
            session.add(milestone)


# --- sites by delta ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteDelta:
    """What a sites file asks: sites added, sites changed (as they become), sites removed."""

    file: str
    added: list[SiteSpec] = field(default_factory=list)
    updated: list[tuple[SiteSpec, tuple[str, ...]]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    exceptions: list[Finding] = field(default_factory=list)
    """Sites added or changed that a person must decide on (design tasks)."""
    reason: str | None = None
    """Why changed sites differ from what the customer asked (kept on each redesigned site)."""

    @property
    def price_changing(self) -> bool:
        return bool(self.added or self.removed) or any(
            PRICE_FIELDS & set(changed) for _, changed in self.updated
        )

    @property
    def count(self) -> int:
        return len(self.added) + len(self.updated) + len(self.removed)

    def describe(self) -> str:
        parts = []
        if self.added:
            parts.append(f"{len(self.added)} site(s) added")
        if self.updated:
            fields = sorted({f for _, changed in self.updated for f in changed})
            parts.append(f"{len(self.updated)} site(s) changed ({', '.join(fields)})")
        if self.removed:
            parts.append(f"{len(self.removed)} site(s) removed")
        return "; ".join(parts) + f" from {Path(self.file).name}"


@dataclass(frozen=True)
class EditResult:
    ref: str
    state: State
    message: str
    outcome: ChangeOutcome | None = None
    warnings: tuple[str, ...] = ()


def current_sites(ctx: Context, ref: str) -> dict[str, SiteSpec]:
    """The bid's ordered sites as the intake reads them (what an update file changes)."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        rows = session.exec(
            select(Site).where(Site.opportunity_id == opportunity.id, Site.ordered == True)  # noqa: E712
        ).all()
        return {row.site_id: _spec_of(row) for row in rows}


def _spec_of(site: Site) -> SiteSpec:
    return SiteSpec(
        site_id=site.site_id,
        **{name: getattr(site, name) for name in SITE_FIELDS},
    )


def _margin(session: Session, ctx: Context, opportunity: Opportunity) -> float | None:
    return load_deal(session, ctx, opportunity).margin.margin_pct


def change_sites(ctx: Context, ref: str, delta: SiteDelta, *, actor: str) -> EditResult:
    """Apply a delta of sites in one transaction, as rules/changes.yaml says for the bid's
    phase; a refusal or a site that changed meanwhile leaves the bid untouched."""
    if not delta.count:
        raise InputError("the file changes nothing", file=delta.file)
    kind = "sites" if delta.price_changing else "site_details"
    trigger = "sites_changed"
    with refusals_kept(ctx, ref, trigger, actor), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, actor)
        if opportunity.state == State.CONTRACTED:
            raise ChangeRefused(
                f"{opportunity.ref} is contracted: its sites change through MACDs (bid macd "
                f"{opportunity.ref} --site ID --kind move|add|change|delete)"
            )
        check_allowed(ctx, opportunity, kind)
        before = _margin(session, ctx, opportunity) if kind == "sites" else None
        history = _write_delta(session, opportunity, delta)
        session.flush()
        # a changed site's ask is judged again: what no longer asks too much is resolved
        flagged = {f.site_id for f in delta.exceptions}
        settled = {s.site_id for s, _ in delta.updated} - flagged
        close_exception_tasks(session, ctx, opportunity, SITE_EXCEPTION, settled)
        close_exception_tasks(
            session, ctx, opportunity, SITE_EXCEPTION, set(delta.removed), cancel=True
        )
        opened = open_exception_tasks(session, ctx, opportunity, SITE_EXCEPTION, delta.exceptions)
        after = _margin(session, ctx, opportunity) if kind == "sites" else None
        digest = hashlib.sha256(json.dumps(history, sort_keys=True, default=str).encode())
        outcome = apply_change(
            session,
            ctx,
            opportunity,
            Change(
                kind=kind,
                what=delta.describe(),
                key=digest.hexdigest()[:16],
                lines_changed=delta.count,
                margin_before=before,
                margin_after=after,
            ),
            actor=actor,
        )
        audit(
            session,
            ctx,
            opportunity,
            trigger,
            actor=actor,
            reason=delta.describe(),
            inputs={
                "file": delta.file,
                "change": kind,
                "sites": history,
                "warnings": delta.warnings,
                "exceptions": opened,
                **outcome.to_json(),
            },
        )
        if opportunity.state == State.CONTRACT_PREPARATION:  # the order sheet, the signing
            carry_on(
                session, ctx, opportunity, actor=actor, cause=f"sites:{digest.hexdigest()[:16]}"
            )
        return EditResult(
            opportunity.ref,
            opportunity.state,
            f"{delta.describe()}: {_consequence(outcome)}",
            outcome,
            tuple(delta.warnings),
        )


def _consequence(outcome: ChangeOutcome) -> str:
    if outcome.sent_back:
        return "the bid went back to bid production"
    if outcome.requested or outcome.invalidated:
        return f"approval asked again: {', '.join(outcome.requested) or 'the changed areas'}"
    if outcome.thawed:
        return "recorded; the solution design is no longer frozen (bid freeze)"
    return "recorded"


def _write_delta(
    session: Session, opportunity: Opportunity, delta: SiteDelta
) -> list[dict[str, Any]]:
    """Write the delta; what each site was and became, for the audit event."""
    history: list[dict[str, Any]] = []
    line = next_order_line(session, opportunity.id or 0)
    for spec in delta.added:
        site = find_site(session, opportunity, spec.site_id)
        if site is not None and site.ordered:
            raise InputError(
                f"site '{spec.site_id}' is already on {opportunity.ref}",
                file=delta.file,
                field="site_id",
            )
        if site is None:
            site = site_row_of(opportunity, spec, line)
            line += 1
        else:  # a site removed earlier comes back under its old order line
            for name in SITE_FIELDS:
                setattr(site, name, getattr(spec, name))
            site.ordered = True
        session.add(site)
        history.append({"site_id": spec.site_id, "added": _fields(site)})
    reason = free_text(delta.reason, "reason") if delta.reason and delta.reason.strip() else None
    for spec, changed in delta.updated:
        site = _ordered(session, opportunity, spec.site_id, delta.file)
        was = {name: _plain(getattr(site, name)) for name in changed}
        for name in changed:
            setattr(site, name, getattr(spec, name))
        _keep_the_ask(site, was, reason)
        session.add(site)
        history.append(
            {
                "site_id": spec.site_id,
                "from": was,
                "to": {n: _plain(getattr(site, n)) for n in changed},
            }
        )
    for site_id in delta.removed:
        site = _ordered(session, opportunity, site_id, delta.file)
        site.ordered = False
        session.add(site)
        history.append({"site_id": site_id, "removed": True})
    return history


DESIGN_FIELDS = ("access", "bandwidth_mbps", "service", "sla_class", "interface", "resilience")
"""The fields that make a site's design (what the customer asked, what we build)."""


def _keep_the_ask(site: Site, was: dict[str, Any], reason: str | None) -> None:
    """Keep the customer's value of each design field the first time we change it; a field
    changed back to the ask is built as asked again. The reason stays with the redesign."""
    asked = dict(site.asked or {})
    for name, value in was.items():
        if name in DESIGN_FIELDS and name not in asked:
            asked[name] = value
    asked = {k: v for k, v in asked.items() if _plain(getattr(site, k)) != v}
    site.asked = asked
    if not asked:
        site.redesign_reason = None
    elif reason is not None:
        site.redesign_reason = reason


def _ordered(session: Session, opportunity: Opportunity, site_id: str, file: str) -> Site:
    site = find_site(session, opportunity, site_id)
    if site is None or not site.ordered:
        raise InputError(f"no site '{site_id}' on {opportunity.ref}", file=file, field="site_id")
    return site


def _plain(value: Any) -> Any:
    """A site's value as the trail keeps it (JSON): dates as ISO text."""
    return value.isoformat() if isinstance(value, date) else value


def _fields(site: Site) -> dict[str, Any]:
    return {name: _plain(getattr(site, name)) for name in SITE_FIELDS}


# --- the opportunity: deadline, contract term, currency, addenda -----------------------------


def _addendum(ctx: Context, ref: str, path: Path) -> ProducedDocuments:
    """Keep the addendum file with the bid's documents (published like them), by content."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the addendum: {exc.strerror}", file=str(path)) from None
    if not data:
        raise InputError("the addendum is empty", file=str(path))
    if len(data) > MAX_ADDENDUM_BYTES:
        raise InputError(f"larger than {MAX_ADDENDUM_BYTES:,} bytes", file=str(path))
    digest = hashlib.sha256(data).hexdigest()
    folder = ctx.output_dir_for(ref) / "addenda"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{digest[:12]}-{path.name}"
    if not target.exists():
        shutil.copyfile(path, target)
    document = RenderedDocument("rfp_addendum", f"addendum-{path.name}", target, digest)
    return ctx.store.publish(ref, ProducedDocuments([document]))


def update_opportunity(
    ctx: Context,
    ref: str,
    *,
    reason: str,
    by: str,
    deadline: date | None = None,
    contract_months: int | None = None,
    currency: str | None = None,
    addendum: Path | None = None,
    incumbent: bool | None = None,
) -> EditResult:
    """Change what the customer changed: the submission deadline (the plan moves), the
    contract term or the currency (a price change: the margin is judged again), an RFP
    addendum kept with the bid's documents, whether we hold the contract today (the
    proposal's transition wording follows; ruled like a date change). Every change needs a
    reason."""
    if not reason or not reason.strip():
        raise InputError("an update needs a reason (--reason)", field="reason")
    reason = free_text(reason, "reason", newlines=True)
    if (deadline, contract_months, currency, addendum, incumbent) == (None,) * 5:
        raise InputError(
            "give --deadline, --contract-months, --currency, --addendum or "
            "--incumbent/--challenger",
            field="update",
        )
    today = ctx.clock().date()
    if deadline is not None and deadline < today:
        raise InputError(f"{deadline.isoformat()} is in the past", field="deadline")
    if deadline is not None and deadline.year > today.year + MAX_YEARS_AHEAD:
        raise InputError(f"{deadline.isoformat()} is too far ahead", field="deadline")
    if contract_months is not None and not 1 <= contract_months <= 120:
        raise InputError("must be a whole number of months from 1 to 120", field="contract_months")
    catalogue = catalogue_for(ctx.settings.rules_dir)
    if currency is not None:
        currency = currency.strip().upper()
        if currency not in catalogue.fx.rates:
            raise InputError(
                f"'{currency}' has no exchange rate in rules/fx_rates.yaml", field="currency"
            )
    with reading(ctx.engine) as session:  # refused before the file is copied anywhere
        opportunity = get_opportunity(session, ref)
        if deadline is not None or addendum is not None or incumbent is not None:
            check_allowed(ctx, opportunity, "dates")
        if contract_months is not None or currency is not None:
            check_allowed(ctx, opportunity, "prices")
        canonical = opportunity.ref
    produced = _addendum(ctx, canonical, addendum) if addendum is not None else None
    with refusals_kept(ctx, ref, "opportunity_updated", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        changed: dict[str, Any] = {}
        outcomes: list[ChangeOutcome] = []
        key = hashlib.sha256(
            json.dumps(
                [ref, reason, str(deadline), contract_months, currency, str(addendum)]
                + ([incumbent] if incumbent is not None else [])
            ).encode()
        ).hexdigest()[:16]
        if deadline is not None or produced is not None or incumbent is not None:
            if incumbent is not None and incumbent != opportunity.incumbent:
                changed["incumbent"] = [opportunity.incumbent, incumbent]
                opportunity.incumbent = incumbent
                session.add(opportunity)
            if deadline is not None and deadline != opportunity.submission_deadline:
                changed["submission_deadline"] = [
                    opportunity.submission_deadline.isoformat(),
                    deadline.isoformat(),
                ]
                opportunity.submission_deadline = deadline
                session.add(opportunity)
                changed["milestones_moved"] = replan(session, ctx, opportunity)
            if produced is not None and record_documents(session, opportunity, produced):
                changed["addendum"] = produced.documents[0].location
            if changed:
                outcomes.append(
                    apply_change(
                        session,
                        ctx,
                        opportunity,
                        Change(kind="dates", what=f"RFP update: {reason}", key=f"{key}-dates"),
                        actor=by,
                    )
                )
        if contract_months is not None or currency is not None:
            before = _margin(session, ctx, opportunity)
            if contract_months is not None and contract_months != opportunity.contract_months:
                changed["contract_months"] = [opportunity.contract_months, contract_months]
                opportunity.contract_months = contract_months
            if currency is not None and currency != opportunity.currency:
                changed["currency"] = [opportunity.currency, currency]
                opportunity.currency = currency
                opportunity.fx_rate = catalogue.fx.rates[currency]
                opportunity.fx_as_of = catalogue.fx.as_of
            session.add(opportunity)
            session.flush()
            if {"contract_months", "currency"} & set(changed):
                outcomes.append(
                    apply_change(
                        session,
                        ctx,
                        opportunity,
                        Change(
                            kind="prices",
                            what=f"contract terms: {reason}",
                            key=f"{key}-prices",
                            margin_before=before,
                            margin_after=_margin(session, ctx, opportunity),
                        ),
                        actor=by,
                    )
                )
        if not changed:
            raise InputError("nothing to change: the bid already has these values", field="update")
        audit(
            session,
            ctx,
            opportunity,
            "opportunity_updated",
            actor=by,
            reason=reason,
            inputs={"changed": changed, "change_rules": [o.rule for o in outcomes]},
        )
        summary = ", ".join(k for k in changed if k != "milestones_moved")
        moved = len(changed.get("milestones_moved", []))
        message = f"{summary} updated" + (f"; {moved} milestone(s) moved" if moved else "")
        return EditResult(
            opportunity.ref, opportunity.state, message, outcomes[-1] if outcomes else None
        )


def result_of(edit: EditResult) -> StepResult:
    return StepResult(edit.ref, edit.state, edit.state, edit.message)
