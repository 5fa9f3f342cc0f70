"""The meeting packs against the portfolio factory: every figure of the weekly top-account
pack and of the qualification pack, and the monthly review's money figures (BE/NL split,
revenue against targets, slipped deals, pipeline change, churn), recomputed by hand from
the factory's parameters; the packs' pages printed to PDF and rendered in headless Chromium
(as the monthly review is), their figures read back from the rendered page; `bid pack ...`
writes the files and queues the Slack summary; bad input to every new command is one line."""

from __future__ import annotations

import csv
import json
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from orchestrator.context import Context
from orchestrator.decisions.funnel_rules import load_funnel_config, parse_period
from orchestrator.funnel.pack_pages import (
    PackFiles,
    qualification_markdown,
    weekly_markdown,
    write_qualification,
    write_weekly,
)
from orchestrator.funnel.packs import (
    QualificationPack,
    WeeklyPack,
    qualification_pack,
    weekly_top_accounts,
)
from orchestrator.funnel.render import find_chromium
from orchestrator.funnel.report import monthly_report
from orchestrator.lifecycle.table import ENDS, State
from orchestrator.store.db import open_database, reading
from orchestrator.store.models import OutboxMessage
from tests.conftest import START, RunCli
from tests.factories_portfolio import BID_MANAGERS, OWNERS, BidSpec, PortfolioSpec
from tests.factories_portfolio import build_portfolio as factory

ROOT = Path(__file__).resolve().parents[1]
RULES, TEMPLATES = ROOT / "rules", ROOT / "templates"
S = State
NOW = START.replace(tzinfo=None)
TODAY = NOW.date()
AWAITING = (S.PRE_QUALIFICATION, S.QUALIFICATION, S.STRATEGY_REWORK)
NOT_PIPELINE = {*ENDS, S.CONTRACT_PREPARATION}


@dataclass(frozen=True)
class Built:
    spec: PortfolioSpec
    weekly: WeeklyPack
    qualification: QualificationPack
    weekly_files: PackFiles
    qualification_files: PackFiles
    review: Path
    engine: Engine


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    folder = tmp_path_factory.mktemp("packs")
    engine = open_database(f"sqlite:///{folder}/t.db")
    with Session(engine) as session:
        spec = factory(session, START)
        session.commit()
    with reading(engine) as session:
        weekly = weekly_top_accounts(session, RULES, START)
        qualification = qualification_pack(session, RULES, START)
    review = monthly_report(
        engine,
        rules_dir=RULES,
        templates_dir=TEMPLATES,
        month=parse_period("2026-11"),
        out_dir=folder / "review",
        now=START,
        pdf=False,
    )
    return Built(
        spec,
        weekly,
        qualification,
        write_weekly(weekly, TEMPLATES, folder / "out"),
        write_qualification(qualification, TEMPLATES, folder / "out"),
        review,
        engine,
    )


# --- the weekly pack, by hand -----------------------------------------------------------------


def _minutes(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="minutes")


def _state_line(bid: BidSpec) -> tuple[str, str]:
    return (_minutes(bid.moved_at), f"{bid.ref}: pre_qualification → {bid.state.value}")


def expected_week(spec: PortfolioSpec, name: str) -> dict[str, Any]:
    """One top account's weekly figures from the factory's parameters."""
    bids = spec.bids_of(name)
    open_bids = [b for b in bids if b.state not in ENDS]
    since = NOW - timedelta(days=7)
    due_soon: list[tuple[str, str, int]] = []
    overdue: list[tuple[str, str, int]] = []
    for bid in open_bids:
        for m in bid.milestones:
            due = m.due_at.replace(tzinfo=None)
            if m.status != "open" or due > NOW + timedelta(days=14):
                continue
            line = (bid.ref, m.name, (due.date() - TODAY).days)
            (overdue if due < NOW else due_soon).append(line)
    changes = [
        _state_line(b)
        for b in bids
        if b.state != S.PRE_QUALIFICATION and b.moved_at.replace(tzinfo=None) >= since
    ]
    changes += [
        (_minutes(b.received_at), f"{b.ref}: new → pre_qualification")
        for b in bids
        if b.received_at.replace(tzinfo=None) >= since
    ]
    account = spec.account(name)
    created = NOW - timedelta(days=3 if account.index % 4 == 0 else 30)
    if created >= since:
        changes.append((_minutes(created), f"account: created — → {account.tier}"))
    return {
        "open_bids": [(b.ref, b.state.value, f"Bid {b.index}") for b in open_bids],
        "due_soon": sorted(due_soon, key=lambda x: (x[2], x[0])),
        "overdue": sorted(overdue, key=lambda x: (x[2], x[0])),
        "approvals_pending": [
            (b.ref, area, round_, (NOW - (NOW - timedelta(days=round_))).days)
            for b in open_bids
            for area, round_, status in b.approvals
            if status == "requested" and round_ == b.governance_round
        ],
        "order_problems": [
            (b.ref, f"S{s + 1}")
            for b in open_bids
            if b.state == S.CONTRACT_PREPARATION
            for s in range(b.bad_postcodes)
        ],
        "macds": sorted(
            (b.ref, site, kind)
            for b in bids
            for site, kind, at in b.macds
            if at.replace(tzinfo=None) >= since
        ),
        "changes": sorted(changes),
    }


def test_the_weekly_pack_holds_every_top_account_with_its_figures(built: Built) -> None:
    spec, pack = built.spec, built.weekly
    top = sorted(a.name for a in spec.accounts if a.tier == "top")
    assert [a.name for a in pack.accounts] == top
    seen = {key: 0 for key in ("open_bids", "due_soon", "overdue", "approvals_pending")}
    for week in pack.accounts:
        want = expected_week(spec, week.name)
        assert week.owner == spec.account(week.name).owner
        assert [(b.ref, b.state, b.title) for b in week.open_bids] == want["open_bids"]
        got_soon = sorted(((m.ref, m.name, m.days) for m in week.due_soon), key=lambda x: x[2:])
        assert sorted(got_soon, key=lambda x: (x[2], x[0])) == want["due_soon"]
        assert (
            sorted(((m.ref, m.name, m.days) for m in week.overdue), key=lambda x: (x[2], x[0]))
            == (want["overdue"])
        )
        assert [(p.ref, p.area, p.round, p.waiting_days) for p in week.approvals_pending] == want[
            "approvals_pending"
        ]
        assert [(p.ref, p.site_id) for p in week.order_problems] == want["order_problems"]
        assert all("postcode '12'" in p.problem for p in week.order_problems)
        assert sorted((m.ref, m.site_id, m.kind) for m in week.macds) == want["macds"]
        got = sorted((c.at, f"{c.subject}: {c.what}") for c in week.changes)
        assert got == want["changes"]
        assert [c.at for c in week.changes] == sorted(c.at for c in week.changes)
        for key in seen:
            seen[key] += len(want[key])
    # the factory reaches every part of the pack, the edge of the window included
    assert all(seen.values()) and pack.totals["order_problems"] == 1
    assert pack.totals["macds"] >= 1 and pack.totals["changes"] >= 1
    assert any(m.days == 14 for a in pack.accounts for m in a.due_soon)
    assert pack.week == "2026-W48" and pack.due_within_days == 14
    counted = {key: sum(len(expected_week(spec, n)[key]) for n in top) for key in seen}
    assert {k: pack.totals[k] for k in seen} == counted


def test_the_qualification_pack_holds_every_lead_capacity_and_waking_account(
    built: Built,
) -> None:
    spec, pack = built.spec, built.qualification
    leads = sorted(
        (b for b in spec.bids if b.state in AWAITING),
        key=lambda b: (b.decision_date - timedelta(days=1), b.id),
    )
    assert [lead.ref for lead in pack.leads] == [b.ref for b in leads]
    for lead, bid in zip(pack.leads, leads, strict=True):
        account = spec.account(bid.account)
        assert (lead.account, lead.tier, lead.state, lead.owner) == (
            bid.account,
            account.tier,
            bid.state.value,
            OWNERS[bid.index % 2],
        )
        assert lead.bid_managers == [bid.bid_manager]
        assert lead.days_waiting == (TODAY - bid.received_at.date()).days
        assert lead.revenue_eur == pytest.approx((bid.short + bid.medium + bid.long) * bid.fx_rate)
        assert lead.bants == bid.bants
        assert lead.bants_missing == (["sales_ready"] if "sales_ready" not in bid.bants else [])
        record, advice = bid.bants_record or {}, bid.advice or {}
        assert (lead.bants_result, lead.bants_score, lead.bants_failed) == (
            record.get("result"),
            record.get("score"),
            record.get("failed", []),
        )
        assert (lead.recommendation, lead.recommendation_reason) == (
            advice.get("recommendation"),
            advice.get("reason"),
        )
    busy = {
        m: sum(
            1
            for b in spec.bids
            if b.bid_manager == m and b.state not in ENDS and b.state != S.PRE_QUALIFICATION
        )
        for m in BID_MANAGERS
    }
    assert [(c.bid_manager, c.open_bids, c.capacity) for c in pack.capacity] == [
        (m, busy[m], 4) for m in BID_MANAGERS
    ]
    open_accounts = {b.account for b in spec.bids if b.state not in ENDS}
    waking = sorted(
        (a.sleeping_until, a.name)
        for a in spec.accounts
        if a.sleeping_until is not None
        and date(2026, 11, 1) <= a.sleeping_until < date(2026, 12, 1)
        and a.name not in open_accounts
    )
    assert [(date.fromisoformat(w.sleeping_until), w.name) for w in pack.waking] == waking
    assert waking and any(
        a.sleeping_until and a.sleeping_until >= date(2026, 12, 1) for a in spec.accounts
    )  # next month's sleepers stay out
    totals = pack.totals
    assert totals == {
        "leads": len(leads),
        "recommended_bid": sum(1 for b in leads if (b.advice or {}).get("recommendation") == "bid"),
        "recommended_no_bid": 0,
        "without_recommendation": sum(1 for b in leads if b.advice is None),
        "bid_managers": 3,
        "over_capacity": sum(1 for n in busy.values() if n > 4),
        "waking": len(waking),
    }


# --- the monthly review in money, by hand -----------------------------------------------------


def _country(code: str) -> str:
    return code if code in ("BE", "NL") else "other"


def _state_at(bid: BidSpec, moment: datetime) -> State | None:
    if bid.received_at.replace(tzinfo=None) > moment:
        return None
    if bid.state != S.PRE_QUALIFICATION and bid.moved_at.replace(tzinfo=None) <= moment:
        return bid.state
    return S.PRE_QUALIFICATION


def _open_at(bid: BidSpec, moment: datetime) -> bool:
    state = _state_at(bid, moment)
    return state is not None and state not in NOT_PIPELINE


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_monthly_review_in_money_matches_the_factory(built: Built) -> None:
    spec, folder = built.spec, built.review.parent
    nov = datetime(2026, 11, 1)
    targets = load_funnel_config(RULES).revenue_targets
    countries = {r["country"]: r for r in _rows(folder / "countries.csv")}
    assert list(countries) == ["BE", "NL", "other"]
    for country, row in countries.items():
        bids = [b for b in spec.bids if _country(spec.account(b.account).country) == country]
        contracts = [
            c for c in spec.contracts if _country(spec.account(c.account).country) == country
        ]
        in_month = [b for b in bids if nov <= b.moved_at.replace(tzinfo=None) < NOW]
        booked = one_off = 0.0
        for c in contracts:
            first = date(c.start.year, c.start.month, 1)
            if first <= date(2026, 11, 1) < first + relativedelta(months=c.term):
                booked += c.monthly_eur  # recurring: one-off charges are not recurring revenue
            if first == date(2026, 11, 1):
                one_off += c.one_off_eur
        expected = {
            "new_bids": sum(1 for b in bids if nov <= b.received_at.replace(tzinfo=None) < NOW),
            "won": sum(1 for b in in_month if b.state == S.CONTRACT_PREPARATION),
            "lost": sum(1 for b in in_month if b.state == S.LOST),
            "pipeline_eur": sum(
                (b.short + b.medium + b.long) * b.fx_rate for b in bids if _open_at(b, NOW)
            ),
            "order_intake_eur": sum(
                c.monthly_eur * c.term + c.one_off_eur
                for c in contracts
                if date(2026, 11, 1) <= c.start < date(2026, 12, 1)
            ),
            "recurring_revenue_eur": booked,
            "one_off_revenue_eur": one_off,
        }
        for key, value in expected.items():
            assert float(row[key]) == pytest.approx(value), (country, key)
        for key in ("order_intake_eur", "recurring_revenue_eur"):
            target = targets.get(key, {}).get(country)
            assert (
                row[f"{key.removesuffix('_eur')}_target_eur"]
                == ("" if target is None else str(float(target)))
                or float(row[f"{key.removesuffix('_eur')}_target_eur"]) == target
            )
    assert float(countries["BE"]["recurring_revenue_target_eur"]) == 120_000
    slipped = sorted(
        (-(TODAY - b.decision_date).days, b.ref)
        for b in spec.bids
        if _open_at(b, NOW) and b.decision_date < TODAY
    )
    rows = _rows(folder / "slipped_deals.csv")
    assert [(-int(r["days_late"]), r["bid"]) for r in rows] == slipped and slipped
    pipeline = {r["month"]: r for r in _rows(folder / "pipeline_change.csv")}
    for label, moment in (("2026-10", nov), ("2026-11", NOW)):
        open_then = [b for b in spec.bids if _open_at(b, moment)]
        assert int(pipeline[label]["bids"]) == len(open_then)
        assert float(pipeline[label]["value_eur"]) == pytest.approx(
            sum((b.short + b.medium + b.long) * b.fx_rate for b in open_then)
        )
    assert pipeline["2026-10"]["bids"] != pipeline["2026-11"]["bids"]
    renewed = {c.renews for c in spec.contracts}
    churn = sorted(
        (c.end, c.ref)
        for c in spec.contracts
        if date(2026, 11, 1) <= c.end < TODAY and c.index not in renewed
    )
    assert [
        (date.fromisoformat(r["end_date"]), r["contract"]) for r in _rows(folder / "churn.csv")
    ] == (churn)
    assert len(churn) == 2
    html = built.review.read_text(encoding="utf-8")
    assert "cheaper rival" in html and "no renewal bid was opened" in html


# --- the pages: printed and rendered in headless Chromium --------------------------------------


def _render(page: Path) -> str:
    """The page's DOM after headless Chromium loaded and laid it out."""
    browser = find_chromium()
    assert browser is not None
    common = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [browser, *common, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
            check=True, capture_output=True, timeout=120, text=True,
        ).stdout  # fmt: skip
    return dom


def test_the_packs_are_printed_and_rendered_in_headless_chromium(built: Built) -> None:
    weekly, qualification = built.weekly_files, built.qualification_files
    for files, pack in ((weekly, built.weekly), (qualification, built.qualification)):
        assert json.loads(files.figures.read_text(encoding="utf-8")) == json.loads(
            json.dumps(pack.as_dict(), default=str)
        )
    if find_chromium() is None:
        # no browser here: the pages are written, the PDFs reported as not written
        assert weekly.pdf is None and weekly.html.is_file() and qualification.html.is_file()
        return
    for files in (weekly, qualification):
        assert files.pdf is not None and files.pdf.read_bytes().startswith(b"%PDF")
    dom = _render(weekly.html)
    totals = built.weekly.totals
    row = dom.split('<tr class="totals">')[1].split("</tr>")[0]
    cells = [c.split(">")[-1] for c in row.split("</td>")[:-1]]
    assert cells == [
        str(totals[k])
        for k in (
            "accounts",
            "open_bids",
            "due_soon",
            "overdue",
            "approvals_pending",
            "order_problems",
            "macds",
            "changes",
        )
    ]
    for account in built.weekly.accounts:
        section = dom.split(f'data-account="{account.name}"')[1].split("</section>")[0]
        assert f"Open bids ({len(account.open_bids)})" in section
        assert f"Approvals pending ({len(account.approvals_pending)})" in section
    dom = _render(qualification.html)
    for lead in built.qualification.leads:
        assert lead.ref in dom
    assert all(w.name in dom for w in built.qualification.waking)


def test_the_markdown_artifacts_list_every_account_and_lead(built: Built) -> None:
    weekly = weekly_markdown(built.weekly)
    for account in built.weekly.accounts:
        c = account.counts()
        assert (
            f"| {account.name} | {c['open_bids']} | {c['due_soon']} | {c['overdue']} | "
            f"{c['approvals_pending']} | {c['order_problems']} | {c['macds']} | {c['changes']} |"
        ) in weekly
    qualification = qualification_markdown(built.qualification)
    assert all(f"| {lead.ref} |" in qualification for lead in built.qualification.leads)


# --- the commands ---------------------------------------------------------------------------


def test_bid_pack_writes_the_files_and_queues_the_summary_once(
    ctx: Context, run_cli: RunCli, tmp_path: Path
) -> None:
    with Session(ctx.engine) as session:
        spec = factory(session, ctx.clock())
        session.commit()
    out = tmp_path / "packs"
    args = ["pack", "weekly-top-accounts", "--out", str(out), "--no-pdf", "--json"]
    first = run_cli(*args)
    assert first.code == 0, first.err
    report = json.loads(first.out)
    assert report["pdf"] is None and Path(report["html"]).is_file()
    figures = json.loads(Path(report["figures"]).read_text(encoding="utf-8"))
    assert figures["totals"]["accounts"] == sum(1 for a in spec.accounts if a.tier == "top")
    assert report["summary"].startswith(f"{figures['totals']['accounts']} top accounts: ")
    assert report["slack"] and set(report["slack"]) <= {
        *OWNERS,
        *BID_MANAGERS,
        "pm@example.com",
        "om@example.com",
    }
    assert run_cli(*args).code == 0  # again: announced once
    second = run_cli("pack", "qualification", "--out", str(out), "--no-pdf")
    assert second.code == 0, second.err
    assert "qualification" in second.out and "leads awaiting a decision" in second.out
    with Session(ctx.engine) as session:
        queued = session.exec(
            select(OutboxMessage.event, OutboxMessage.recipient_email).where(
                OutboxMessage.event.in_(["pack_weekly_top_accounts", "pack_qualification"])  # type: ignore[attr-defined]
            )
        ).all()
    weekly = sorted(e or "" for k, e in queued if k == "pack_weekly_top_accounts")
    assert weekly == sorted(report["slack"])
    assert any(k == "pack_qualification" for k, _ in queued)


BAD_INPUT = [
    (["account", "show", "Nobody Here"], "Nobody Here"),
    (["account", "list", "--tier", "middle"], "unknown tier 'middle'"),
    (["account", "set-tier", "Nobody", "top", "--reason", "x"], "no account 'Nobody'"),
    (["account", "import", "missing.csv"], "missing.csv"),
    (["account", "competitor", "X", "--competitor", "Y", "--contract-end", "soon"], "soon"),
    (
        [
            "result",
            "OPP-0001",
            "--lost",
            "--reason",
            "r",
            "--competitor",
            "Y",
            "--competitor-contract-end",
            "soon",
        ],
        "'soon'",
    ),
    (["portfolio", "--chart", "matrix.pdf"], ".png or .svg"),
    (["portfolio", "--chart", "FILE/matrix.png"], "cannot write the chart"),
    (["portfolio", "review", "--accept", "1", "--decline", "2"], "--accept or --decline"),
    (["portfolio", "review", "--accept", "999", "--reason", "ok"], "999"),
    (["contract", "list", "--account", "Nobody Here"], "Nobody Here"),
    (["contract", "list", "--ending-within", "-3"], "not a number of days ahead"),
    (["pack", "weekly-top-accounts", "--out", "FILE"], "not a folder"),
    (["pack", "qualification", "--out", "FILE"], "not a folder"),
]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no database work
def test_bad_input_to_the_new_commands_is_one_line_and_exit_2(
    run_cli: RunCli, tmp_path: Path
) -> None:
    taken = tmp_path / "taken.txt"
    taken.write_text("x", encoding="utf-8")
    for args, message in BAD_INPUT:
        result = run_cli(*(a.replace("FILE", str(taken)) for a in args))
        assert result.code == 2, (args, result.out, result.err)
        text = (result.out + result.err).strip()
        assert message in text and "Traceback" not in text, (args, text)
        # one error line (a Click usage error shows the usage line above it)
        errors = [line for line in text.splitlines() if not line.startswith("Usage:")]
        assert len(errors) == 1, (args, text)
