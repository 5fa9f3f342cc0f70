"""The deadline watch: due soon warns the owner, overdue escalates, each warning once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from orchestrator.bid.measures.planning import WarningPolicy
from orchestrator.bid.progress import deadlines, services
from orchestrator.context import Context
from orchestrator.store.models import OutboxMessage
from tests.conftest import REPO, FixedClock
from tests.factories import PEOPLE, new_bid

POLICY = WarningPolicy(due_soon_days=2, management_after_overdue_days=2)
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _warnings(ctx: Context) -> list[tuple[str, str | None]]:
    with Session(ctx.engine) as session:
        rows = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.event == "milestone_warning")
            .order_by(col(OutboxMessage.id))
        ).all()
        return [(m.key, m.recipient_email) for m in rows]


def test_levels_follow_the_policy() -> None:
    assert deadlines.levels_due(NOW + timedelta(days=5), NOW, POLICY) == []
    assert deadlines.classify(NOW + timedelta(days=5), NOW, POLICY) == deadlines.OPEN
    assert deadlines.levels_due(NOW + timedelta(days=2), NOW, POLICY) == ["owner"]
    assert deadlines.levels_due(NOW - timedelta(hours=1), NOW, POLICY) == ["owner", "bid_manager"]
    assert deadlines.levels_due(NOW - timedelta(days=2), NOW, POLICY) == [
        "owner",
        "bid_manager",
        "management",
    ]
    naive = (NOW - timedelta(days=1)).replace(tzinfo=None)
    assert deadlines.classify(naive, NOW, POLICY, done=True) == deadlines.DONE
    assert deadlines.classify(naive, NOW, POLICY) == deadlines.OVERDUE


def test_plan_artifact_keys_are_lowercase_dashes() -> None:
    assert deadlines.plan_artifact_key("OPP-0001") == "bid-control-plan-opp-0001"


def test_owner_warned_once_then_bid_manager_then_management(
    ctx: Context, clock: FixedClock
) -> None:
    ref = new_bid(ctx)
    services.run_to_wait(ctx, ref)  # intake plans the go/no-go milestone, due in 24 h
    [row] = deadlines.watch(ctx).board
    # an RFP received on Friday 27 November: 24 working hours later is Monday, not Saturday
    assert (row.due_at.isoformat()[:16], row.status) == ("2026-11-30T09:00", "open")
    assert _warnings(ctx) == []
    clock.advance(days=2)  # Sunday: due within a day
    first = deadlines.watch(ctx)
    [row] = first.board
    assert (row.milestone, row.owner_role, row.status) == (
        "go_no_go_decision",
        "management",
        "due soon",
    )
    assert _warnings(ctx) == [(f"milestone:{row.milestone_id}:owner", PEOPLE["management"])]
    assert deadlines.watch(ctx).queued == []  # a rerun sends nothing twice
    clock.advance(hours=25)
    assert [q[1:] for q in deadlines.watch(ctx).queued] == [("bid_manager", PEOPLE["bid_manager"])]
    clock.advance(days=2)
    deadlines.watch(ctx)
    deadlines.watch(ctx)
    assert [key for key, _ in _warnings(ctx)] == [
        f"milestone:{row.milestone_id}:owner",
        f"milestone:{row.milestone_id}:bid_manager",
        f"milestone:{row.milestone_id}:management",
    ]
    with Session(ctx.engine) as session:
        text = session.exec(
            select(OutboxMessage.text).where(OutboxMessage.event == "milestone_warning")
        ).first()
    assert text is not None and "go_no_go_decision" in text and ref in text


def test_board_leaves_out_done_milestones_and_closed_bids(ctx: Context) -> None:
    decided = new_bid(ctx)
    services.run_to_wait(ctx, decided)
    services.decide(ctx, decided, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
    services.run_to_wait(ctx, decided)  # kick-off plans the rest of the Bid Control Plan
    closed = new_bid(ctx, title="Withdrawn one")
    services.run_to_wait(ctx, closed)
    services.withdraw(
        ctx, closed, reason="cancelled", category="timing", by=PEOPLE["account_manager"]
    )
    board = deadlines.board(ctx)
    assert {row.ref for row in board} == {decided}
    assert "go_no_go_decision" not in {row.milestone for row in board}
    assert [row.due_at for row in board] == sorted(row.due_at for row in board)
    plan = deadlines.control_plan(ctx, decided)
    assert {"go_no_go_decision", "submission"} <= {row.milestone for row in plan}
    assert next(r for r in plan if r.milestone == "go_no_go_decision").status == "done"
    assert set(plan[0].table_row()) == {
        "bid",
        "account",
        "milestone",
        "owner",
        "due",
        "days left",
        "status",
    }
    report = deadlines.watch(ctx, notify=False)
    assert report.queued == [] and _warnings(ctx) == []


def test_milestone_names_read_as_words_in_the_ui() -> None:
    assert deadlines.milestone_label("go_no_go_decision") == "Go/no-go decision"
    assert deadlines.milestone_label("rfp_answers") == "RFP answers"
    assert deadlines.milestone_label("firm_quotes_in") == "Firm quotes in"
    assert deadlines.milestone_label("governance_signoff_legal") == "Governance signoff legal"
    assert deadlines.PLAN_COLUMNS[0] == "status"


def test_the_milestone_rules_are_read_once_and_again_when_the_file_changes(
    tmp_path: Path,
) -> None:
    import os
    import shutil

    from orchestrator.bid.measures.planning import load_milestone_rules

    shutil.copy(REPO / "rules" / "milestones.yaml", tmp_path / "milestones.yaml")
    rules, policy = load_milestone_rules(tmp_path)
    assert load_milestone_rules(tmp_path)[0] is rules  # parsed once, not at every move
    path = tmp_path / "milestones.yaml"
    text = path.read_text(encoding="utf-8")
    assert "due_soon_days: 1" in text
    path.write_text(text.replace("due_soon_days: 1", "due_soon_days: 5"), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    changed_rules, changed_policy = load_milestone_rules(tmp_path)
    assert changed_policy.due_soon_days == 5 != policy.due_soon_days
    assert changed_rules == rules


def test_the_board_reads_each_bids_team_once_not_once_per_milestone(ctx: Context) -> None:
    """The hourly watch lists every open milestone of every open bid: with about fourteen
    milestones a bid, reading the owners per milestone was hundreds of queries an hour."""
    from orchestrator.bid.facts import get_opportunity
    from orchestrator.store.db import reading
    from tests.factories import record_statements

    refs = [new_bid(ctx) for _ in range(3)]
    for ref in refs:
        services.run_to_wait(ctx, ref)
        services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
        services.run_to_wait(ctx, ref)
    statements = record_statements(ctx.engine)
    rows = deadlines.board(ctx)
    on_board = len(statements)
    plan = deadlines.control_plan(ctx, refs[0])
    in_plan = len(statements) - on_board
    assert len({row.ref for row in rows}) == 3 and len(rows) > 6
    # the milestones, each bid's team, the organisation (management, finance, legal)
    assert on_board <= 1 + 3 + 1, statements[:on_board]
    assert in_plan <= 1 + 1 + 1 + 1, statements[on_board:]  # + the bid itself
    with reading(ctx.engine) as session:  # the owners are those of the bid's team
        opportunity = get_opportunity(session, refs[0])
        for row in plan:
            people = deadlines._people(session, opportunity.id or 0, row.owner_role)
            assert row.owner == (", ".join(p.email for p in people) or "nobody assigned")
