"""Production mode: many bids at once through every step on the stack of deploy/stack.py.

PostgreSQL (bid database and Prefect's), a Prefect server on PostgreSQL, two long-lived
task workers, the served flows and the signed Slack endpoint, with the real slack-sdk
talking to a local server that speaks Slack's Web API. The driver of
tests/support/production.py does what people do (go/no-go and approvals clicked in Slack,
quotes imported, the verdict recorded); the workers do every automated step.

    .venv/bin/python bench/bench_production_mode.py [--bids 200] [--workers 2]

Figures: the seconds the workers need for the automated steps of all bids (from each hand-
over until every bid has reached the next step that waits for a person; people's own time
is not counted), bids per minute, and the CPU-seconds per bid of the whole stack (workers,
flows, Prefect server, PostgreSQL, Slack endpoint). Targets: 200 bids' automated steps in
<= 60 s on 2 workers; <= 1.0 CPU-s per bid for the whole stack (issue 22). The baseline of
the first is issue 8's figure: 200 bids through every step with one flow run per step took
216 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Figure, add_output_option, write_figures  # noqa: E402
from orchestrator.lifecycle.table import State  # noqa: E402
from tests.support.production import ProductionRun  # noqa: E402

TARGET_SECONDS = 60.0
BASELINE_SECONDS = 216.0  # issue 8: 200 bids, one flow run per step, 2 workers
TARGET_CPU_PER_BID = 1.0  # issue 22: the whole stack, every step of a bid
BASELINE_CPU_PER_BID = 5.04  # issue 22's starting point, 200 bids
TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def stack_cpu_seconds(run: ProductionRun) -> dict[str, float]:
    """User + system CPU per process of the stack (reaped children included)."""
    sessions = {pid: name for name, pid in run.stack.pids.items()}
    postmaster = None
    pid_file = run.stack.pg_data / "postmaster.pid"
    if pid_file.exists():
        postmaster = int(pid_file.read_text().split()[0])
    total: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fields = _stat(pid)
        if fields is None:
            continue
        ppid, session = int(fields[1]), int(fields[3])
        if session in sessions or pid == postmaster or ppid == postmaster:
            name = sessions.get(session, "postgres")
            # utime, stime, cutime, cstime are fields 14-17 (here 11-14)
            total[name] = total.get(name, 0) + sum(int(v) for v in fields[11:15]) / TICKS
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bids", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    add_output_option(parser)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bid-bench-production-") as folder:
        run = ProductionRun(Path(folder) / "stack", workers=args.workers)
        try:
            refs = run.create(args.bids)
            cpu_before = stack_cpu_seconds(run)
            automated: dict[str, float] = {}
            people: dict[str, float] = {}

            def workers(name: str, handover: Callable[[], None], state: State) -> None:
                start = time.perf_counter()
                handover()
                run.wait_for(refs, state, 1800)
                automated[name] = time.perf_counter() - start

            def person(name: str, act: Callable[[], None]) -> None:
                start = time.perf_counter()
                act()
                people[name] = time.perf_counter() - start

            wall = time.perf_counter()
            workers("qualification", lambda: run.carry_on(refs), State.QUALIFICATION)
            person("go/no-go in Slack", lambda: run.decide_in_slack(refs))
            workers("kick-off to production", lambda: None, State.BID_PRODUCTION)
            person("QRFs, quotes, freeze", lambda: run.produce(refs))
            workers("proposal and governance", lambda: run.carry_on(refs), State.GOVERNANCE_REVIEW)
            person("approvals in Slack", lambda: run.approve_in_slack(refs))
            workers("approved", lambda: None, State.SUBMISSION)
            person("offer sent (bid submit)", lambda: run.submit(refs))
            workers("submission", lambda: None, State.CUSTOMER_DECISION)
            person("verdict recorded", lambda: run.win(refs))
            workers("order sheet and contract", lambda: run.carry_on(refs), State.CONTRACTED)
            wall = time.perf_counter() - wall
            cpu_after = stack_cpu_seconds(run)
            by_process = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_after.items()}
            cpu = sum(by_process.values())
            report = run.check(refs)
        finally:
            run.close()

    worked = sum(automated.values())
    print(f"{args.bids} bids, {args.workers} task workers, production-mode stack")
    for name, seconds in automated.items():
        print(f"  workers  {name:<28} {seconds:7.1f} s")
    for name, seconds in people.items():
        print(f"  people   {name:<28} {seconds:7.1f} s")
    print(f"automated steps: {worked:.1f} s  ({args.bids / worked * 60:.0f} bids/min)")
    print(f"wall clock, people included: {wall:.1f} s")
    print(f"stack CPU: {cpu:.0f} s, {cpu / args.bids:.2f} CPU-s per bid")
    for name, seconds in sorted(by_process.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<12} {seconds / args.bids:6.2f} CPU-s per bid")
    print(
        f"end states {dict(report.states)}; one event per transition: {report.transitions_ok}; "
        f"duplicate documents {len(report.duplicate_documents)}, messages "
        f"{len(report.duplicate_messages)}"
    )
    scale = args.bids / 200
    write_figures(
        args.json_out,
        [
            Figure(
                f"production mode: automated steps of {args.bids} bids, {args.workers} workers",
                round(worked, 1),
                "s",
                target=TARGET_SECONDS * scale,
                baseline=BASELINE_SECONDS * scale,
                baseline_name="one flow run per step (issue 8)",
                note="CPU-bound on 2 cores: see bench/notes.md",
            ),
            Figure(
                "production mode: bids per minute (automated steps)",
                round(args.bids / worked * 60, 1),
                "bids/min",
                target=200.0,
                higher_is_better=True,
            ),
            Figure(
                "production mode: stack CPU per bid (all steps, all processes)",
                round(cpu / args.bids, 2),
                "CPU-s",
                target=TARGET_CPU_PER_BID,
                baseline=BASELINE_CPU_PER_BID,
                baseline_name="before issue 22",
            ),
        ],
    )
    return 0 if report.states == {"contracted": args.bids} else 1


if __name__ == "__main__":
    raise SystemExit(main())
