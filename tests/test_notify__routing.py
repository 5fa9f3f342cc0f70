"""Who hears what: the routing table picks the recipients per account tier and step."""

from __future__ import annotations

from sqlmodel import Session, col, select

from orchestrator.context import Context
from orchestrator.store.models import OutboxMessage
from tests.factories import PEOPLE
from tests.support.slack_api import bid_in_governance

P = PEOPLE


def _recipients(ctx: Context, key_prefix: str) -> set[str]:
    with Session(ctx.engine) as session:
        rows = session.exec(
            select(OutboxMessage).where(col(OutboxMessage.key).startswith(key_prefix))
        ).all()
    return {row.recipient_email or "" for row in rows}


def _approval_recipients(ctx: Context) -> dict[str, set[str]]:
    with Session(ctx.engine) as session:
        rows = session.exec(
            select(OutboxMessage).where(OutboxMessage.event == "approval_requested")
        ).all()
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row.blocks[0]["area"], set()).add(row.recipient_email or "")
    return found


APPROVERS_BY_AREA = {
    "technical": {P["operations"], P["solution_consultant"]},
    "financial": {P["finance"]},
    "legal": {P["legal"]},
    "management": {P["management"]},  # the margin is below the floor
}


def test_top_account_messages_go_to_the_bid_manager_and_the_top_notify_roles(ctx: Context) -> None:
    bid_in_governance(ctx, "top", cost_share=0.9)
    # kick-off is passed through by the automation: the move into it concerns nobody (the
    # decider saw their answer); the team hears where the bid stops, in production
    assert _recipients(ctx, "transition:1:decide_bid:") == set()
    assert _recipients(ctx, "transition:1:start_production:") == {
        P["bid_manager"],  # leads production
        P["operations"],
        P["solution_consultant"],
        P["sales_support"],
    }
    assert _recipients(ctx, "transition:1:request_governance:") == {
        P["bid_manager"],  # leads the governance review
        P["management"],
        P["finance"],
        P["legal"],
        P["operations"],
        P["solution_consultant"],
    }
    assert _recipients(ctx, "go_no_go:1:") == {P["bid_manager"], P["management"]}
    assert _approval_recipients(ctx) == APPROVERS_BY_AREA


def test_major_account_messages_go_to_the_account_manager_not_the_bid_manager(
    ctx: Context,
) -> None:
    bid_in_governance(ctx, "major", cost_share=0.9)
    assert _recipients(ctx, "transition:1:decide_bid:") == set()  # kick-off: passed through
    assert _recipients(ctx, "transition:1:start_production:") == {
        P["account_manager"],  # leads every step of a major bid
        P["sales_support"],
    }
    assert _recipients(ctx, "transition:1:request_governance:") == {
        P["account_manager"],
        P["management"],
        P["finance"],
        P["legal"],
        P["operations"],
    }
    assert _recipients(ctx, "go_no_go:1:") == {P["account_manager"], P["management"]}
    assert _approval_recipients(ctx) == APPROVERS_BY_AREA


def test_one_row_per_event_and_recipient(ctx: Context) -> None:
    bid_in_governance(ctx, "top", cost_share=0.9)
    with Session(ctx.engine) as session:
        rows = session.exec(select(OutboxMessage)).all()
    keys = [row.key for row in rows]
    assert len(keys) == len(set(keys))
    pairs = [(row.key.rsplit(":", 1)[0], row.recipient_email) for row in rows]
    assert len(pairs) == len(set(pairs))
