"""The monthly business review: page, charts and CSV figures, checked against the factory."""

from __future__ import annotations

import csv
import shutil
import subprocess
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import Session

from orchestrator.bid.customers.accounts import put_to_sleep
from orchestrator.decisions.funnel_rules import parse_period
from orchestrator.funnel.measure import FUNNEL_STAGES, load_funnel_config
from orchestrator.funnel.report import monthly_report
from orchestrator.lifecycle.table import ENDS, State
from orchestrator.store.db import open_database
from orchestrator.store.models import ForecastSnapshot
from tests.factories_history import (
    NOW,
    BidSpec,
    custom_spec,
    entered,
    make_specs,
    stage_at,
    write_history,
)

ROOT = Path(__file__).resolve().parents[1]
RULES, TEMPLATES = ROOT / "rules", ROOT / "templates"
S = State
WON = {S.CONTRACT_PREPARATION, S.CONTRACTED}
OCT = datetime(2026, 10, 1, tzinfo=UTC)
NOV = datetime(2026, 11, 1, tzinfo=UTC)
CHARTS = ("funnel_vs_target", "forecast_vs_actual", "win_loss_reasons", "bids_per_owner")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _closed_at(spec: BidSpec) -> datetime | None:
    return next((at for s, at in spec.visits if s in WON or s in ENDS), None)


def _outcome(spec: BidSpec) -> str:
    return "won" if spec.state in WON else spec.state.value


def _october_revenue(spec: BidSpec) -> float:
    """Revenue landing in October 2026 under funnel.yaml's schedule, counted by hand."""
    won = entered(spec, S.CONTRACT_PREPARATION)
    assert won is not None
    offset = (2026 - won.year) * 12 + 10 - won.month  # months after the decision month
    amount = spec.revenue_short_term if offset == 0 else 0.0
    if 1 <= offset <= 12:
        amount += spec.revenue_medium_term / 12
    if 13 <= offset <= 36:
        amount += spec.revenue_long_term / 24
    return amount


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[BidSpec], Path]:
    tmp_path = tmp_path_factory.mktemp("report")
    engine = open_database(f"sqlite:///{tmp_path}/t.db")
    evil = custom_spec(
        999,
        [(S.CUSTOMER_DECISION, OCT - timedelta(weeks=9)), (S.LOST, OCT + timedelta(days=9))],
        account="<b>Evil & Co</b>",
        category="price",
    )
    evil.reason = "<script>alert(1)</script>"
    with Session(engine) as session:
        specs = write_history(session, [*make_specs(), evil])
        put_to_sleep(session, evil.account_id, today=date(2026, 10, 10), rules_dir=RULES)
        session.add(
            ForecastSnapshot(
                period="2026-10",
                taken_at=datetime(2026, 9, 30, tzinfo=UTC),
                expected_revenue=12345.0,
            )
        )
        session.commit()
    index = monthly_report(
        engine,
        rules_dir=RULES,
        templates_dir=TEMPLATES,
        month=parse_period("2026-10"),
        out_dir=tmp_path / "out",
        now=NOW,
    )
    return specs, index


def test_the_page_charts_and_csv_files_are_written(built: tuple[list[BidSpec], Path]) -> None:
    _, index = built
    assert index.name == "index.html" and index.stat().st_size > 0
    html = index.read_text(encoding="utf-8")
    for chart in CHARTS:
        png = index.parent / f"{chart}.png"
        assert png.stat().st_size > 0
        assert f'src="{chart}.png"' in html
        with Image.open(png) as image:
            image.verify()
            assert image.format == "PNG" and image.size[0] > 100
        assert (index.parent / f"{chart}.csv").stat().st_size > 0
        assert f'href="{chart}.csv"' in html
    # autoescaped: the account name and reason arrive as text, not markup
    assert "&lt;b&gt;Evil &amp; Co&lt;/b&gt;" in html
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "Monthly business review — 2026-10" in html


def test_funnel_csv_holds_the_quarter_as_of_the_month_end(
    built: tuple[list[BidSpec], Path],
) -> None:
    specs, index = built
    rows = {r["stage"]: r for r in _rows(index.parent / "funnel_vs_target.csv")}
    assert list(rows) == [s.value for s in FUNNEL_STAGES]
    config = load_funnel_config(RULES)
    for stage in FUNNEL_STAGES:
        if stage is S.CONTRACTED:
            count = sum(1 for s in specs if (at := entered(s, stage)) and OCT <= at < NOV)
        else:
            count = sum(1 for s in specs if stage_at(s, NOV) == stage)
        target = config.stage(stage).target
        assert int(rows[stage.value]["count"]) == count, stage
        assert int(rows[stage.value]["target"]) == target
        assert int(rows[stage.value]["percent_of_target"]) == int(100 * count / target + 0.5)


def test_forecast_csv_compares_the_stored_forecast_with_won_revenue(
    built: tuple[list[BidSpec], Path],
) -> None:
    specs, index = built
    actual = sum(_october_revenue(s) for s in specs if s.state == S.CONTRACTED)
    assert actual > 0
    rows = _rows(index.parent / "forecast_vs_actual.csv")
    assert [r["period"] for r in rows] == ["2026-10"]
    assert float(rows[0]["forecast"]) == 12345.0
    assert float(rows[0]["actual"]) == pytest.approx(actual)
    assert float(rows[0]["abs_pct_error"]) == pytest.approx(abs(12345 - actual) / actual * 100)
    ahead = _rows(index.parent / "forecast.csv")
    assert [r["period"] for r in ahead][:2] == ["2026-11", "2026-12"]
    assert len(ahead) == load_funnel_config(RULES).horizon_months


def test_owner_and_reason_csvs_match_the_factory(built: tuple[list[BidSpec], Path]) -> None:
    specs, index = built
    expected: dict[str, Counter[str]] = {}
    for s in specs:
        counts = expected.setdefault(s.owner, Counter())
        state = stage_at(s, NOV)
        counts["open"] += int(state is not None and state not in ENDS)
        counts["new"] += int(OCT <= s.start < NOV)
        closed = _closed_at(s)
        if closed and OCT <= closed < NOV and _outcome(s) in ("won", "lost"):
            counts[_outcome(s)] += 1
    rows = _rows(index.parent / "bids_per_owner.csv")
    assert {
        r["owner"]: (int(r["open"]), int(r["new"]), int(r["won"]), int(r["lost"])) for r in rows
    } == {o: (c["open"], c["new"], c["won"], c["lost"]) for o, c in expected.items()}
    assert sum(int(r["new"]) for r in rows) > 0

    since = datetime(2025, 11, 1, tzinfo=UTC)
    reasons: Counter[tuple[str, str]] = Counter()
    for s in specs:
        closed = _closed_at(s)
        if closed and since <= closed < NOV:
            reasons[(_outcome(s), s.category or "uncategorised")] += 1
    csv_reasons = {
        (r["outcome"], r["category"]): int(r["count"])
        for r in _rows(index.parent / "win_loss_reasons.csv")
    }
    assert csv_reasons == dict(reasons)
    win_rates = {(r["group"], r["key"]): r for r in _rows(index.parent / "win_rates.csv")}
    overall = win_rates[("overall", "all")]
    won, lost = reasons_total(reasons, "won"), reasons_total(reasons, "lost")
    assert (int(overall["won"]), int(overall["lost"])) == (won, lost)
    assert float(overall["win_rate"]) == pytest.approx(won / (won + lost))


def reasons_total(reasons: Counter[tuple[str, str]], outcome: str) -> int:
    return sum(n for (o, _), n in reasons.items() if o == outcome)


def test_sleeping_accounts_are_in_the_review(built: tuple[list[BidSpec], Path]) -> None:
    _, index = built
    html = index.read_text(encoding="utf-8")
    sleeping = html.split("<h2>Sleeping accounts</h2>")[1]
    assert "&lt;b&gt;Evil &amp; Co&lt;/b&gt;" in sleeping and "2027-04-08" in sleeping


def test_the_page_renders_in_a_browser_when_one_is_installed(
    built: tuple[list[BidSpec], Path], tmp_path: Path
) -> None:
    _, index = built
    chromium = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if chromium is None:
        # no browser here: the page must at least point at every chart, and each be an image
        html = index.read_text(encoding="utf-8")
        for chart in CHARTS:
            assert f'<img src="{chart}.png"' in html
            with Image.open(index.parent / f"{chart}.png") as image:
                image.load()
                assert image.size[0] > 0 and image.size[1] > 0
        return
    shot = tmp_path / "page.png"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", f"--screenshot={shot}",
         "--window-size=1200,3000", index.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert shot.stat().st_size > 0
    with Image.open(shot) as image:
        image.verify()
