"""Whole-process time of `bid` commands, with and without the local Prefect server (`bid ui`).

Measures what a user waits for: a new Python process per command, as the shell starts it.
`bid status` (reads the database, no Prefect) and `bid advance` (one automated step as a flow
run) — first with no server (every `advance` starts Prefect's temporary server), then with
`bid ui` running on the same data.

Targets with the local server up on a 2-core machine: status ≤ 0.5 s, advance ≤ 1.5 s.

    .venv/bin/python bench/bench_cli.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.prefect_server import BidProject, BidUi, free_port  # noqa: E402

TARGETS = {"status": 0.5, "advance": 1.5}


def _timed(project: BidProject, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli.app", *args],
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"bid {' '.join(args)} failed:\n{done.stderr}")
    return elapsed


def _bids(project: BidProject, count: int) -> list[str]:
    from orchestrator.config import load_settings
    from orchestrator.wiring import open_context
    from tests.factories import new_bid

    settings = load_settings(project.env, cwd=project.root)
    ctx = open_context(settings)
    refs = [new_bid(ctx) for _ in range(count)]
    ctx.engine.dispose()
    return refs


def measure(project: BidProject, refs: list[str], repeat: int) -> dict[str, float]:
    status = [_timed(project, "status", refs[0]) for _ in range(repeat)]
    advance = [_timed(project, "advance", ref) for ref in refs[:repeat]]
    return {"status": statistics.median(status), "advance": statistics.median(advance)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    project = BidProject(Path(tempfile.mkdtemp(prefix="bench-cli-")), free_port())
    refs = _bids(project, args.repeat * 2)
    _timed(project, "advance", refs[-1])  # the first run on a fresh home migrates Prefect's db
    without = measure(project, refs[: args.repeat], args.repeat)
    ui = BidUi(project).start()
    try:
        with_server = measure(project, refs[args.repeat : 2 * args.repeat - 1], args.repeat - 1)
    finally:
        ui.stop()
    print(f"\n{'command':10} {'no server':>10} {'bid ui up':>10} {'target':>8}")
    for command in ("status", "advance"):
        verdict = "OK" if with_server[command] <= TARGETS[command] else "OVER"
        print(
            f"{command:10} {without[command]:9.2f}s {with_server[command]:9.2f}s "
            f"{TARGETS[command]:7.1f}s {verdict}"
        )


if __name__ == "__main__":
    main()
