"""The effects outbox: effects are rows committed with the move that caused them.

`enqueue` writes one in the caller's transaction (a rerun with the same key writes none).
A dispatcher then `claim`s one at a time with a conditional UPDATE — the row is its own only
if no other dispatcher holds a live lease on it — runs it, and marks it `done` or `failed`
(with the error and the time of the next attempt). A dispatcher killed after its claim
leaves the row `running` until the lease runs out; the next dispatcher then takes it again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, and_, or_, update
from sqlmodel import Session, col, select

from orchestrator.core.effects import OPEN_STATUSES, EffectKind, EffectStatus
from orchestrator.store.db import reading, transaction, write_one
from orchestrator.store.models import Effect, Opportunity, State

MAX_ERROR = 1000


@dataclass(frozen=True)
class ClaimedEffect:
    """An effect a dispatcher holds the lease of (plain values, no ORM row)."""

    id: int
    key: str
    kind: EffectKind
    opportunity_id: int | None
    payload: dict[str, Any]
    attempts: int
    """Attempts so far, this one included."""
    absorbed: tuple[int, ...] = ()
    """Other due renders of the same bid claimed with it: one render of the bid as it is
    now does their work too, so they end (done or failed) with this one."""

    @property
    def ids(self) -> tuple[int, ...]:
        return (self.id, *self.absorbed)


def enqueue(
    session: Session,
    *,
    key: str,
    kind: EffectKind,
    opportunity_id: int | None,
    payload: dict[str, Any] | None = None,
    now: datetime,
) -> bool:
    """Queue one effect in the caller's transaction unless one with this key exists."""
    if session.exec(select(Effect.id).where(Effect.key == key)).first() is not None:
        return False
    session.add(
        Effect(
            key=key,
            kind=kind,
            opportunity_id=opportunity_id,
            payload=dict(payload or {}),
            next_attempt_at=now,
            created_at=now,
        )
    )
    return True


def _claimable(now: datetime, *, retry_failed: bool) -> Any:
    """Due pending or failed effects, and running ones whose dispatcher's lease ran out."""
    failed = col(Effect.status) == EffectStatus.FAILED
    if not retry_failed:
        failed = and_(failed, col(Effect.next_attempt_at) <= now)
    return or_(
        and_(col(Effect.status) == EffectStatus.PENDING, col(Effect.next_attempt_at) <= now),
        failed,
        and_(col(Effect.status) == EffectStatus.RUNNING, col(Effect.claimed_until) < now),
    )


def claim(
    engine: Engine,
    *,
    worker: str,
    now: datetime,
    lease: timedelta,
    retry_failed: bool = False,
    skip: frozenset[int] = frozenset(),
    opportunity_id: int | None = None,
    kinds: frozenset[EffectKind] | None = None,
    renders_left_to_others: frozenset[int] = frozenset(),
) -> ClaimedEffect | None:
    """Take the oldest claimable effect for `worker`, or None when there is none.

    The UPDATE repeats the claimable condition, so of two dispatchers racing for one row only
    one changes it (PostgreSQL re-checks the condition after the row lock; SQLite writers
    queue on BEGIN IMMEDIATE). `retry_failed` takes failed effects whatever their next time;
    `opportunity_id` only that bid's, `kinds` only those kinds; no render of the bids in
    `renders_left_to_others` (bids handed to workers, which render them after their moves).

    Oldest first, but a bid's carry before its renders queued with or before it: a door
    that hands the bid to the workers then leaves those renders to the worker's run, which
    renders the bid once after its moves (a go/no-go or the last approval clicked in Slack
    rendered the bid in the Slack app, then again in the worker a second later). Not for a
    bid in contract preparation: there a change's render re-checks the order tasks on
    behalf of the person who made the change, before a carry re-checks them as the system.
    """
    condition = _claimable(now, retry_failed=retry_failed)
    query = (
        select(Effect.id, Effect.kind, Effect.opportunity_id, Opportunity.state)
        .join(Opportunity, col(Effect.opportunity_id) == Opportunity.id, isouter=True)
        .where(condition)
        .order_by(col(Effect.id))
        .limit(20)
    )
    if skip:
        query = query.where(col(Effect.id).not_in(skip))
    if renders_left_to_others:
        query = query.where(
            or_(
                col(Effect.kind) != EffectKind.RENDER,
                col(Effect.opportunity_id).is_(None),
                col(Effect.opportunity_id).not_in(renders_left_to_others),
            )
        )
    if opportunity_id is not None:
        query = query.where(Effect.opportunity_id == opportunity_id)
    if kinds is not None:
        query = query.where(col(Effect.kind).in_(sorted(kinds)))
    lease_until = now + lease
    if engine.dialect.name == "postgresql":  # one transaction: a read locks nothing there
        with transaction(engine) as session:
            candidates = _carries_first(cast(list[_Candidate], list(session.exec(query).all())))
            return _take_first(session, candidates, worker, lease_until, condition, skip)
    with reading(engine) as session:  # SQLite: nothing due (the usual case), no write lock
        candidates = _carries_first(cast(list[_Candidate], list(session.exec(query).all())))
    if not candidates:
        return None
    with transaction(engine) as session:
        return _take_first(session, candidates, worker, lease_until, condition, skip)


def _take_first(
    session: Session,
    candidates: list[int],
    worker: str,
    until: datetime,
    condition: Any,
    skip: frozenset[int],
) -> ClaimedEffect | None:
    """Take the first of `candidates` no other dispatcher took meanwhile (a render with
    the bid's other due renders)."""
    for effect_id in candidates:
        row = session.execute(
            _take([effect_id], condition, worker, until).returning(
                col(Effect.key),
                col(Effect.kind),
                col(Effect.opportunity_id),
                col(Effect.payload),
                col(Effect.attempts),
            )
        ).first()
        if row is not None:  # this one is ours (the UPDATE's condition held)
            key, kind, opportunity_id, payload, attempts = row
            claimed = ClaimedEffect(
                id=effect_id,
                key=key,
                kind=EffectKind(kind),
                opportunity_id=opportunity_id,
                payload=dict(payload or {}),
                attempts=attempts,
            )
            if claimed.kind == EffectKind.RENDER and opportunity_id is not None:
                absorbed = _absorb_renders(session, claimed, worker, until, condition, skip)
                claimed = replace(claimed, absorbed=absorbed)
            return claimed
    return None


_Candidate = tuple[int | None, EffectKind, int | None, State | None]
"""(effect id, kind, bid id, bid state) of a claimable effect."""


def _carries_first(rows: list[_Candidate]) -> list[int]:
    """The candidates' ids in claiming order (see `claim`): each bid's renders that come
    before its carry move to just after it, unless the bid is in contract preparation."""
    carry_at: dict[int, int] = {}
    for index, (_, kind, bid, _) in enumerate(rows):
        if kind == EffectKind.CARRY and bid is not None:
            carry_at.setdefault(bid, index)

    def place(item: tuple[int, _Candidate]) -> float:
        index, (_, kind, bid, state) = item
        carry = carry_at.get(bid, -1) if bid is not None else -1
        later = kind == EffectKind.RENDER and carry > index
        return carry + 0.5 if later and state != State.CONTRACT_PREPARATION else index

    return [row[0] for _, row in sorted(enumerate(rows), key=place) if row[0] is not None]


def _take(ids: list[int | None], condition: Any, worker: str, until: datetime) -> Any:
    """The UPDATE that makes the claimable rows among `ids` this worker's until `until`."""
    return (
        update(Effect)
        .where(col(Effect.id).in_(ids), condition)
        .values(
            status=EffectStatus.RUNNING,
            claimed_by=worker,
            claimed_until=until,
            attempts=Effect.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )


def _absorb_renders(
    session: Session,
    claimed: ClaimedEffect,
    worker: str,
    until: datetime,
    condition: Any,
    skip: frozenset[int],
) -> tuple[int, ...]:
    """Claim with `claimed` the bid's other due renders for the same actor: a carry that
    moved the bid four steps queued four renders, and one render after the last move is what
    all four ask for (a render reads the bid as it is when it runs, after this claim)."""
    actor = claimed.payload.get("actor")
    others = session.exec(
        select(Effect.id, Effect.payload).where(
            Effect.opportunity_id == claimed.opportunity_id,
            Effect.kind == EffectKind.RENDER,
            col(Effect.id) != claimed.id,
            condition,
        )
    ).all()
    wanted = [i for i, payload in others if i not in skip and (payload or {}).get("actor") == actor]
    if not wanted:
        return ()
    taken = session.execute(  # the UPDATE re-checks the condition: what another took is not
        _take(wanted, condition, worker, until).returning(col(Effect.id))
    ).scalars()
    return tuple(sorted(i for i in taken if i is not None))


def finish(
    engine: Engine, effect: ClaimedEffect, *, worker: str, now: datetime, result: str
) -> bool:
    """Mark a claimed effect done; False when this worker no longer held it."""
    return _end(
        engine,
        effect,
        worker,
        status=EffectStatus.DONE,
        done_at=now,
        claimed_until=None,
        last_error=None,
        result=result[:MAX_ERROR],
    )


def fail(
    engine: Engine,
    effect: ClaimedEffect,
    *,
    worker: str,
    error: str,
    retry_at: datetime | None,
) -> bool:
    """Mark a claimed effect failed with its error; it is tried again from `retry_at`
    (None: its retries are spent, it waits for `bid resume`)."""
    return _end(
        engine,
        effect,
        worker,
        status=EffectStatus.FAILED,
        claimed_until=None,
        last_error=error[:MAX_ERROR],
        next_attempt_at=retry_at,
    )


def _end(engine: Engine, effect: ClaimedEffect, worker: str, **values: Any) -> bool:
    """Set `values` on the effect's rows while `worker` still runs them (one statement);
    False when it no longer held them (its lease ran out and another took them)."""
    changed = write_one(
        engine,
        update(Effect)
        .where(col(Effect.id).in_(effect.ids), col(Effect.claimed_by) == worker)
        .where(col(Effect.status) == EffectStatus.RUNNING)
        .values(**values),
    )
    return changed >= 1


def open_effects(session: Session, opportunity_id: int) -> list[Effect]:
    """The bid's effects not yet done (pending, running, failed), oldest first."""
    return list(
        session.exec(
            select(Effect)
            .where(Effect.opportunity_id == opportunity_id, col(Effect.status).in_(OPEN_STATUSES))
            .order_by(col(Effect.id))
        ).all()
    )


def count_open(engine: Engine) -> dict[EffectStatus, int]:
    """How many effects are pending, running and failed across all bids."""
    with reading(engine) as session:
        rows = session.exec(
            select(Effect.status).where(col(Effect.status).in_(OPEN_STATUSES))
        ).all()
    counts = dict.fromkeys(OPEN_STATUSES, 0)
    for status in rows:
        counts[EffectStatus(status)] += 1
    return counts
