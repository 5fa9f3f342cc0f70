"""How long a reader and a writer wait while a 3,200-site bid's documents are rendered.

A bid of 3,200 sites waits in governance review for its financial approval. `bid docs`
renders its QRFs, proposal and Bid Control Plan with the real docx renderer in one thread;
meanwhile the main thread answers `bid status` again and again and records the financial
approval (what a Slack click does). Each is timed during the render and, for comparison,
with no render running.

    .venv/bin/python bench/bench_render_wait.py [--sites 3200] [--database-url URL]

Target: while the render runs, `status` and the approval take at most their idle time plus
0.25 s, and the approval is committed before the render ends (rendering holds no write lock;
before the fix a writer waited for the whole render, ~0.9 s per render at 3,200 sites).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench.common import Figure, add_output_option, write_figures  # noqa: E402
from orchestrator.bid.approvals.governance import approve  # noqa: E402
from orchestrator.bid.reports.queries import status  # noqa: E402
from orchestrator.bid.trail.rendering import render_documents  # noqa: E402
from orchestrator.context import Context  # noqa: E402
from orchestrator.store.db import open_database, transaction  # noqa: E402
from orchestrator.store.models import Approval, Area, DecisionRecord, Opportunity  # noqa: E402
from tests.factories_sites import context_on, make_opportunity  # noqa: E402

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FINANCE = "fin@example.com"
SLACK_MARGIN_S = 0.25


def _bid_waiting_for_finance(ctx: Context, sites: int) -> str:
    opportunity = make_opportunity(
        ctx.engine, sites=sites, state="governance_review", team={"finance": FINANCE}
    )
    with transaction(ctx.engine) as session:
        row = session.get(Opportunity, opportunity.id)
        assert row is not None
        row.proposal_hash, row.governance_round = "0" * 64, 1
        session.add(row)
        session.add(
            DecisionRecord(
                opportunity_id=row.id or 0,
                table_name="governance",
                rule_file="bench",
                rule_hash="0",
                outputs={"required": ["financial"], "approver_roles": {"financial": ["finance"]}},
            )
        )
        session.add(
            Approval(
                opportunity_id=row.id or 0,
                area=Area.FINANCIAL,
                round=1,
                deciding_roles=["finance"],
                proposal_hash="0" * 64,
            )
        )
    return opportunity.ref


def _timed_status(ctx: Context, ref: str) -> float:
    start = time.perf_counter()
    status(ctx, ref)
    return time.perf_counter() - start


def _timed_approval(ctx: Context, ref: str) -> float:
    start = time.perf_counter()
    approve(ctx, ref, area="financial", by=FINANCE, proposal_hash="0" * 64)
    return time.perf_counter() - start


def _reset_approval(ctx: Context) -> None:
    with ctx.engine.begin() as connection:
        connection.execute(
            text("UPDATE approval SET status = 'requested', approver_id = NULL, decided_at = NULL")
        )


def run(sites: int, database_url: str | None, json_out: Path | None = None) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite:///{folder}/bench.db"
        engine = open_database(url)
        ctx = context_on(engine, now=NOW, out=Path(folder) / "out")
        ref = _bid_waiting_for_finance(ctx, sites)
        render_documents(ctx, ref)  # warm: templates loaded, files written once

        idle_status = min(_timed_status(ctx, ref) for _ in range(5))
        idle_approval = _timed_approval(ctx, ref)
        _reset_approval(ctx)

        done = threading.Event()
        rendered: list[float] = []

        def render() -> None:
            start = time.perf_counter()
            render_documents(ctx, ref)
            rendered.append(time.perf_counter() - start)
            done.set()

        worker = threading.Thread(target=render)
        worker.start()
        time.sleep(0.2)  # let the render take its read snapshot first
        busy_approval = _timed_approval(ctx, ref)
        approved_while_rendering = not done.is_set()
        busy_status = [_timed_status(ctx, ref)]
        while not done.is_set():
            busy_status.append(_timed_status(ctx, ref))
        worker.join()
        engine.dispose()

    print(f"bid of {sites} sites on {url.split(':', 1)[0]}; render (bid docs): {rendered[0]:.2f}s")
    print(f"{'':<22}{'idle':>10}{'during render':>16}")
    slowest = max(busy_status)
    print(f"{'status':<22}{idle_status:>9.3f}s{slowest:>15.3f}s (max of {len(busy_status)})")
    print(f"{'':<22}{'':>10}{statistics.median(busy_status):>15.3f}s (median)")
    print(f"{'approval commit':<22}{idle_approval:>9.3f}s{busy_approval:>15.3f}s")
    print(f"approval committed before the render ended: {approved_while_rendering}")
    ok = (
        approved_while_rendering
        and busy_approval <= idle_approval + SLACK_MARGIN_S
        and max(busy_status) <= idle_status + SLACK_MARGIN_S
    )
    print(f"target: waits within idle + {SLACK_MARGIN_S}s — {'OK' if ok else 'MISSED'}")
    database = url.split(":", 1)[0].split("+")[0]
    write_figures(
        json_out,
        [
            Figure(
                f"{database}: longest `bid status` during a {sites:,}-site render",
                round(slowest, 3),
                "s",
                round(idle_status + SLACK_MARGIN_S, 3),
                baseline=round(idle_status, 3),
                baseline_name="idle",
                note=f"render {rendered[0]:.1f} s",
            ),
            Figure(
                f"{database}: a Slack approval committed during that render",
                round(busy_approval, 3),
                "s",
                round(idle_approval + SLACK_MARGIN_S, 3),
                baseline=round(idle_approval, 3),
                baseline_name="idle",
                note=f"committed before the render ended: {approved_while_rendering}",
            ),
        ],
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sites", type=int, default=3200)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    add_output_option(parser)
    args = parser.parse_args(argv)
    return 0 if run(args.sites, args.database_url, args.json_out) else 1


if __name__ == "__main__":
    raise SystemExit(main())
