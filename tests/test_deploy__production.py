"""Production mode, proven on this machine: PostgreSQL, a Prefect server on PostgreSQL, two
task workers, the served flows and the signed Slack endpoint (deploy/stack.py), with bids
pushed through every step concurrently — answers given in Slack, quotes imported — and then
the same run again through faults: a worker killed with SIGKILL and restarted, PostgreSQL
restarted, the Prefect server stopped for 30 s.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.lifecycle.table import State
from tests.support.production import ProductionRun

pytestmark = [pytest.mark.prefect_server, pytest.mark.slow, pytest.mark.postgres]

BIDS = int(os.environ.get("BID_TEST_PRODUCTION_BIDS", "50"))
FAULT_BIDS = int(os.environ.get("BID_TEST_FAULT_BIDS", "12"))


@pytest.fixture
def run(tmp_path: Path) -> Iterator[ProductionRun]:
    production = ProductionRun(tmp_path / "stack")
    try:
        yield production
    finally:
        production.close()


def _through_every_step(run: ProductionRun, refs: list[str], resume: bool = False) -> None:
    during = (lambda: run.bid("resume", "--older-than", "5")) if resume else None
    run.carry_on(refs, tolerate=resume)
    run.wait_for(refs, State.QUALIFICATION, 300, during)
    run.decide_in_slack(refs)
    run.wait_for(refs, State.BID_PRODUCTION, 300, during)
    run.produce(refs)
    run.carry_on(refs, tolerate=resume)
    run.wait_for(refs, State.GOVERNANCE_REVIEW, 300, during)
    run.approve_in_slack(refs)
    run.wait_for(refs, State.SUBMISSION, 300, during)
    run.submit(refs)
    run.wait_for(refs, State.CUSTOMER_DECISION, 300, during)
    run.win(refs)
    run.carry_on(refs, tolerate=resume)
    run.wait_for(refs, State.CONTRACTED, 300, during)


def _assert_consistent(run: ProductionRun, refs: list[str]) -> None:
    report = run.check(refs)
    assert report.states == {"contracted": len(refs)}
    assert report.transitions_ok, "one audit event per transition, in the won bid's order"
    assert report.duplicate_documents == []
    assert report.duplicate_messages == [], "no Slack message sent twice"
    assert report.locked == []


def test_bids_go_through_every_step_on_the_stack(run: ProductionRun) -> None:
    refs = run.create(BIDS)
    _through_every_step(run, refs)
    _assert_consistent(run, refs)
    # every run that ran completed; the schedules' future runs wait their turn, and a
    # scheduled resume that is just starting is given the time to finish (the server writes
    # task runs' states in batches, within a second: a finished one may still read SCHEDULED)
    deadline = time.monotonic() + 120
    runs = run.run_states()
    unfinished = (":PENDING", ":RUNNING", "task_runs:SCHEDULED")
    while any(k.endswith(unfinished) for k in runs) and time.monotonic() < deadline:
        time.sleep(1)
        runs = run.run_states()
    assert runs["task_runs:COMPLETED"] >= 4 * BIDS
    finished = {k: v for k, v in runs.items() if k != "flow_runs:SCHEDULED"}
    assert {k: v for k, v in finished.items() if not k.endswith(":COMPLETED")} == {}, runs


def test_the_same_end_through_a_killed_worker_a_database_restart_and_a_prefect_outage(
    run: ProductionRun,
) -> None:
    refs = run.create(FAULT_BIDS)
    chaos = random.Random(20261127)
    stop = threading.Event()
    seen: list[str] = []

    def faults() -> None:
        time.sleep(chaos.uniform(1, 4))
        run.stack.kill("worker-1")  # SIGKILL in the middle of carrying bids on
        time.sleep(2)
        run.stack.start("worker-1")
        stop.wait(chaos.uniform(3, 8))
        run.stack.restart_postgres()
        stop.wait(chaos.uniform(3, 8))
        run.stack.stop("prefect", signal.SIGTERM)
        reads = run.bid("list", "--json")  # reading needs no Prefect
        seen.append(f"list while Prefect is down: exit {reads.returncode} {reads.stderr[-200:]}")
        stop.wait(30)
        run.stack.start("prefect")

    injector = threading.Thread(target=faults)
    injector.start()
    try:
        _through_every_step(run, refs, resume=True)
    finally:
        injector.join(timeout=180)
    assert not injector.is_alive()
    assert seen == ["list while Prefect is down: exit 0 "], seen
    _assert_consistent(run, refs)
