"""Whole-process time of `bid` commands, with and without the folder's `bid server`.

Measures what a user waits for: a new Python process per command, as the shell starts it
(the installed entry point, `orchestrator.cli.thin`). Without a service every command
runs in its own process (`advance` on Prefect's temporary server, BID_AUTOSTART=0); with
`bid server` up the same commands are sent to it and run in its warm process.

Targets (service up, 2-core machine): `bid status` ≤ 0.3 s, `bid list` with 1,000 bids
≤ 0.5 s, `bid advance` (one automated step, recorded as a flow run) ≤ 1.0 s, `bid approve`
≤ 1.0 s; the first command on a fresh folder (its step runs here while the service starts) ≤ 10 s.

    .venv/bin/python bench/bench_cli.py [--repeat 5] [--bids 1000]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Figure as BenchFigure  # noqa: E402
from bench.common import add_output_option, write_figures  # noqa: E402
from tests.support.prefect_server import BidProject, free_port, wait_for  # noqa: E402

TARGETS = {"status": 0.3, "list": 0.5, "advance": 1.0, "approve": 1.0, "first command": 10.0}


@dataclass
class Figure:
    command: str
    without: float | None
    with_service: float
    target: float

    @property
    def met(self) -> bool:
        return self.with_service <= self.target


def _timed(project: BidProject, *args: str, **env: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli.thin", *args],
        cwd=project.root,
        env={**project.env, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"bid {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def _prepare(project: BidProject, bids: int, waiting: int) -> tuple[list[str], list[str]]:
    """`bids` bids in pre-qualification, and `waiting` more in governance review."""
    from orchestrator.bid.progress import services
    from orchestrator.wiring import open_context
    from tests.factories import PEOPLE, new_bid, produce

    ctx = open_context(project.settings())
    fresh = [new_bid(ctx, site_count=2) for _ in range(bids)]
    review = []
    for _ in range(waiting):
        ref = new_bid(ctx)
        services.run_to_wait(ctx, ref)
        services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="bench")
        services.run_to_wait(ctx, ref)
        produce(ctx, ref)  # QRFs, firm quotes, order details, the design frozen
        services.run_to_wait(ctx, ref)
        review.append(ref)
    ctx.engine.dispose()
    return fresh, review


def _commands(
    project: BidProject, fresh: list[str], review: list[str], repeat: int
) -> dict[str, float]:
    approve = [
        _timed(project, "approve", ref, "--area", "technical", "--by", "ops@example.com")
        for ref in review[:repeat]
    ]
    return {
        "status": statistics.median(_timed(project, "status", fresh[0]) for _ in range(repeat)),
        "list": statistics.median(_timed(project, "list") for _ in range(repeat)),
        "advance": statistics.median(_timed(project, "advance", ref) for ref in fresh[:repeat]),
        "approve": statistics.median(approve),
    }


def first_command(tmp: Path) -> float:
    """A fresh folder: the first command that needs Prefect starts the service and runs."""
    project = BidProject(tmp / "fresh", free_port())
    project.root.mkdir()
    fresh, _ = _prepare(project, 1, 0)
    try:
        return _timed(project, "advance", fresh[0], BID_AUTOSTART="1")
    finally:
        subprocess.run(
            [sys.executable, "-m", "orchestrator.cli.app", "server", "stop"],
            cwd=project.root,
            env=project.env,
            capture_output=True,
            check=False,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--bids", type=int, default=1000)
    add_output_option(parser)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    project = BidProject(tmp / "project", free_port())
    project.root.mkdir()
    fresh, review = _prepare(project, max(args.bids, 3 * args.repeat), 2 * args.repeat)
    _timed(project, "advance", fresh[-1])  # the first run on a fresh home migrates Prefect's db
    without = _commands(project, fresh[: args.repeat], review[: args.repeat], args.repeat)
    server = project.start("server", "--port", str(project.ui_port))
    try:
        from orchestrator.runtime import service

        wait_for(lambda: service.status(project.settings()), 180, "bid server")
        rest = fresh[args.repeat :]
        _timed(project, "status", fresh[0])  # one warm-up request
        with_service = _commands(project, rest, review[args.repeat :], args.repeat)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    figures = [
        Figure(command, without[command], with_service[command], TARGETS[command])
        for command in ("status", "list", "advance", "approve")
    ]
    figures.append(Figure("first command", None, first_command(tmp), TARGETS["first command"]))
    write_figures(
        args.json_out,
        [
            BenchFigure(
                f"bid {f.command}, whole process, service up"
                + (f" ({len(fresh):,} bids)" if f.command == "list" else ""),
                round(f.with_service, 2),
                "s",
                f.target,
                baseline=round(f.without, 2) if f.without is not None else None,
                baseline_name="the same command without the service" if f.without else None,
                note="service autostart included" if f.command == "first command" else "",
            )
            for f in figures
        ],
    )
    print(f"\n{len(fresh)} bids; median of {args.repeat} runs; whole process")
    print(f"{'command':14} {'no service':>11} {'service up':>11} {'target':>8}")
    for f in figures:
        before = f"{f.without:10.2f}s" if f.without is not None else f"{'—':>11}"
        verdict = "OK" if f.met else "OVER"
        print(f"{f.command:14} {before} {f.with_service:10.2f}s {f.target:7.1f}s {verdict}")


if __name__ == "__main__":
    main()
