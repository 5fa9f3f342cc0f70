"""The customer portfolio at size in PostgreSQL: `bid portfolio`, the weekly top-account pack
and the renewal scan, each run as the command a user types (a fresh `bid` process:
start-up, reading, rendering, the write).

The database holds 5,000 accounts (50 of them top accounts), 20,000 bids in every state
with their moves, teams, milestones, approvals, sites, MACDs and decision records, and
2,000 contracts whose ends spread over six years around today (about one in eight ends
within the renewal horizon). A throwaway PostgreSQL server is started from the machine's
binaries (or `--url` / BID_TEST_POSTGRES_URL names one).

    .venv/bin/python bench/bench_portfolio.py [--repeat 3] [--json-out FILE]

Targets (whole process): `bid portfolio` <= 1 s; `bid pack weekly-top-accounts` for 50
top accounts <= 3 s (with its PDF); `bid renewals scan` <= 1 s. The scan is measured twice:
its first run, which opens every renewal due at once (a backlog no daily run meets), and
the daily run after it; each other figure is the best of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dateutil.relativedelta import relativedelta  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

from bench.common import Figure, add_output_option, write_figures  # noqa: E402
from orchestrator.lifecycle.table import ENDS, State  # noqa: E402
from orchestrator.store.db import open_database  # noqa: E402
from orchestrator.store.models import (  # noqa: E402
    Account,
    AccountEvent,
    Approval,
    ApprovalStatus,
    Area,
    AuditEvent,
    ChangeOrder,
    Contract,
    DecisionRecord,
    Milestone,
    MilestoneStatus,
    Opportunity,
    Person,
    Site,
    TeamMember,
)
from orchestrator.text import fold_name  # noqa: E402
from tests.support.postgres import PostgresServer, find_bin_dir  # noqa: E402

S = State
TARGETS = {"portfolio": 1.0, "weekly_pack": 3.0, "renewals_scan_daily": 1.0}
TIERS = ("major", "middle_market", "direct", "installed_base")
COUNTRIES = ("BE", "NL", "DE")
LEVELS = ("basic", "standard", "enhanced", "premium", None)
STATES = (
    S.PRE_QUALIFICATION,
    S.QUALIFICATION,
    S.BID_PRODUCTION,
    S.GOVERNANCE_REVIEW,
    S.CONTRACT_PREPARATION,
    S.CONTRACTED,
    S.LOST,
    S.NO_BID,
    S.CUSTOMER_DECISION,
    S.STRATEGY_REWORK,
)
OWNERS = [f"am{i:02d}@bench.example" for i in range(20)]
BID_MANAGERS = [f"bm{i:02d}@bench.example" for i in range(30)]


def _row(model: SQLModel) -> dict[str, Any]:
    """Every column of a model instance (its defaults filled in), for a bulk insert."""
    columns = type(model).__table__.columns  # type: ignore[attr-defined]
    row = {c.name: getattr(model, c.name) for c in columns}
    if row.get("id") is None:
        row.pop("id", None)  # the database numbers it
    return row


def _insert(engine: Engine, model: type[SQLModel], rows: list[SQLModel]) -> None:
    if not rows:
        return
    with engine.begin() as connection:
        for start in range(0, len(rows), 5_000):
            connection.execute(insert(model), [_row(r) for r in rows[start : start + 5_000]])


def populate(engine: Engine, now: datetime, accounts: int, bids: int, contracts: int) -> int:
    """Write the portfolio; returns how many contracts are due for renewal now."""
    today = now.date()
    people = [*OWNERS, *BID_MANAGERS, "pm@bench.example", "om@bench.example"]
    person_id = {email: i + 1 for i, email in enumerate(people)}
    _insert(
        engine,
        Person,
        [Person(id=person_id[e], email=e, name=e.split("@")[0], roles=[]) for e in people],
    )
    account_rows: list[SQLModel] = []
    for i in range(accounts):
        account_rows.append(
            Account(
                id=i + 1,
                name=f"Bench account {i:05d}",
                name_key=fold_name(f"Bench account {i:05d}"),  # bulk inserts skip the ORM hook
                tier="top" if i < 50 else TIERS[i % 4],
                country=COUNTRIES[i % 3],
                owner_id=person_id[OWNERS[i % 20]],
                parent_id=i if i % 10 == 5 else None,  # i - 1's id: no chains, no cycles
                service_level=LEVELS[i % 5],
                potential_revenue_eur=40_000.0 * (i % 40 + 1) if i % 3 == 0 else None,
                sleeping_until=today + timedelta(days=i % 60) if i % 50 == 49 else None,
                created_at=now - timedelta(days=400),
            )
        )
    _insert(engine, Account, account_rows)
    _insert(
        engine,
        AccountEvent,
        [
            AccountEvent(
                account_id=i + 1,
                at=now - timedelta(days=i % 30),
                actor="bench",
                action="created",
                to_tier="top" if i < 50 else TIERS[i % 4],
            )
            for i in range(accounts)
        ],
    )
    opportunities: list[SQLModel] = []
    children: dict[type[SQLModel], list[SQLModel]] = {
        m: [] for m in (AuditEvent, TeamMember, Milestone, Approval, Site, ChangeOrder)
    }
    records: list[SQLModel] = []
    contracted: list[tuple[int, int]] = []
    for j in range(bids):
        oid, account = j + 1, j % accounts
        state = STATES[j % len(STATES)]
        closed = state in ENDS
        moved = now - timedelta(days=(j % 400) if closed else (j % 9), hours=1)
        received = moved - timedelta(days=10)
        decision = today + timedelta(days=j % 60 - 20)
        opportunities.append(
            Opportunity(
                id=oid,
                account_id=account + 1,
                title=f"Bench bid {j}",
                source="rfp",
                received_at=received,
                submission_deadline=decision - timedelta(days=1),
                decision_date=decision,
                revenue_short_term=10_000.0 * (j % 5 + 1),
                revenue_medium_term=5_000.0 * (j % 7 + 1),
                revenue_long_term=1_000.0,
                currency="EUR",
                fx_rate=1.0,
                contract_months=36,
                owner_id=person_id[OWNERS[account % 20]],
                services=["managed_network"],
                bants={
                    "budget_eur": 100_000.0,
                    "authority": "decision_maker",
                    "need": "clear",
                    "timeframe_months": 6,
                    "sales_ready": True,
                },
                state=state,
                governance_round=2 if state == S.GOVERNANCE_REVIEW else 0,
                created_at=received,
                updated_at=moved,
            )
        )
        events = children[AuditEvent]
        events.append(
            AuditEvent(
                opportunity_id=oid,
                at=received,
                actor="bench",
                from_state=None,
                to_state=S.PRE_QUALIFICATION,
                trigger="create",
            )
        )
        if state != S.PRE_QUALIFICATION:
            events.append(
                AuditEvent(
                    opportunity_id=oid,
                    at=moved,
                    actor="bench",
                    from_state=S.PRE_QUALIFICATION,
                    to_state=state,
                    trigger="moved",
                )
            )
        for role, email in (
            ("bid_manager", BID_MANAGERS[j % 30]),
            ("account_manager", OWNERS[account % 20]),
            ("project_manager", "pm@bench.example"),
        ):
            children[TeamMember].append(
                TeamMember(opportunity_id=oid, person_id=person_id[email], role=role)
            )
        if not closed:
            for name, days in (("overdue_one", -3), ("due_soon", 5), ("later", 30)):
                children[Milestone].append(
                    Milestone(
                        opportunity_id=oid,
                        name=name,
                        due_at=now + timedelta(days=days),
                        owner_role="account_manager",
                        status=MilestoneStatus.OPEN,
                    )
                )
        if state == S.GOVERNANCE_REVIEW:
            for area in ("technical", "legal"):
                children[Approval].append(
                    Approval(
                        opportunity_id=oid,
                        area=Area(area),
                        round=2,
                        status=ApprovalStatus.REQUESTED,
                        deciding_roles=["operations"] if area == "technical" else [area],
                        requested_at=now - timedelta(days=2),
                    )
                )
        if state == S.CONTRACT_PREPARATION:
            for s, postcode in ((1, "12"), (2, "1000")):
                children[Site].append(
                    Site(
                        opportunity_id=oid,
                        site_id=f"S{s}",
                        name=f"Site {s}",
                        street="Wetstraat 16",
                        postcode=postcode,
                        city="Brussel",
                        country="BE",
                        bandwidth_mbps=100,
                        access="fiber",
                    )
                )
        if state == S.CONTRACTED:
            contracted.append((oid, account + 1))
            children[ChangeOrder].append(
                ChangeOrder(
                    opportunity_id=oid,
                    site_id="S1",
                    kind="change",
                    changes={},
                    actor="om",
                    at=now - timedelta(days=j % 20),
                )
            )
        if state in (S.QUALIFICATION, S.STRATEGY_REWORK):
            for table, outputs in (
                ("bants", {"result": "qualified", "score": 90, "failed": []}),
                ("go_no_go", {"recommendation": "bid", "reason": "fits", "rule": "gng.bid"}),
            ):
                records.append(
                    DecisionRecord(
                        opportunity_id=oid,
                        table_name=table,
                        rule_file=f"{table}.json",
                        rule_hash="x",
                        inputs={},
                        outputs=outputs,
                        matched_rows=[],
                        evaluated_at=moved,
                    )
                )
    _insert(engine, Opportunity, opportunities)
    for model, rows in children.items():
        _insert(engine, model, rows)
    _insert(engine, DecisionRecord, records)
    contract_rows: list[SQLModel] = []
    due = 0
    for k, (oid, account_id) in enumerate(contracted[:contracts]):
        term = (12, 24, 36)[k % 3]
        end = today + timedelta(days=(k * 37) % 2190 - 1095)
        start = end + timedelta(days=1) - relativedelta(months=term)
        due += today <= end <= today + timedelta(days=270)
        contract_rows.append(
            Contract(
                id=k + 1,
                account_id=account_id,
                opportunity_id=oid,
                services=["managed_network"],
                site_ids=["S1", "S2"],
                currency="EUR",
                monthly_recurring=1_000.0 * (k % 20 + 1),
                one_off=0.0,
                monthly_recurring_eur=1_000.0 * (k % 20 + 1),
                one_off_eur=0.0,
                start_date=start,
                end_date=end,
                term_months=term,
                signed_at=datetime.combine(start, datetime.min.time(), tzinfo=UTC),
            )
        )
    _insert(engine, Contract, contract_rows)
    with engine.begin() as connection:
        for model in (Person, Account, Opportunity, Contract):
            table = str(model.__tablename__)
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f'(SELECT max(id) FROM "{table}"))'
                )
            )
    return due


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    """A fresh database on the given server, or on a throwaway one started here."""
    import psycopg

    server = None
    admin: str | None = url or os.environ.get("BID_TEST_POSTGRES_URL")
    if admin is None:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise SystemExit("no PostgreSQL here: install postgresql or pass --url")
        server = PostgresServer(bin_dir)
        admin = server.start()
    conninfo = admin.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        base = conninfo.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        yield f"{base}/{name}"
    finally:
        if server is not None:
            server.stop()


def _bid(env: dict[str, str], *args: str, expect: str) -> float:
    command = [sys.executable, "-m", "orchestrator.cli.app", *args]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0 or expect not in done.stdout:
        raise SystemExit(f"`bid {' '.join(args)}` failed: {done.stdout}{done.stderr}")
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=5_000)
    parser.add_argument("--bids", type=int, default=20_000)
    parser.add_argument("--contracts", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--url", help="a superuser URL of a running PostgreSQL")
    add_output_option(parser)
    args = parser.parse_args(argv)
    now = datetime.now(UTC).replace(microsecond=0)
    figures: dict[str, float] = {}
    with postgres(args.url) as url, tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        engine = open_database(url)
        started = time.perf_counter()
        due = populate(engine, now, args.accounts, args.bids, args.contracts)
        print(f"populated in {time.perf_counter() - started:.1f} s; {due} contracts due")
        engine.dispose()
        env = {
            **os.environ,
            "BID_DATABASE_URL": url,
            "BID_DATA_DIR": str(tmp / ".bid"),
            "BID_OUTPUT_DIR": str(tmp / "out"),
            "BID_FLOW_RUNNER": "inline",
            "BID_THIN": "0",
            "BID_AUTOSTART": "0",
        }
        env.pop("SLACK_BOT_TOKEN", None)
        runs: dict[str, list[float]] = {"portfolio": [], "weekly_pack": [], "weekly_html": []}
        for _ in range(args.repeat):
            runs["portfolio"].append(_bid(env, "portfolio", "--json", expect='"tiers"'))
            runs["weekly_pack"].append(
                _bid(env, "pack", "weekly-top-accounts", "--out", str(tmp / "packs"),
                     expect="50 top accounts")
            )  # fmt: skip
            runs["weekly_html"].append(
                _bid(env, "pack", "weekly-top-accounts", "--out", str(tmp / "packs"),
                     "--no-pdf", expect="50 top accounts")
            )  # fmt: skip
        figures = {key: min(values) for key, values in runs.items()}
        figures["renewals_scan_first"] = _bid(
            env, "renewals", "scan", expect=f"{due} renewal(s) opened"
        )
        figures["renewals_scan_daily"] = min(
            _bid(env, "renewals", "scan", expect="0 renewal(s) opened") for _ in range(args.repeat)
        )
        figures["cli_start"] = min(_bid(env, "--help", expect="Usage") for _ in range(args.repeat))
    ok = True
    for key, value in figures.items():
        target = TARGETS.get(key)
        verdict = ""
        if target is not None:
            ok = ok and value <= target
            verdict = f"  (target <= {target:g} s: {'ok' if value <= target else 'MISSED'})"
        print(f"{key:<22}{value:>8.3f} s{verdict}")
    size = f"{args.accounts:,} accounts, {args.bids:,} bids, {args.contracts:,} contracts"
    labels = {
        "portfolio": f"portfolio: `bid portfolio --json`, {size}, PostgreSQL (whole process)",
        "weekly_pack": "portfolio: `bid pack weekly-top-accounts`, 50 top accounts, HTML + PDF "
        "(whole process)",
        "weekly_html": "portfolio: `bid pack weekly-top-accounts --no-pdf` (whole process)",
        "renewals_scan_first": f"portfolio: first `bid renewals scan`, opens {due} renewals "
        "(whole process)",
        "renewals_scan_daily": "portfolio: daily `bid renewals scan` (whole process)",
        "cli_start": "portfolio: `bid --help`, the start-up floor (whole process)",
    }
    write_figures(
        args.json_out,
        [
            Figure(
                labels[key],
                round(value, 3),
                "s",
                TARGETS.get(key),
                baseline=None if key == "cli_start" else round(figures["cli_start"], 3),
                baseline_name=None if key == "cli_start" else "`bid --help` start-up",
            )
            for key, value in figures.items()
        ],
    )
    print("OK" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
