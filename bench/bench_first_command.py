"""The first command in a new folder: how long a person waits before `bid` answers.

A fresh folder (no database, no `.bid/`, no service) and the installed entry point
(`orchestrator.cli.thin`): the command a bid manager types first, `bid opportunity create
opportunity.yaml` (it creates the database, the folder's admin and the bid), then, after the
sites, the first command that runs a step, `bid advance`: the folder's service (Prefect
server, JSON API, workspace) starts in the background and the command does its step in
process instead of waiting 20-30 s for Prefect to boot (`runtime.runner.HandOverRunner`).
The figures are the commands' wall times; when the service answered afterwards is noted.

Target (2-core machine): ≤ 10 s.

    .venv/bin/python bench/bench_first_command.py [--repeat 3]
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

from bench.common import Figure, add_output_option, write_figures  # noqa: E402
from orchestrator.runtime import service  # noqa: E402
from tests.support.prefect_server import BidProject, free_port, wait_for  # noqa: E402

TARGET_S = 10.0
FIXTURE = ROOT / "tests" / "scenarios" / "service" / "opportunity.yaml"
SITES = ROOT / "tests" / "scenarios" / "service" / "sites.csv"


def _timed(project: BidProject, env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli.thin", *args],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"bid {' '.join(args)} failed: {done.stderr.strip()}")
    return elapsed, done.stdout.strip()


def once(tmp: Path) -> tuple[float, float, float]:
    """(the very first command, the first command that runs a step, seconds from that one
    until the folder's service answered)."""
    project = BidProject(tmp, free_port())
    project.root.mkdir(parents=True)
    opportunity = project.root / "opportunity.yaml"
    opportunity.write_text(FIXTURE.read_text(encoding="utf-8"), encoding="utf-8")
    env = {**project.env, "BID_AUTOSTART": "1", "BID_SERVER_IDLE_TIMEOUT": "600"}
    try:
        created, ref = _timed(project, env, "opportunity", "create", str(opportunity))
        _timed(project, env, "sites", "import", ref, str(SITES))
        started = time.perf_counter()
        advanced, _ = _timed(project, env, "advance", ref)
        try:
            wait_for(lambda: service.status(project.settings()), 300, "the service")
        except AssertionError:
            log = project.root / ".bid" / "server.log"
            tail = log.read_text(encoding="utf-8")[-2000:] if log.exists() else "(no log)"
            raise SystemExit(f"the service did not answer; its log:\n{tail}") from None
        service_up = time.perf_counter() - started
    finally:
        project.bid("server", "stop")
    return created, advanced, service_up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    add_output_option(parser)
    options = parser.parse_args()
    created: list[float] = []
    firsts: list[float] = []
    ups: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bid-first-") as tmp:
        for number in range(options.repeat):
            create, first, up = once(Path(tmp) / f"folder-{number}")
            created.append(create)
            firsts.append(first)
            ups.append(up)
            print(
                f"run {number + 1}: bid opportunity create {create:.1f} s; first bid advance "
                f"{first:.1f} s; service up {up:.1f} s after it started"
            )
    median, median_create = statistics.median(firsts), statistics.median(created)
    print(
        f"first command in a new folder: opportunity create {median_create:.1f} s, first step "
        f"(bid advance) {median:.1f} s, medians (target ≤ {TARGET_S:.0f} s)"
    )
    write_figures(
        options.json_out,
        [
            Figure(
                "first command in a new folder (bid opportunity create)",
                round(median_create, 2),
                "s",
                TARGET_S,
            ),
            Figure(
                "first step in a new folder (bid advance, the service starting)",
                round(median, 2),
                "s",
                TARGET_S,
                note=f"service answered {statistics.median(ups):.0f} s after (median)",
            ),
        ],
    )


if __name__ == "__main__":
    main()
