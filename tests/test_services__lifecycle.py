"""A bid carried through the services: states, audit trail, refusals, atomicity."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, func, select

from orchestrator.bid.progress import services
from orchestrator.bid.progress.steps import Render
from orchestrator.context import Context
from orchestrator.errors import ApprovalError, ChangeRefused, DecisionRefused, TransitionRefused
from orchestrator.lifecycle.table import State
from orchestrator.store.db import transaction
from orchestrator.store.models import (
    Approval,
    AuditEvent,
    DecisionRecord,
    Document,
    Milestone,
    Opportunity,
    OutboxMessage,
)
from tests import factories
from tests.conftest import FixedClock, RecordingDocuments
from tests.factories import (
    APPROVERS,
    PEOPLE,
    WON_TRAIL,
    grant_all,
    new_bid,
    submit,
    transitions,
)


def _state(ctx: Context, ref: str) -> str:
    with transaction(ctx.engine) as session:
        return services.get_opportunity(session, ref).state


def carry_to_governance(ctx: Context) -> str:
    ref = new_bid(ctx)
    factories.carry_to_governance(ctx, ref)
    assert _state(ctx, ref) == "governance_review"
    return ref


def test_full_lifecycle_with_one_audit_event_per_transition(
    ctx: Context, documents: RecordingDocuments
) -> None:
    ref = carry_to_governance(ctx)
    grant_all(ctx, ref)
    services.run_to_wait(ctx, ref)
    assert _state(ctx, ref) == "submission"  # waits for a person to send the offer
    submit(ctx, ref)
    assert _state(ctx, ref) == "customer_decision"
    services.record_result(ctx, ref, won=True, reason="best offer", by=PEOPLE["bid_manager"])
    services.run_to_wait(ctx, ref)
    assert _state(ctx, ref) == "contracted"
    assert transitions(ctx) == WON_TRAIL
    assert [c[0] for c in documents.calls] == [
        "quote_requests",
        "bid_documents",
        "submission_package",
        "order_sheet",
    ]
    with Session(ctx.engine) as session:
        tables = [
            r.table_name
            for r in session.exec(select(DecisionRecord).order_by(col(DecisionRecord.id))).all()
        ]
        assert tables[:2] == ["bants", "go_no_go"]
        assert "governance" in tables
        decided = session.exec(
            select(DecisionRecord).where(DecisionRecord.human_outcome == "bid")
        ).one()
        assert decided.reason == "fits"
        opportunity = session.get(Opportunity, 1)
        assert opportunity is not None and opportunity.version == 8
        assert session.exec(select(func.count()).select_from(OutboxMessage)).one() > 0


def test_advance_again_on_a_closed_bid_changes_nothing(ctx: Context) -> None:
    ref = new_bid(ctx)
    services.withdraw(
        ctx, ref, reason="customer cancelled the RFP", category="timing", by="am@example.com"
    )
    before = transitions(ctx)
    result = services.advance(ctx, ref)
    assert not result.moved and "closed" in result.message
    assert transitions(ctx) == before


def test_top_account_kick_off_needs_bid_manager_and_consultant(ctx: Context) -> None:
    team = {k: v for k, v in PEOPLE.items() if k not in {"solution_consultant"}}
    ref = new_bid(ctx, team=team)
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="go")
    with pytest.raises(TransitionRefused) as refused:
        services.advance(ctx, ref)
    assert refused.value.guard == "bid_team_assigned"
    assert "solution consultant" in str(refused.value)
    assert _state(ctx, ref) == "kick_off"


def test_refused_transition_changes_nothing(ctx: Context) -> None:
    ref = new_bid(ctx, bants=None)
    with pytest.raises(TransitionRefused) as refused:
        services.advance(ctx, ref)
    assert refused.value.guard == "bants_complete"
    assert _state(ctx, ref) == "pre_qualification"
    assert transitions(ctx) == [(None, "pre_qualification", "create")]


def test_only_deciders_may_take_the_go_no_go(ctx: Context) -> None:
    ref = new_bid(ctx)
    services.run_to_wait(ctx, ref)
    with pytest.raises(DecisionRefused, match="may not take the go/no-go"):
        services.decide(ctx, ref, outcome="bid", by=PEOPLE["sales_support"], reason="I like it")
    assert _state(ctx, ref) == "qualification"
    with Session(ctx.engine) as session:
        refusal = session.exec(
            select(AuditEvent).where(AuditEvent.trigger == "decide_refused")
        ).one()
        assert refusal.actor == PEOPLE["sales_support"]
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["management"], reason="go")
    assert _state(ctx, ref) == "kick_off"


def test_hard_no_bid_cannot_be_overridden(ctx: Context, clock: FixedClock) -> None:
    ref = new_bid(ctx)
    services.run_to_wait(ctx, ref)
    clock.advance(days=41)  # the submission deadline has passed
    with pytest.raises(DecisionRefused, match="forbids overriding"):
        services.decide(ctx, ref, outcome="bid", by=PEOPLE["management"], reason="anyway")
    services.decide(
        ctx, ref, outcome="no_bid", by=PEOPLE["management"], reason="too late", category="timing"
    )
    assert _state(ctx, ref) == "no_bid"


def test_redefine_strategy_loops_back_after_rework(ctx: Context) -> None:
    ref = new_bid(ctx)
    services.run_to_wait(ctx, ref)
    services.decide(
        ctx, ref, outcome="redefine_strategy", by=PEOPLE["bid_manager"], reason="price too high"
    )
    assert _state(ctx, ref) == "strategy_rework"
    with pytest.raises(TransitionRefused, match="strategy_reworked"):
        services.advance(ctx, ref)
    services.set_strategy(ctx, ref, text="lead with SLA, not price", by=PEOPLE["bid_manager"])
    services.advance(ctx, ref)
    assert _state(ctx, ref) == "qualification"


def test_governance_rejection_returns_to_bid_production(ctx: Context) -> None:
    ref = carry_to_governance(ctx)
    with pytest.raises(ApprovalError, match="may not decide the legal approval"):
        services.approve(ctx, ref, area="legal", by=PEOPLE["finance"])
    services.approve(ctx, ref, area="technical", by=APPROVERS["technical"])
    services.approve(
        ctx, ref, area="legal", by=APPROVERS["legal"], reject=True, reason="liability cap"
    )
    assert _state(ctx, ref) == "bid_production"
    with Session(ctx.engine) as session:
        statuses = sorted(a.status for a in session.exec(select(Approval)).all())
    assert "rejected" in statuses and "requested" not in statuses


def test_submission_needs_every_approval_on_the_current_proposal(ctx: Context) -> None:
    ref = carry_to_governance(ctx)
    with transaction(ctx.engine) as session:
        opportunity = services.get_opportunity(session, ref)
        areas = [a.area for a in services.current_approvals(session, opportunity)]
        version = opportunity.proposal_hash
    assert {"technical", "financial", "legal"} <= set(areas)
    for area in areas[:-1]:
        services.approve(ctx, ref, area=area, by=APPROVERS[area], proposal_hash=version)
    result = services.advance(ctx, ref)
    assert not result.moved and areas[-1] in result.message
    with pytest.raises(ApprovalError, match="outdated proposal"):
        services.approve(ctx, ref, area=areas[-1], by=APPROVERS[areas[-1]], proposal_hash="0" * 64)
    services.approve(ctx, ref, area=areas[-1], by=APPROVERS[areas[-1]], proposal_hash=version)
    again = services.approve(
        ctx, ref, area=areas[-1], by=APPROVERS[areas[-1]], proposal_hash=version
    )
    assert "already" in again.message
    services.advance(ctx, ref)
    assert _state(ctx, ref) == "submission"
    with Session(ctx.engine) as session:
        grants = session.exec(
            select(AuditEvent).where(AuditEvent.trigger == "approval_granted")
        ).all()
        assert len(grants) == len(areas)


def test_transition_and_audit_event_commit_together(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after the state moved rolls back the state, the event and the outbox rows."""
    ref = new_bid(ctx)

    def explode(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("crash after the transition")

    from orchestrator.bid.progress.steps import ON_ENTRY

    monkeypatch.setitem(ON_ENTRY, State.QUALIFICATION, explode)  # runs after move_bid
    with pytest.raises(RuntimeError):
        services.advance(ctx, ref)
    assert _state(ctx, ref) == "pre_qualification"
    with Session(ctx.engine) as session:
        assert session.exec(select(func.count()).select_from(OutboxMessage)).one() == 0
        assert session.exec(select(func.count()).select_from(DecisionRecord)).one() == 0
    monkeypatch.undo()
    services.advance(ctx, ref)
    assert _state(ctx, ref) == "qualification"


def test_rerun_of_production_does_not_duplicate_documents(
    ctx: Context, documents: RecordingDocuments
) -> None:
    ref = new_bid(ctx)
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="go")
    services.advance(ctx, ref)  # kick-off → bid production
    factories.produce(ctx, ref)
    produced = services._produce(ctx, ref, Render.BID)  # a first attempt that crashed before commit
    assert produced.proposal_hash
    services.advance(ctx, ref)
    with Session(ctx.engine) as session:
        rows = session.exec(select(Document).where(Document.kind == "proposal")).all()
        assert len(rows) == 1
        milestones = session.exec(select(Milestone.name)).all()
    assert {"go_no_go_decision", "design_freeze", "submission"} <= set(milestones)


def test_lost_bid_needs_a_category_and_puts_the_account_to_sleep(
    ctx: Context, clock: FixedClock
) -> None:
    ref = carry_to_governance(ctx)
    grant_all(ctx, ref)
    services.run_to_wait(ctx, ref)
    submit(ctx, ref)
    from orchestrator.errors import InputError

    with pytest.raises(InputError, match="reason category"):
        services.record_result(ctx, ref, won=False, reason="too expensive")
    services.record_result(ctx, ref, won=False, reason="too expensive", category="price")
    with Session(ctx.engine) as session:
        from orchestrator.store.models import Account

        account = session.exec(select(Account)).one()
        assert account.sleeping_until is not None
        assert account.sleeping_until > clock().date() + timedelta(days=30)
    assert _state(ctx, ref) == "lost"


def test_concurrent_advances_move_the_bid_once(ctx: Context) -> None:
    """Four workers advancing one bid at once: one transition, one audit event, no error."""
    from concurrent.futures import ThreadPoolExecutor

    ref = new_bid(ctx)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: services.advance(ctx, ref, "worker"), range(4)))
    moved = [r for r in results if r.moved and r.from_state == "pre_qualification"]
    assert len(moved) == 1
    qualifies = [t for t in transitions(ctx) if t[2] == "qualify"]
    assert len(qualifies) == 1
    assert _state(ctx, ref) == "qualification"
    with Session(ctx.engine) as session:
        bants = session.exec(
            select(DecisionRecord).where(DecisionRecord.table_name == "bants")
        ).all()
    assert len(bants) == 1


def test_every_milestone_has_an_owner_on_the_bid(ctx: Context) -> None:
    """A major account has no bid manager: the account manager, who leads, owns those dates."""
    team = {k: v for k, v in PEOPLE.items() if k not in {"bid_manager", "sales_support"}}
    ref = new_bid(ctx, account={"name": "Major Co", "tier": "major"}, team=team)
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["management"], reason="go")
    services.run_to_wait(ctx, ref)
    with Session(ctx.engine) as session:
        owners = {m.name: m.owner_role for m in session.exec(select(Milestone)).all()}
    assert owners["submission"] == "account_manager"  # planned for a bid manager
    assert owners["budgetary_quotes_in"] == "account_manager"  # planned for sales support
    assert owners["design_freeze"] == "solution_consultant"  # on the team: kept
    assert owners["go_no_go_decision"] == "management"


def test_sites_are_frozen_once_the_proposal_is_under_review(ctx: Context) -> None:
    from orchestrator.bid.opportunity.onboarding import import_sites
    from tests.factories import sites

    ref = carry_to_governance(ctx)
    with pytest.raises(ChangeRefused, match="under governance review"):
        import_sites(ctx, ref, sites(1, prefix="LATE"))
    services.approve(ctx, ref, area="legal", by=APPROVERS["legal"], reject=True, reason="scope")
    assert import_sites(ctx, ref, sites(1, prefix="LATE")) == 1
