"""Effects: what a committed change asks to happen next, as plain values and policies.

A handler's transaction writes its effects as outbox rows beside the move that caused them
(`orchestrator.store.effects`); one dispatcher (`orchestrator.dispatch`) runs them after the
commit. This module holds what needs no I/O: the kinds, their statuses, the idempotency keys
and the retry policy, so the store, the dispatcher and the tests agree on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class EffectKind(StrEnum):
    """What an effect does once its move is committed."""

    RENDER = "render"
    """Render again the documents that follow the bid (plan, proposal, order sheet)."""
    CARRY = "carry"
    """Carry the bid on: a person's answer unblocked its automated work."""


class EffectStatus(StrEnum):
    """Where an effect is: waiting, claimed by a dispatcher, done, or failed (retried)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


OPEN_STATUSES = (EffectStatus.PENDING, EffectStatus.RUNNING, EffectStatus.FAILED)
"""Effects not yet done (`bid status` shows them)."""

LEASE = timedelta(minutes=15)
"""How long a claim holds: a dispatcher killed mid-effect leaves it to the next one after
this (longer than a carry or a render takes, so a live claim is never taken over)."""


def render_key(opportunity_id: int, version: int) -> str:
    """One render per committed version of the bid: a rerun of the move queues none."""
    return f"render:{opportunity_id}:{version}"


def change_render_key(opportunity_id: int, version: int, cause: str) -> str:
    """One render per change (`cause`, a content hash) of a won bid that does not move it:
    a fix, a MACD applied; the same change committed again queues none."""
    return f"render:{opportunity_id}:{version}:{cause}"


def carry_key(opportunity_id: int, version: int, cause: str) -> str:
    """One carry per answer (`cause`) on a version of the bid."""
    return f"carry:{opportunity_id}:{version}:{cause}"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: `first` after the first failure, doubling up to `longest`;
    after `attempts` failures the effect waits for a person (`bid resume`)."""

    first: timedelta = timedelta(seconds=30)
    longest: timedelta = timedelta(hours=1)
    attempts: int = 8

    def delay(self, failures: int) -> timedelta:
        """The wait after the `failures`-th failure (1 for the first)."""
        if failures < 1:
            raise ValueError("failures count from 1")
        delay: timedelta = self.first * (2 ** (failures - 1))
        return min(delay, self.longest)

    def next_attempt(self, failures: int, now: datetime) -> datetime | None:
        """When to try again after `failures` failures; None when the retries are spent."""
        if failures >= self.attempts:
            return None
        return now + self.delay(failures)


RETRY = RetryPolicy()
