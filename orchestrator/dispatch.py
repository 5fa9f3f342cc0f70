"""The one dispatcher: runs the effects committed with the moves, then delivers notifications.

Every door calls `drain` after its command (the CLI, the Slack app, the flows; production
mode's `effects-drain` deployment every few minutes catches what a crashed door left):

- `render` → the documents that follow the bid are rendered again (`bid.rendering`);
- `carry`  → the runner carries the bid on (`FlowRunner.continue_bid`: here, or a flow run
  or task on the workers);
- then the notification outbox is delivered (`slack.notify`; without a Slack token the
  messages stay in `bid outbox`).

An effect is claimed with a lease before it runs (one dispatcher runs it, however many
drain at once), marked done after, or failed with its error and retried with backoff
(`core.effects.RETRY`). A failure never touches the committed move; `bid status` shows it.
A dispatcher killed between its claim and the end leaves the effect to the next one once
the lease runs out; effects are idempotent (a render rewrites the same files, a carry finds
the bid where the last one left it), so a rerun repeats nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from orchestrator.bid.facts import parse_ref
from orchestrator.bid.progress import services
from orchestrator.bid.trail.rendering import refresh_documents
from orchestrator.context import Context
from orchestrator.core.effects import LEASE, RETRY, EffectKind, RetryPolicy
from orchestrator.errors import BidError, RuntimeUnavailable
from orchestrator.store import effects
from orchestrator.store.effects import ClaimedEffect
from orchestrator.store.models import format_ref

if TYPE_CHECKING:
    from orchestrator.slack.notify import Notifier

log = logging.getLogger(__name__)

RENDERS_ONLY = frozenset({EffectKind.RENDER})
"""What a flow run drains for its own bid: the documents of the moves it made."""
PLAN_KIND = "control_plan"
"""The document kind of the Bid Control Plan: published in the UI when it changed."""
MAX_EFFECTS = 500
"""Effects one drain runs at most (a carry adds render effects; the loop stops anyway)."""


class HandedOver(str):
    """A carry's answer when the bid went to workers elsewhere (a task run, a deployment's
    flow run): they render what their moves change, so this drain leaves the bid's renders
    to them instead of rendering it twice."""

    __slots__ = ()


class Carrier(Protocol):
    """What carries a bid on (the flow runner of `orchestrator.runtime.runner` is one)."""

    def continue_bid(self, ctx: Context, ref: str, actor: str) -> str: ...


@runtime_checkable
class PlanPublisher(Protocol):
    """A carrier that can also publish the Bid Control Plan (the flow runners)."""

    def publish_plan(self, ctx: Context, ref: str) -> str | None: ...


class InlineCarrier:
    """Carries the bid on in this process (the flows' own drains; tests)."""

    def continue_bid(self, ctx: Context, ref: str, actor: str) -> str:
        return "; ".join(step.message for step in services.run_to_wait(ctx, ref, actor))


@dataclass(frozen=True)
class EffectOutcome:
    """What one effect did: its result line, or the error it failed with."""

    kind: EffectKind
    ref: str
    key: str
    message: str
    retry: bool = True
    """For a failure: whether it is tried again by itself (False: its retries are spent)."""


@dataclass
class DrainReport:
    """What one drain did: effects done and failed, notifications sent and not."""

    done: list[EffectOutcome] = field(default_factory=list)
    failed: list[EffectOutcome] = field(default_factory=list)
    notified: int = 0
    not_notified: int = 0

    def lines(self) -> list[str]:
        """One line per effect, for a door to print."""
        return [f"{o.ref}: {o.kind.value}: {o.message}" for o in self.done if o.message] + [
            f"{o.ref}: {o.kind.value} failed: {o.message}" for o in self.failed
        ]


AfterClaim = Callable[[ClaimedEffect], None]


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _run(ctx: Context, effect: ClaimedEffect, carrier: Carrier) -> str:
    ref = str(effect.payload.get("ref", ""))
    if effect.kind == EffectKind.RENDER:
        produced = refresh_documents(ctx, ref, str(effect.payload.get("actor") or "rules"))
        rendered = f"{len(produced.documents)} document(s) rendered"
        if PLAN_KIND not in produced.changed:  # the plan in the UI is still the bid's
            return rendered
        published = _publish_plan(ctx, carrier, ref)
        return f"{rendered}; {published}" if published else rendered
    if effect.kind == EffectKind.CARRY:
        try:
            return carrier.continue_bid(ctx, ref, str(effect.payload.get("actor", "system")))
        except RuntimeUnavailable:  # Prefect or its workers unreachable: failed, retried
            raise
        except BidError as waiting:  # a guard holds the bid: it waits, nothing to retry
            return f"waits: {waiting}"
    raise ValueError(f"unknown effect kind {effect.kind}")  # pragma: no cover - enum is closed


def _publish_plan(ctx: Context, carrier: Carrier, ref: str) -> str | None:
    """The plan follows the bid into the Prefect UI as its documents do into the folder: a
    render effect whose render changed the plan's document publishes it through a carrier
    that can (a move that closed no milestone leaves the published plan as it is)."""
    if not isinstance(carrier, PlanPublisher):
        return None
    try:
        return carrier.publish_plan(ctx, ref)
    except Exception as error:  # the documents are rendered: a UI gone away fails nothing
        log.warning("%s: the Bid Control Plan was not published: %s", ref, error)
        return f"plan not published ({type(error).__name__})"


def drain(
    ctx: Context,
    carrier: Carrier | None = None,
    *,
    retry_failed: bool = False,
    notify: bool = True,
    notifier: Notifier | None = None,
    lease: timedelta = LEASE,
    policy: RetryPolicy = RETRY,
    after_claim: AfterClaim | None = None,
    limit: int = MAX_EFFECTS,
    ref: str | None = None,
    kinds: frozenset[EffectKind] | None = None,
) -> DrainReport:
    """Run every due effect (the ones its own effects add too), then deliver notifications.

    `notifier` delivers the messages (default: Slack when a token is set, else none).
    `retry_failed` runs failed effects now, whatever their next time (`bid resume`).
    `ref` runs only that bid's effects, `kinds` only those kinds (a flow run that moved a
    bid renders what it moved, and leaves carrying it on to the door that runs the flow).
    `after_claim` is called once an effect is claimed, before it runs (a test kills the
    dispatcher there). Never raises for an effect's failure: it is recorded on the effect.
    """
    carrier = carrier or InlineCarrier()
    worker = _worker_name()
    only = parse_ref(ref) if ref is not None else None
    report = DrainReport()
    tried: set[int] = set()
    handed: set[int] = set()
    while len(tried) < limit:
        claimed = effects.claim(
            ctx.engine,
            worker=worker,
            now=ctx.clock(),
            lease=lease,
            retry_failed=retry_failed,
            skip=frozenset(tried),
            opportunity_id=only,
            kinds=kinds,
            renders_left_to_others=frozenset(handed),
        )
        if claimed is None:
            break
        tried.update(claimed.ids)
        if after_claim is not None:
            after_claim(claimed)
        ref = str(claimed.payload.get("ref", ""))
        try:
            result = _run(ctx, claimed, carrier)
        except Exception as error:  # recorded on the effect and retried; the move stands
            reason = f"{type(error).__name__}: {error}".splitlines()[0]
            retry_at = policy.next_attempt(claimed.attempts, ctx.clock())
            effects.fail(ctx.engine, claimed, worker=worker, error=reason, retry_at=retry_at)
            log.warning("effect %s failed (attempt %d): %s", claimed.key, claimed.attempts, reason)
            report.failed.append(
                EffectOutcome(claimed.kind, ref, claimed.key, reason, retry_at is not None)
            )
            continue
        effects.finish(ctx.engine, claimed, worker=worker, now=ctx.clock(), result=result)
        report.done.append(EffectOutcome(claimed.kind, ref, claimed.key, result))
        if isinstance(result, HandedOver) and claimed.opportunity_id is not None:
            handed.add(claimed.opportunity_id)
    if notify:
        from orchestrator.slack.notify import get_notifier  # slack-sdk only when delivering

        delivered = (notifier or get_notifier(ctx)).deliver_pending(
            ctx,
            settle_for=only,
            count=False,  # what is left unsent: not this door's to say
        )
        report.notified, report.not_notified = delivered.sent, delivered.failed
    return report


def resume(ctx: Context, carrier: Carrier, refs: list[str] | None = None) -> dict[str, str]:
    """`bid resume`: retry now every failed or waiting effect (of these bids, when named),
    then hand each named bid that had no carry to run over to the carrier as well (an
    operator's "carry it on now"). Returns one line per bid."""
    lines: dict[str, str] = {}
    targets: list[str | None] = [format_ref(parse_ref(r)) for r in refs] if refs else [None]
    for ref in targets:
        report = drain(ctx, carrier, retry_failed=True, ref=ref)
        for outcome in report.done:
            _add_line(lines, outcome.ref, f"{outcome.kind.value}: {outcome.message}")
        for outcome in report.failed:
            _add_line(lines, outcome.ref, f"{outcome.kind.value} failed: {outcome.message}")
        carried = any(o.kind == EffectKind.CARRY for o in [*report.done, *report.failed])
        if ref is not None and not carried:
            try:
                _add_line(lines, ref, carrier.continue_bid(ctx, ref, "resume"))
            except BidError as refused:  # a guard holds it, or the runner is unreachable
                _add_line(lines, ref, f"not carried on: {refused}")
    return lines


def _add_line(lines: dict[str, str], ref: str, line: str) -> None:
    lines[ref] = f"{lines[ref]}; {line}" if ref in lines else line
