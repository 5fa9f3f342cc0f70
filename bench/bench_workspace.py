"""The web workspace at size: the bid list over 1,000 bids and the page of a 3,200-site bid.

A throwaway SQLite folder gets 1,000 bids in every state (each with an account and a bid
manager on its team) and one bid of 3,200 sites in bid production. The workspace app runs
in this process behind FastAPI's TestClient, signed in as the bid manager; each page is
fetched `--repeat` times and the median wall time of the request is reported — server time
plus the in-process client's own small cost, so an upper bound of what a browser waits for
beyond the network.

    .venv/bin/python bench/bench_workspace.py [--repeat 7] [--json-out FILE]

Targets: each page <= 300 ms.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from bench.common import Figure, add_output_option, write_figures  # noqa: E402
from orchestrator.lifecycle.table import State  # noqa: E402
from orchestrator.store.models import (  # noqa: E402
    Account,
    AuditEvent,
    Opportunity,
    Person,
    TeamMember,
)

TARGET_MS = 300.0
BIDS = 1_000
SITES = 3_200
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
BID_MANAGER = "bea.bidman@example.com"


def _many_bids(engine: Engine, count: int, manager_id: int) -> None:
    """`count` bids over every state, in one transaction (the list's worst case: all shown)."""
    states = list(State)
    with Session(engine) as session:
        for n in range(count):
            account = Account(name=f"Customer {n:04d} NV", tier=("top", "key", "other")[n % 3])
            session.add(account)
            session.flush()
            opportunity = Opportunity(
                account_id=account.id or 0,
                title=f"Managed WAN for {n % 90 + 10} sites",
                source="rfp",
                rfp_reference=f"RFP-{n:05d}",
                submission_deadline=date(2027, 1 + n % 12, 1 + n % 28),
                state=states[n % len(states)],
                services=["managed_network"],
            )
            session.add(opportunity)
            session.flush()
            session.add(
                TeamMember(
                    opportunity_id=opportunity.id or 0, person_id=manager_id, role="bid_manager"
                )
            )
            session.add(
                AuditEvent(
                    opportunity_id=opportunity.id or 0,
                    actor="bench",
                    to_state=opportunity.state,
                    trigger="create",
                    idempotency_key=f"{opportunity.id}:create:0",
                )
            )
        session.commit()


def _timed(client: TestClient, path: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        reply = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        if reply.status_code != 200:
            raise SystemExit(f"{path}: HTTP {reply.status_code}: {reply.text[-300:]}")
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    add_output_option(parser)
    options = parser.parse_args(argv)

    from orchestrator.bid.team import people
    from orchestrator.config import load_settings
    from orchestrator.runtime.runner import InlineRunner
    from orchestrator.web.app import make_web_app
    from orchestrator.wiring import open_context
    from tests.factories_sites import make_opportunity

    with tempfile.TemporaryDirectory(prefix="bench-workspace-") as folder:
        base = load_settings({})
        settings = replace(
            base,
            database_url=f"sqlite:///{folder}/bid.db",
            data_dir=Path(folder) / ".bid",
            output_dir=Path(folder) / "out",
        )
        ctx = open_context(settings, clock=lambda: NOW)
        from orchestrator.cli.identity import current_person

        admin = current_person(ctx)
        started = time.perf_counter()
        big = make_opportunity(
            ctx.engine, sites=SITES, state="bid_production", team={"bid_manager": BID_MANAGER}
        )
        with Session(ctx.engine) as session:
            manager = session.exec(select(Person).where(Person.email == BID_MANAGER)).one()
        _many_bids(ctx.engine, BIDS - 1, manager.id or 0)
        built = time.perf_counter() - started
        token = people.issue_token(ctx, BID_MANAGER, by=admin)

        client = TestClient(make_web_app(lambda: ctx, runner=InlineRunner()))
        page = client.get("/signin")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found is not None
        client.post("/signin", data={"csrf": found.group(1), "token": token})
        pages = {
            "bid list, all 1,000 bids": "/bids?scope=all",
            "bid list, mine": "/bids",
            "bid list, searched": "/bids?scope=all&search=customer%2000",
            f"bid page, {SITES:,} sites": f"/bids/{big.ref}",
            f"quotes page, {SITES:,} sites": f"/bids/{big.ref}/quotes",
        }
        for path in pages.values():
            client.get(path)  # warm: templates compiled, rules loaded
        figures = [
            Figure(
                name=f"workspace {name}",
                value=round(_timed(client, path, options.repeat), 1),
                unit="ms",
                target=TARGET_MS,
                note=f"GET {path}, median of {options.repeat}, TestClient in-process",
            )
            for name, path in pages.items()
        ]
    print(f"built {BIDS:,} bids and a {SITES:,}-site bid in {built:.1f} s")
    for figure in figures:
        mark = "ok" if figure.met else "OVER"
        print(f"{figure.name:<40} {figure.value:>8.1f} ms  (target {TARGET_MS:.0f})  {mark}")
    write_figures(options.json_out, figures)
    return 0 if all(f.met for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
