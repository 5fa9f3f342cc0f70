"""Ack latency of the Slack door: concurrent signed Approve clicks against a running `bid serve`.

Sets up a bid in governance review in a fresh SQLite database, starts `bid serve` as its own
process (uvicorn, Bolt, the real signature check) against a local Slack-speaking fake, then
fires N signed clicks on one approval at once and measures, per request, the time until the
HTTP answer (the ack). Afterwards it waits until every click was handled and checks that
exactly one grant was recorded.

    .venv/bin/python bench/bench_slack_ack.py [--clicks 50] [--rounds 3]

Target: p99 < 300 ms (Slack wants the ack within 3 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from bench.common import Figure, add_output_option, write_figures  # noqa: E402
from orchestrator.bid.progress.services import get_opportunity  # noqa: E402
from orchestrator.config import load_settings  # noqa: E402
from orchestrator.slack.blocks import APPROVE, ButtonValue  # noqa: E402
from orchestrator.store.models import AuditEvent  # noqa: E402
from orchestrator.wiring import open_context  # noqa: E402
from tests.conftest import FixedClock, RecordingDocuments  # noqa: E402
from tests.support.slack_api import (  # noqa: E402
    BOT_TOKEN,
    SIGNING_SECRET,
    SLACK_USERS,
    FakeSlackApi,
    bid_in_governance,
    block_actions,
    free_port,
    post_signed,
    wait_for_port,
)

TARGET_P99_MS = 300.0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def fire(url: str, payloads: list[dict[str, object]]) -> list[float]:
    """Send every payload at once (one thread each); the latency of each, in milliseconds."""
    start = threading.Barrier(len(payloads))
    limits = httpx.Limits(max_connections=len(payloads), max_keepalive_connections=len(payloads))
    with httpx.Client(timeout=30, limits=limits) as client:

        def one(payload: dict[str, object]) -> float:
            start.wait()
            began = time.perf_counter()
            response = post_signed(client, url, payload)
            elapsed = (time.perf_counter() - began) * 1000
            if response.status_code != 200:
                raise SystemExit(f"click answered {response.status_code}: {response.text}")
            return elapsed

        with ThreadPoolExecutor(max_workers=len(payloads)) as pool:
            return list(pool.map(one, payloads))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    add_output_option(parser)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-slack-"))
    env_db = {
        "BID_DATABASE_URL": f"sqlite:///{work / 'bid.db'}",
        "BID_DATA_DIR": str(work / ".bid"),
        "BID_OUTPUT_DIR": str(work / "out"),
        "BID_RULES_DIR": str(ROOT / "rules"),
        "BID_TEMPLATES_DIR": str(ROOT / "templates"),
    }
    ctx = open_context(
        load_settings(env_db, cwd=work), clock=FixedClock(), documents=RecordingDocuments()
    )
    refs = [bid_in_governance(ctx) for _ in range(args.rounds)]

    with FakeSlackApi(users=dict(SLACK_USERS)) as api:
        port = free_port()
        env = {
            **os.environ,
            **env_db,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": api.base_url,
            "BID_FLOW_RUNNER": "inline",
        }
        log = (work / "serve.log").open("w")
        server = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli.app", "serve", "--port", str(port)],
            env=env,
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port, 30)
            url = f"http://127.0.0.1:{port}/slack/events"
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
            latencies: list[float] = []
            answered = 0
            for ref in refs:
                with Session(ctx.engine) as session:
                    version = get_opportunity(session, ref).proposal_hash
                value = ButtonValue(ref=ref, area="technical", proposal_hash=version).encode()
                clickers = ["UOPS", "USC"] * (args.clicks // 2 + 1)
                payloads: list[dict[str, object]] = [
                    block_actions(user, APPROVE, value) for user in clickers[: args.clicks]
                ]
                round_latencies = fire(url, payloads)
                latencies.extend(round_latencies)
                answered += args.clicks
                api.wait_for("chat.postEphemeral", answered, timeout=120)
                print(
                    f"{ref}: {args.clicks} clicks, p50 {percentile(round_latencies, 50):.1f} ms, "
                    f"p99 {percentile(round_latencies, 99):.1f} ms"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()

    with Session(ctx.engine) as session:
        grants = session.exec(
            select(AuditEvent).where(AuditEvent.trigger == "approval_granted")
        ).all()
    per_bid = {ref: sum(1 for g in grants if g.opportunity_id == int(ref[4:])) for ref in refs}
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    result = {
        "clicks": len(latencies),
        "concurrency": args.clicks,
        "ack_p50_ms": round(p50, 1),
        "ack_p99_ms": round(p99, 1),
        "ack_max_ms": round(max(latencies), 1),
        "ack_mean_ms": round(statistics.fmean(latencies), 1),
        "grants_per_bid": per_bid,
        "target_p99_ms": TARGET_P99_MS,
    }
    print(json.dumps(result, indent=2))
    write_figures(
        args.json_out,
        [
            Figure(
                f"Slack ack p99, {args.clicks} concurrent signed clicks",
                round(p99, 1),
                "ms",
                TARGET_P99_MS,
                note=f"p50 {p50:.0f} ms; one grant per bid: {set(per_bid.values()) == {1}}",
            )
        ],
    )
    ok = p99 < TARGET_P99_MS and set(per_bid.values()) == {1}
    print(
        f"ack p50 {p50:.1f} ms, p99 {p99:.1f} ms: {'OK' if ok else 'MISSED'} (target p99 < 300 ms)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
