"""Orchestration overhead of the Prefect flows, and bids through all steps with 2 workers.

1. Per lifecycle step: the same step done by `services.advance` directly and by a flow run
   (`PrefectRunner.advance_once`), on the Prefect that `bid` would use here (a running
   `bid ui`, PREFECT_API_URL, or the temporary server). Target: overhead ≤ 200 ms per step.
2. `--bids` bids (default 200) carried through all eight steps, with the people's answers
   scripted, by `--workers` processes (default 2) against one local Prefect server that this
   benchmark starts (`bid ui`), each bid's automated work as flow runs.

Documents come from a fast deterministic port, so the figures are about orchestration.

    .venv/bin/python bench/bench_flows.py [--bids 200] [--workers 2] [--per-step 15]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Figure, add_output_option, read_figures, write_figures  # noqa: E402
from orchestrator.config import Settings, load_settings  # noqa: E402
from orchestrator.context import Context  # noqa: E402
from orchestrator.wiring import open_context  # noqa: E402

TARGET_OVERHEAD_MS = 200.0


def _settings(root: Path, ui_port: int | None = None) -> Settings:
    env = {
        "BID_DATABASE_URL": f"sqlite:///{root / 'bid.db'}",
        "BID_DATA_DIR": str(root / ".bid"),
        "BID_OUTPUT_DIR": str(root / "out"),
        "BID_RULES_DIR": str(ROOT / "rules"),
        "BID_TEMPLATES_DIR": str(ROOT / "templates"),
        "BID_AUTOSTART": "0",
    }
    if ui_port:
        env["BID_UI_PORT"] = str(ui_port)
    return load_settings(env, cwd=root)


def _context(settings: Settings) -> Context:
    from tests.support.prefect_server import PausingDocuments

    return open_context(settings, documents=PausingDocuments())


def _carry(ctx: Context, ref: str, step: Callable[[Context, str], object]) -> None:
    """A whole life: automated steps by `step`, the people's answers scripted in between."""
    from orchestrator.bid.progress import services
    from orchestrator.bid.progress.submission import submit_offer
    from orchestrator.store.db import transaction
    from tests.factories import APPROVERS, PEOPLE, produce

    def until_waiting() -> None:
        for _ in range(10):
            result = step(ctx, ref)
            if not getattr(result, "moved", False):
                return

    until_waiting()
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="bench")
    until_waiting()
    produce(ctx, ref)  # QRFs, firm quotes, order details, the design frozen
    until_waiting()
    with transaction(ctx.engine) as session:
        opportunity = services.get_opportunity(session, ref)
        areas = [a.area for a in services.current_approvals(session, opportunity)]
    for area in areas:
        services.approve(ctx, ref, area=area, by=APPROVERS[area])
    until_waiting()
    submit_offer(ctx, ref, by=PEOPLE["bid_manager"], channel="portal", reference="bench")
    services.record_result(ctx, ref, won=True, reason="bench", by=PEOPLE["bid_manager"])
    until_waiting()


def overhead(per_step: int) -> dict[str, tuple[float, float]]:
    """Median ms per step: direct service call vs flow run."""
    from orchestrator.bid.progress import services
    from orchestrator.runtime import prefect_env
    from orchestrator.runtime.prefect_runner import PrefectRunner
    from tests.factories import new_bid

    root = Path(tempfile.mkdtemp(prefix="bench-flows-"))
    ctx = _context(_settings(root))
    target = prefect_env.configure(ctx.settings)
    print(f"Prefect: {target.describe()}")
    runner = PrefectRunner()
    timings: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))

    def timed(
        kind: str, call: Callable[[Context, str], services.StepResult]
    ) -> Callable[[Context, str], services.StepResult]:
        def step(c: Context, ref: str) -> services.StepResult:
            started = time.perf_counter()
            result = call(c, ref)
            timings[result.from_state.value][kind].append((time.perf_counter() - started) * 1000)
            return result

        return step

    runner.advance_once(ctx, new_bid(ctx), "bench")  # starts Prefect (not timed)
    direct = timed("direct", lambda c, ref: services.advance(c, ref, "bench"))
    flowed = timed("flow", lambda c, ref: runner.advance_once(c, ref, "bench"))
    for _ in range(per_step):
        _carry(ctx, new_bid(ctx), direct)
        _carry(ctx, new_bid(ctx), flowed)
    result = {}
    for state, kinds in timings.items():
        if kinds["direct"] and kinds["flow"]:
            result[state] = (statistics.median(kinds["direct"]), statistics.median(kinds["flow"]))
    return result


def _worker(root: str, ui_port: int, refs: list[str], queue: multiprocessing.Queue[float]) -> None:
    from orchestrator.runtime.prefect_runner import PrefectRunner

    ctx = _context(_settings(Path(root), ui_port))
    runner = PrefectRunner()
    started = time.perf_counter()
    for ref in refs:
        _carry(ctx, ref, lambda c, r: runner.advance_once(c, r, "bench"))
    queue.put(time.perf_counter() - started)


def many_bids(bids: int, workers: int) -> tuple[float, str]:
    """Seconds for `bids` bids through all steps with `workers` processes; and the server."""
    from tests.factories import new_bid
    from tests.support.prefect_server import BidProject, BidUi, free_port

    root = Path(tempfile.mkdtemp(prefix="bench-flows-many-"))
    project = BidProject(root, free_port())
    ctx = _context(_settings(root, project.ui_port))
    refs = [new_bid(ctx) for _ in range(bids)]
    ctx.engine.dispose()
    ui = BidUi(project).start()
    try:
        spawn = multiprocessing.get_context("spawn")
        queue: multiprocessing.Queue[float] = spawn.Queue()
        started = time.perf_counter()
        processes = [
            spawn.Process(
                target=_worker, args=(str(root), project.ui_port, refs[i::workers], queue)
            )
            for i in range(workers)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        elapsed = time.perf_counter() - started
        if any(p.exitcode for p in processes):
            raise SystemExit("a worker failed")
    finally:
        ui.stop()
    return elapsed, project.api_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bids", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-step", type=int, default=15, help="bids per kind for overhead")
    parser.add_argument("--skip-many", action="store_true")
    add_output_option(parser)
    args = parser.parse_args()
    os.environ.setdefault("DO_NOT_TRACK", "1")

    if args.skip_many:
        medians = overhead(args.per_step)
    else:  # the overhead part configures Prefect for this process: run it in a child
        child_out = Path(tempfile.mkdtemp(prefix="bench-flows-")) / "overhead.json"
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--skip-many",
                "--per-step",
                str(args.per_step),
                "--json-out",
                str(child_out),
            ],
            check=False,
        )
        if done.returncode:
            raise SystemExit(done.returncode)
        elapsed, _ = many_bids(args.bids, args.workers)
        steps = 8
        print(
            f"\n{args.bids} bids × {steps} steps with {args.workers} workers: {elapsed:.1f} s "
            f"({elapsed / args.bids * 1000:.0f} ms per bid, "
            f"{args.bids / elapsed * 60:.0f} bids per minute)"
        )
        write_figures(
            args.json_out,
            [
                *read_figures(child_out),
                Figure(
                    f"{args.bids} bids, a flow run per step, {args.workers} served-flow workers",
                    round(elapsed, 1),
                    "s",
                    note=f"{args.bids / elapsed * 60:.0f} bids/min (the embedded way; "
                    "production mode: bench_production_mode.py)",
                ),
            ],
        )
        return

    print(f"\n{'step (state)':24} {'direct ms':>10} {'flow ms':>10} {'overhead':>10}")
    worst = 0.0
    for state, (direct, flowed) in medians.items():
        extra = flowed - direct
        worst = max(worst, extra)
        print(f"{state:24} {direct:10.1f} {flowed:10.1f} {extra:10.1f}")
    write_figures(
        args.json_out,
        [
            Figure(
                "orchestration overhead per step (flow run vs direct call), worst step",
                round(worst, 1),
                "ms",
                TARGET_OVERHEAD_MS,
            )
        ],
    )
    verdict = "OK" if worst <= TARGET_OVERHEAD_MS else "OVER"
    print(
        f"worst overhead per step: {worst:.0f} ms (target ≤ {TARGET_OVERHEAD_MS:.0f} ms) {verdict}"
    )


if __name__ == "__main__":
    main()
