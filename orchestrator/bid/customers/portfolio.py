"""The portfolio review: tier moves the rules suggest, accepted or declined by management.

`bid portfolio review` measures the portfolio (read-only, `funnel.portfolio`) and records
each newly proposed move here as an open suggestion (once: the same move for the same
account stays one suggestion until it is decided). Management accepts one — the account
moves, with the rule's reason and the decider's on its trail — or declines it, with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.bid.customers.accounts import (
    change_tier,
    record_account_event,
    require_portfolio_manager,
    require_reason,
)
from orchestrator.context import Context
from orchestrator.decisions.portfolio_rules import ProposedMove
from orchestrator.errors import InputError, NotFound
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import Account, PortfolioSuggestion, SuggestionStatus


@dataclass(frozen=True)
class Suggestion:
    id: int
    account: str
    rule: str
    from_tier: str
    to_tier: str
    reason: str
    measures: dict[str, Any]
    status: str
    decided_by: str | None = None
    decision_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _view(row: PortfolioSuggestion, account: str) -> Suggestion:
    return Suggestion(
        id=row.id or 0,
        account=account,
        rule=row.rule_id,
        from_tier=row.from_tier,
        to_tier=row.to_tier,
        reason=row.reason,
        measures=dict(row.measures),
        status=row.status.value,
        decided_by=row.decided_by,
        decision_reason=row.decision_reason,
    )


def record_suggestions(ctx: Context, moves: list[ProposedMove], actor: str = "rules") -> int:
    """Keep each proposed move as an open suggestion unless the same one is already open;
    returns how many were new."""
    added = 0
    with transaction(ctx.engine) as session:
        open_rows = session.exec(
            select(PortfolioSuggestion).where(PortfolioSuggestion.status == SuggestionStatus.OPEN)
        ).all()
        known = {(s.account_id, s.from_tier, s.to_tier) for s in open_rows}
        for move in moves:
            if (move.account_id, move.from_tier, move.to_tier) in known:
                continue
            account = session.get(Account, move.account_id)
            if account is None or account.tier != move.from_tier:
                continue  # changed since it was measured: the next review sees it again
            session.add(
                PortfolioSuggestion(
                    account_id=move.account_id,
                    rule_id=move.rule_id,
                    from_tier=move.from_tier,
                    to_tier=move.to_tier,
                    reason=move.reason,
                    measures=dict(move.measures),
                    created_at=ctx.clock(),
                )
            )
            record_account_event(
                session,
                ctx,
                account,
                "move_suggested",
                actor=actor,
                reason=move.reason,
                from_tier=move.from_tier,
                to_tier=move.to_tier,
                details={"rule": move.rule_id, "measures": dict(move.measures)},
            )
            known.add((move.account_id, move.from_tier, move.to_tier))
            added += 1
    return added


def suggestions(ctx: Context, *, status: SuggestionStatus | None = None) -> list[Suggestion]:
    """Suggestions (the open ones by default), oldest first."""
    with reading(ctx.engine) as session:
        query = select(PortfolioSuggestion, Account.name).where(
            PortfolioSuggestion.account_id == Account.id
        )
        query = query.where(PortfolioSuggestion.status == (status or SuggestionStatus.OPEN))
        rows = session.exec(query.order_by(col(PortfolioSuggestion.id))).all()
        return [_view(row, name) for row, name in rows]


def _suggestion(session: Session, suggestion_id: int) -> PortfolioSuggestion:
    row = session.get(
        PortfolioSuggestion, suggestion_id, with_for_update=True, populate_existing=True
    )
    if row is None:
        raise NotFound(f"no portfolio suggestion {suggestion_id} (bid portfolio review)")
    return row


def decide_suggestion(
    ctx: Context, suggestion_id: int, *, accept: bool, by: str, reason: str
) -> Suggestion:
    """Management's answer to a suggested move: accepted moves the account (audited on its
    trail with both reasons), declined keeps it where it is."""
    text = require_reason(reason)
    with transaction(ctx.engine) as session:
        require_portfolio_manager(
            session, by, "accept or decline a portfolio move" if accept else "decline a move"
        )
        row = _suggestion(session, suggestion_id)
        account = session.get(Account, row.account_id)
        if account is None:  # a foreign key guarantees it
            raise NotFound(f"suggestion {suggestion_id} names no account")
        if row.status != SuggestionStatus.OPEN:
            raise InputError(
                f"suggestion {suggestion_id} is already {row.status.value}"
                + (f" by {row.decided_by}" if row.decided_by else ""),
                field="suggestion",
            )
        row.status = SuggestionStatus.ACCEPTED if accept else SuggestionStatus.DECLINED
        row.decided_by, row.decided_at, row.decision_reason = by, ctx.clock(), text
        session.add(row)
        details = {"suggestion": row.id, "rule": row.rule_id, "rule_reason": row.reason}
        if accept:
            change_tier(session, ctx, account, row.to_tier, actor=by, reason=text, details=details)
        record_account_event(
            session,
            ctx,
            account,
            "move_accepted" if accept else "move_declined",
            actor=by,
            reason=text,
            from_tier=row.from_tier,
            to_tier=row.to_tier,
            details=details,
        )
        return _view(row, account.name)
