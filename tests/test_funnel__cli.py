"""`bid funnel`, `forecast`, `sleeping` and `report monthly` through a Typer app."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import typer
from sqlmodel import Session
from typer.testing import CliRunner

from orchestrator.bid.customers.accounts import put_to_sleep
from orchestrator.cli.funnel import register
from orchestrator.config import load_settings
from orchestrator.context import Context
from orchestrator.errors import InputError
from orchestrator.lifecycle.table import State
from orchestrator.store.db import open_database
from tests.factories_history import NOW, build_history, custom_spec, write_history

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> typer.Typer:
    tmp = tmp_path_factory.mktemp("cli")
    settings = load_settings(
        {
            "BID_DATABASE_URL": f"sqlite:///{tmp}/t.db",
            "BID_RULES_DIR": str(ROOT / "rules"),
            "BID_TEMPLATES_DIR": str(ROOT / "templates"),
            "BID_OUTPUT_DIR": str(tmp / "out"),
        },
        cwd=tmp,
    )
    engine = open_database(settings.database_url)
    with Session(engine) as session:
        build_history(session)
        lost_at = datetime(2026, 10, 20, tzinfo=UTC)
        [lost] = write_history(
            session,
            [custom_spec(999, [(State.CUSTOMER_DECISION, lost_at), (State.LOST, lost_at)],
                         account="Gone Quiet NV", category="price")],
        )  # fmt: skip
        put_to_sleep(session, lost.account_id, today=date(2026, 11, 1), rules_dir=ROOT / "rules")
        session.commit()
    context = Context(settings=settings, engine=engine, clock=lambda: NOW)
    application = typer.Typer()
    register(application, lambda: context)
    return application


def _run(app: typer.Typer, *args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_funnel_json_and_table(app: typer.Typer) -> None:
    data = json.loads(_run(app, "funnel", "--period", "2026-Q4", "--json"))
    assert data["period"] == "2026-Q4"
    assert [s["stage"] for s in data["stages"]][-1] == "contracted"
    assert data["stages"][-1]["target"] == 11
    mine = json.loads(_run(app, "funnel", "--owner", "bart.peeters@example.com", "--json"))
    assert mine["period"] == "2026-Q4"  # the clock's quarter by default
    assert mine["stages"][-1]["target"] == 3
    table = _run(app, "funnel", "--period", "2025")
    assert "pre_qualification" in table and "Shape:" in table


def test_forecast_save_then_accuracy(app: typer.Typer) -> None:
    data = json.loads(_run(app, "forecast", "--json", "--save"))
    assert len(data["months"]) == 12 and data["months"][0]["period"] == "2026-11"
    assert {p["source"] for p in data["probabilities"]} == {"history"}
    assert "Expected revenue" in _run(app, "forecast")
    # saved in November: no ended month has a forecast yet
    assert json.loads(_run(app, "forecast", "--accuracy", "--json")) == []


def test_sleeping_lists_the_account(app: typer.Typer) -> None:
    data = json.loads(_run(app, "sleeping", "--json"))
    assert [(a["name"], a["sleeping_until"]) for a in data] == [("Gone Quiet NV", "2027-04-30")]
    assert "Gone Quiet NV" in _run(app, "sleeping")


def test_report_monthly_prints_the_page(app: typer.Typer, tmp_path: Path) -> None:
    out = _run(app, "report", "monthly", "--month", "2026-10", "--out", str(tmp_path / "r"))
    page, pdf = out.strip().splitlines()
    assert page == str(tmp_path / "r" / "index.html")
    assert (tmp_path / "r" / "index.html").exists()
    assert pdf == str(tmp_path / "r" / "monthly-review.pdf")  # CI installs Chromium
    assert (tmp_path / "r" / "monthly-review.pdf").read_bytes().startswith(b"%PDF")


def test_user_mistakes_are_bid_errors(app: typer.Typer) -> None:
    with pytest.raises(InputError, match="not a period"):
        CliRunner().invoke(app, ["funnel", "--period", "Q4"], catch_exceptions=False)
    with pytest.raises(InputError, match="not a month"):
        CliRunner().invoke(app, ["report", "monthly", "--month", "2026-Q4"], catch_exceptions=False)


def test_the_commands_import_neither_prefect_nor_matplotlib() -> None:
    code = (
        "import sys, orchestrator.cli.funnel; "
        "print('prefect' in sys.modules, 'matplotlib' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
