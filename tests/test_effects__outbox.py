"""The effects outbox: what follows a move is a row committed with it, run once by one
dispatcher after the commit, retried when it fails, and shown by `bid status` meanwhile —
on SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from orchestrator.bid.progress import services
from orchestrator.bid.reports.queries import status
from orchestrator.context import Context
from orchestrator.core.effects import LEASE, RETRY, EffectKind, EffectStatus, RetryPolicy
from orchestrator.dispatch import RENDERS_ONLY, InlineCarrier, drain, resume
from orchestrator.errors import DecisionRefused, RuntimeUnavailable
from orchestrator.ports import DealVersion
from orchestrator.store import effects
from orchestrator.store.db import reading, settle_before_commit, transaction
from orchestrator.store.models import AuditEvent, Effect, Opportunity
from tests.conftest import REPO, START, FixedClock, RecordingDocuments
from tests.factories import APPROVERS, PEOPLE, carry_to_governance, new_bid, queue_render


def _effects(ctx: Context) -> list[Effect]:
    with reading(ctx.engine) as session:
        return list(session.exec(select(Effect).order_by(col(Effect.id))).all())


def _state(ctx: Context, ref: str) -> str:
    with reading(ctx.engine) as session:
        return services.get_opportunity(session, ref).state.value


def _in_qualification(ctx: Context) -> str:
    """A new bid moved once (pre-qualification → qualification) and its render not yet run."""
    ref = new_bid(ctx)
    services.advance(ctx, ref)
    assert _state(ctx, ref) == "qualification"
    return ref


# --- written with the move --------------------------------------------------------------------


def test_a_move_writes_its_render_effect_and_the_dispatcher_runs_it_once(
    ctx: Context, documents: RecordingDocuments
) -> None:
    ref = _in_qualification(ctx)
    (effect,) = _effects(ctx)
    with reading(ctx.engine) as session:
        opportunity = services.get_opportunity(session, ref)
        moved = session.exec(
            select(AuditEvent).where(AuditEvent.trigger == "qualify")
        ).one()  # the move and its effect: one transaction, one version
    assert (effect.kind, effect.status) == (EffectKind.RENDER, EffectStatus.PENDING)
    assert effect.key == f"render:{opportunity.id}:{opportunity.version}"
    assert moved.idempotency_key == f"{opportunity.id}:qualify:{opportunity.version}"
    assert documents.refreshed == []  # nothing renders inside the command's commit
    assert [e["kind"] for e in status(ctx, ref).pending_effects] == ["render"]

    report = drain(ctx, notify=False)

    assert [(o.kind, o.ref) for o in report.done] == [(EffectKind.RENDER, ref)]
    assert documents.refreshed == [(ref, "qualification")]
    (done,) = _effects(ctx)
    assert done.status == EffectStatus.DONE and done.attempts == 1 and done.done_at is not None
    assert drain(ctx, notify=False).done == []  # a second drain repeats nothing
    assert documents.refreshed == [(ref, "qualification")]
    assert status(ctx, ref).pending_effects == []


def test_the_due_renders_of_a_bid_run_as_one_render_and_all_end_done(
    ctx: Context, documents: RecordingDocuments
) -> None:
    ref = new_bid(ctx)
    other = new_bid(ctx)
    services.advance(ctx, ref)  # pre-qualification → qualification: a render queued
    services.run_to_wait(ctx, ref)  # the go/no-go asked (and any move on the way: renders)
    services.advance(ctx, other)
    due = [e for e in _effects(ctx) if e.kind == EffectKind.RENDER]
    mine = [e for e in due if e.opportunity_id == 1]
    assert len(mine) >= 1 and len(due) == len(mine) + 1
    queue_render(ctx, ref)  # one more render of the same bid is due

    report = drain(ctx, notify=False)

    # one render of each bid as it is now, whatever number of moves queued one
    assert sorted(documents.refreshed) == sorted([(ref, "qualification"), (other, "qualification")])
    assert all(e.status == EffectStatus.DONE for e in _effects(ctx) if e.kind == EffectKind.RENDER)
    assert {o.ref for o in report.done} == {ref, other}
    assert drain(ctx, notify=False).done == []


def test_a_failed_render_fails_every_render_it_stood_for(
    ctx: Context, documents: RecordingDocuments, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = _in_qualification(ctx)
    queue_render(ctx, ref)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(documents, "current_documents", broken)
    report = drain(ctx, notify=False)
    assert [o.kind for o in report.failed] == [EffectKind.RENDER]
    renders = [e for e in _effects(ctx) if e.kind == EffectKind.RENDER]
    assert len(renders) == 2 and all(e.status == EffectStatus.FAILED for e in renders)
    monkeypatch.undo()
    resume(ctx, InlineCarrier(), [ref])
    renders = [e for e in _effects(ctx) if e.kind == EffectKind.RENDER]
    assert all(e.status == EffectStatus.DONE for e in renders)
    assert documents.refreshed == [(ref, "qualification")]


def test_a_door_that_hands_the_bid_to_workers_leaves_its_later_renders_to_them(
    ctx: Context, documents: RecordingDocuments
) -> None:
    from orchestrator.dispatch import HandedOver

    class Handing:
        def continue_bid(self, ctx: Context, ref: str, actor: str) -> str:
            return HandedOver(f"{ref}: handed to the task workers")

    ref = _in_qualification(ctx)
    services.run_to_wait(ctx, ref)
    drain(ctx, notify=False)
    with transaction(ctx.engine) as session:  # a carry, then a render queued after it
        opportunity = services.get_opportunity(session, ref)
        for kind, key in ((EffectKind.CARRY, "carry:test"), (EffectKind.RENDER, "render:test")):
            effects.enqueue(
                session,
                key=key,
                kind=kind,
                opportunity_id=opportunity.id,
                payload={"ref": ref, "actor": PEOPLE["bid_manager"]},
                now=ctx.clock(),
            )
    refreshed = len(documents.refreshed)

    report = drain(ctx, Handing(), notify=False)  # the Slack app, say: it hands over

    assert [o.kind for o in report.done] == [EffectKind.CARRY]
    waiting = [e for e in _effects(ctx) if e.status == EffectStatus.PENDING]
    assert [e.key for e in waiting] == ["render:test"]
    assert len(documents.refreshed) == refreshed
    # the worker's run renders it once it has moved the bid (here: no move)
    worker = drain(ctx, InlineCarrier(), ref=ref, kinds=RENDERS_ONLY, notify=False)
    assert [o.kind for o in worker.done] == [EffectKind.RENDER]
    assert len(documents.refreshed) == refreshed + 1


def test_a_go_no_go_handed_to_the_workers_is_rendered_once_by_the_worker(
    ctx: Context, documents: RecordingDocuments
) -> None:
    """The go/no-go's move queues a render, then its carry: the door hands the bid over
    first and leaves the render to the worker, which renders once after its own moves."""
    from orchestrator.dispatch import HandedOver

    class Handing:
        def continue_bid(self, ctx: Context, ref: str, actor: str) -> str:
            return HandedOver(f"{ref}: handed to the task workers")

    ref = _in_qualification(ctx)
    drain(ctx, notify=False)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
    queued = [e.kind for e in _effects(ctx) if e.status == EffectStatus.PENDING]
    assert queued == [EffectKind.RENDER, EffectKind.CARRY]  # the render is the older one
    refreshed = len(documents.refreshed)

    door = drain(ctx, Handing(), notify=False)  # the Slack app: it hands the bid over

    assert [o.kind for o in door.done] == [EffectKind.CARRY]
    assert len(documents.refreshed) == refreshed  # the door rendered nothing
    services.run_to_wait(ctx, ref)  # the worker's run (flows/tasks.py carry_bid): its moves,
    worker = drain(ctx, InlineCarrier(), ref=ref, kinds=RENDERS_ONLY, notify=False)  # renders
    assert [o.kind for o in worker.done] == [EffectKind.RENDER]
    assert len(documents.refreshed) == refreshed + 1
    assert documents.refreshed[-1] == (ref, _state(ctx, ref))  # rendered after the moves
    assert _state(ctx, ref) == "bid_production"


def test_a_refused_answer_writes_no_effect(ctx: Context) -> None:
    ref = _in_qualification(ctx)
    drain(ctx, notify=False)
    with pytest.raises(DecisionRefused):
        services.decide(ctx, ref, outcome="bid", by=APPROVERS["legal"], reason="not mine")
    assert [e.kind for e in _effects(ctx)] == [EffectKind.RENDER]  # the earlier move's only


def test_the_go_no_go_decides_the_carry_on_once_and_the_dispatcher_carries_the_bid(
    ctx: Context, documents: RecordingDocuments
) -> None:
    ref = _in_qualification(ctx)
    services.run_to_wait(ctx, ref)  # the go/no-go asked
    drain(ctx, notify=False)

    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")

    carries = [e for e in _effects(ctx) if e.kind == EffectKind.CARRY]
    assert [(c.status, c.payload["actor"], c.payload["cause"]) for c in carries] == [
        (EffectStatus.PENDING, PEOPLE["bid_manager"], "go_no_go")
    ]
    assert _state(ctx, ref) == "kick_off"  # the answer is committed; carrying it on is next
    report = drain(ctx, notify=False)
    assert _state(ctx, ref) == "bid_production"  # kick-off done; production waits for people
    assert [o.kind for o in report.done].count(EffectKind.CARRY) == 1
    # the moves the carry made were rendered in the same drain
    assert (ref, "bid_production") in documents.refreshed
    assert all(e.status == EffectStatus.DONE for e in _effects(ctx))


def test_only_the_last_approval_of_the_round_carries_the_bid_on(ctx: Context) -> None:
    ref = new_bid(ctx)
    carry_to_governance(ctx, ref)
    drain(ctx, notify=False)
    with reading(ctx.engine) as session:
        opportunity = services.get_opportunity(session, ref)
        areas = [a.area for a in services.current_approvals(session, opportunity)]
    assert len(areas) >= 2

    def approval_carries() -> list[Effect]:
        return [
            e
            for e in _effects(ctx)
            if e.kind == EffectKind.CARRY and e.payload["cause"].startswith("approval:")
        ]

    for area in areas[:-1]:
        services.approve(ctx, ref, area=area, by=APPROVERS[area])
        assert approval_carries() == []
    services.approve(ctx, ref, area=areas[-1], by=APPROVERS[areas[-1]])
    (carry,) = approval_carries()
    assert carry.payload["cause"] == f"approval:{areas[-1]}"
    drain(ctx, notify=False)
    assert _state(ctx, ref) == "submission"  # carried on to the offer waiting for bid submit


# --- a failed effect never undoes the move ---------------------------------------------------


@dataclasses.dataclass
class BrokenTemplate(RecordingDocuments):
    """The plan's template is broken: every render of the bid's documents raises."""

    def current_documents(
        self,
        session: Session,
        opportunity: Opportunity,
        out_dir: Path,
        version: DealVersion | None = None,
    ) -> Any:
        raise ValueError("control_plan.docx: unexpected '}' in {{ milestones }")


def test_a_failed_render_leaves_the_move_shows_in_status_and_a_retry_renders_it(
    ctx: Context, clock: FixedClock, documents: RecordingDocuments
) -> None:
    ref = _in_qualification(ctx)
    broken = dataclasses.replace(ctx, _documents=BrokenTemplate())

    report = drain(broken, notify=False)

    (failure,) = report.failed
    assert failure.kind == EffectKind.RENDER and "unexpected '}'" in failure.message
    assert _state(ctx, ref) == "qualification"  # the move stands committed
    shown = status(ctx, ref)
    (failed,) = shown.failed_effects
    assert failed["kind"] == "render" and failed["attempts"] == 1
    assert failed["error"] == "ValueError: control_plan.docx: unexpected '}' in {{ milestones }"
    assert failed["next_attempt_at"] == (clock.now + RETRY.delay(1)).isoformat()
    assert shown.as_dict()["failed_effects"] == [failed]
    assert shown.pending_effects == []

    assert drain(ctx, notify=False).done == []  # not due yet: the backoff holds
    clock.advance(seconds=RETRY.delay(1).total_seconds())
    retried = drain(ctx, notify=False)

    assert [o.key for o in retried.done] == [failed["key"]]
    assert documents.refreshed == [(ref, "qualification")]
    assert status(ctx, ref).failed_effects == []
    (effect,) = _effects(ctx)
    assert (effect.status, effect.attempts, effect.last_error) == (EffectStatus.DONE, 2, None)


def test_spent_retries_wait_for_bid_resume(ctx: Context, clock: FixedClock) -> None:
    ref = _in_qualification(ctx)
    broken = dataclasses.replace(ctx, _documents=BrokenTemplate())
    policy = RetryPolicy(first=timedelta(seconds=10), attempts=2)
    drain(broken, notify=False, policy=policy)
    clock.advance(seconds=10)
    drain(broken, notify=False, policy=policy)
    (failed,) = status(ctx, ref).failed_effects
    assert failed["attempts"] == 2 and failed["next_attempt_at"] is None  # no more by itself
    clock.advance(days=30)
    assert drain(ctx, notify=False).done == []
    assert len(drain(ctx, notify=False, retry_failed=True).done) == 1  # `bid resume`
    assert status(ctx, ref).failed_effects == []


def test_retry_policy_backs_off_and_stops() -> None:
    policy = RetryPolicy(first=timedelta(seconds=30), longest=timedelta(minutes=4), attempts=5)
    assert [policy.delay(n).total_seconds() for n in range(1, 6)] == [30, 60, 120, 240, 240]
    assert policy.next_attempt(4, START) == START + timedelta(minutes=4)
    assert policy.next_attempt(5, START) is None


def test_bid_resume_retries_failed_effects_now_and_carries_a_named_bid_on(
    ctx: Context, documents: RecordingDocuments
) -> None:
    ref = _in_qualification(ctx)
    drain(dataclasses.replace(ctx, _documents=BrokenTemplate()), notify=False)
    assert status(ctx, ref).failed_effects

    lines = resume(ctx, InlineCarrier())

    assert lines == {ref: "render: 1 document(s) rendered"}
    assert status(ctx, ref).failed_effects == []
    assert documents.refreshed == [(ref, "qualification")]
    # a named bid with no carry waiting is handed to the carrier all the same
    assert resume(ctx, InlineCarrier(), [ref.lower()])[ref].startswith("recommendation: ")


def test_a_flow_run_drains_only_the_renders_of_its_own_bid(ctx: Context) -> None:
    ref = _in_qualification(ctx)
    services.run_to_wait(ctx, ref)
    other = _in_qualification(ctx)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")

    report = drain(ctx, ref=ref, kinds=RENDERS_ONLY, notify=False)

    assert {o.ref for o in report.done} == {ref}
    assert {o.kind for o in report.done} == {EffectKind.RENDER}
    left = {(e.payload["ref"], e.kind) for e in _effects(ctx) if e.status == EffectStatus.PENDING}
    assert left == {(other, EffectKind.RENDER), (ref, EffectKind.CARRY)}
    assert _state(ctx, ref) == "kick_off"  # the carry-on is the door's to run


class UnreachableWorkers:
    """A runner whose Prefect server does not answer."""

    def continue_bid(self, ctx: Context, ref: str, actor: str) -> str:
        raise RuntimeUnavailable(f"{ref}: recorded, but the task workers could not be reached")


def test_a_carry_the_workers_did_not_take_is_failed_and_retried(
    ctx: Context, clock: FixedClock
) -> None:
    ref = _in_qualification(ctx)
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")

    report = drain(ctx, UnreachableWorkers(), notify=False)

    assert [o.kind for o in report.failed] == [EffectKind.CARRY]
    assert _state(ctx, ref) == "kick_off"  # the go/no-go stands
    (failed,) = status(ctx, ref).failed_effects
    assert failed["kind"] == "carry" and "could not be reached" in failed["error"]
    clock.advance(seconds=RETRY.delay(1).total_seconds())
    drain(ctx, InlineCarrier(), notify=False)  # Prefect answers again
    assert _state(ctx, ref) == "bid_production"
    assert status(ctx, ref).failed_effects == []


# --- one dispatcher runs an effect, however many drain -----------------------------------------


def test_of_many_claimers_one_takes_the_effect(ctx: Context, clock: FixedClock) -> None:
    _in_qualification(ctx)
    barrier = threading.Barrier(6)
    taken: list[effects.ClaimedEffect | None] = []

    def claim(n: int) -> None:
        barrier.wait(timeout=30)
        taken.append(effects.claim(ctx.engine, worker=f"w{n}", now=clock.now, lease=LEASE))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(taken) == 6
    assert len([t for t in taken if t is not None]) == 1
    (effect,) = _effects(ctx)
    assert effect.status == EffectStatus.RUNNING and effect.attempts == 1


@dataclasses.dataclass
class HeldRender(RecordingDocuments):
    """Renders like the recording port, but holds the render until the test releases it."""

    started: threading.Event = dataclasses.field(default_factory=threading.Event)
    release: threading.Event = dataclasses.field(default_factory=threading.Event)

    def current_documents(
        self,
        session: Session,
        opportunity: Opportunity,
        out_dir: Path,
        version: DealVersion | None = None,
    ) -> Any:
        produced = super().current_documents(session, opportunity, out_dir, version)  # type: ignore[no-untyped-call]
        self.started.set()
        if not self.release.wait(timeout=60):
            raise TimeoutError("the test never released the render")
        return produced


def test_two_drainers_at_once_run_the_effect_once(ctx: Context) -> None:
    ref = _in_qualification(ctx)
    held = HeldRender()
    first: list[Any] = []
    thread = threading.Thread(
        target=lambda: first.append(drain(dataclasses.replace(ctx, _documents=held), notify=False))
    )
    thread.start()
    try:
        assert held.started.wait(timeout=30), "the first drain never started its render"
        second = drain(ctx, notify=False)  # while the first holds the effect
        assert second.done == [] and second.failed == []
    finally:
        held.release.set()
        thread.join(timeout=60)
    assert [o.ref for o in first[0].done] == [ref]
    assert held.refreshed == [(ref, "qualification")]
    (effect,) = _effects(ctx)
    assert effect.status == EffectStatus.DONE and effect.attempts == 1


# --- a dispatcher killed between its claim and the effect ---------------------------------------


def _child_env(ctx: Context) -> dict[str, str]:
    settings = ctx.settings
    return {
        **os.environ,
        "BID_DATABASE_URL": settings.database_url,
        "BID_DATA_DIR": str(settings.data_dir),
        "BID_OUTPUT_DIR": str(settings.output_dir),
        "BID_RULES_DIR": str(settings.rules_dir),
        "BID_TEMPLATES_DIR": str(settings.templates_dir),
        "BID_AUTOSTART": "0",
        "PYTHONPATH": str(REPO),
    }


@pytest.fixture
def child(ctx: Context, tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    yield _child_env(ctx), tmp_path / "renders.txt"


def _run_child(env: dict[str, str], now: str, count: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.effects_child", now, str(count)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


def test_a_dispatcher_killed_after_its_claim_runs_the_effect_once_after_a_restart(
    ctx: Context, clock: FixedClock, child: tuple[dict[str, str], Path]
) -> None:
    env, count = child
    ref = _in_qualification(ctx)
    command = [sys.executable, "-m", "tests.support.effects_child", clock.now.isoformat()]
    process = subprocess.Popen(
        [*command, str(count), "hold"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until the child holds its claim
        assert line.startswith("claimed render:"), process.stderr.read() if process.stderr else ""
        process.send_signal(signal.SIGKILL)  # between the claim and the effect
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    (effect,) = _effects(ctx)
    assert (effect.status, effect.attempts) == (EffectStatus.RUNNING, 1)
    assert not count.exists()  # it never ran
    assert _state(ctx, ref) == "qualification"

    # restarted while the dead dispatcher's lease still holds: nothing is run twice
    assert _run_child(env, clock.now.isoformat(), count) == "done 0 failed 0"
    # restarted once the lease has run out: the effect runs, once
    later = (clock.now + LEASE + timedelta(seconds=1)).isoformat()
    assert _run_child(env, later, count) == "done 1 failed 0"
    assert _run_child(env, later, count) == "done 0 failed 0"
    assert count.read_text().splitlines() == [ref]
    (effect,) = _effects(ctx)
    assert (effect.status, effect.attempts) == (EffectStatus.DONE, 2)


# --- nothing runs in session event hooks -------------------------------------------------------


def test_no_session_event_hook_does_work(ctx: Context) -> None:
    import orchestrator.bid.trail.recording  # noqa: F401  (it once registered the hooks)

    with OrmSession(ctx.engine) as session:
        for name in ("before_commit", "after_commit", "after_rollback", "before_flush"):
            assert list(getattr(session.dispatch, name)) == [], name


def test_a_unit_of_work_settles_inside_its_transaction_and_not_when_it_rolls_back(
    ctx: Context,
) -> None:
    ran: list[str] = []
    with transaction(ctx.engine) as session:
        settle_before_commit(session, "milestones", lambda s: ran.append("asked first"))
        settle_before_commit(session, "milestones", lambda s: ran.append("asked again"))
        assert ran == []  # nothing runs until the unit commits
    assert ran == ["asked again"]  # once per key
    with pytest.raises(RuntimeError), transaction(ctx.engine) as session:
        settle_before_commit(session, "milestones", lambda s: ran.append("rolled back"))
        raise RuntimeError("the change failed")
    assert ran == ["asked again"]


def test_a_claim_is_one_transaction_on_postgresql_and_reads_first_on_sqlite(ctx: Context) -> None:
    """SQLite takes its write lock at BEGIN: a claim reads first and writes only when
    something is due. PostgreSQL locks nothing for a read: one transaction does both."""
    from sqlalchemy import event

    ref = _in_qualification(ctx)
    began: list[str] = []
    event.listen(ctx.engine, "begin", lambda conn: began.append("begin"))
    claimed = effects.claim(ctx.engine, worker="w", now=ctx.clock(), lease=LEASE)
    assert claimed is not None and claimed.payload["ref"] == ref
    postgres = ctx.engine.dialect.name == "postgresql"
    assert len(began) == (1 if postgres else 2)
    began.clear()
    assert effects.claim(ctx.engine, worker="w", now=ctx.clock(), lease=LEASE) is None
    assert len(began) == 1  # nothing due: one read (SQLite) or one empty transaction
