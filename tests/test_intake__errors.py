"""Bad input: one line naming file, row and field; exit code 2; the database untouched."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func
from sqlmodel import Session, select

from orchestrator.config import Settings
from orchestrator.store.db import make_engine
from orchestrator.store.models import AuditEvent, Opportunity, Site
from tests.conftest import CliResult, RunCli

GOOD_SITES = (
    "site_id,name,street,postcode,city,country,bandwidth_mbps,access\n"
    "S1,HQ,Wetstraat 16,1000,Brussel,BE,100,fiber\n"
    "S2,Depot,Dam 1,1012 JS,Amsterdam,NL,20,copper\n"
)


def _opportunity(tmp_path: Path, **changes: object) -> Path:
    data: dict[str, object] = {
        "account": {"name": "Acme", "tier": "top"},
        "title": "WAN",
        "source": "rfp",
        "rfp_reference": "R-1",
        "submission_deadline": "2027-01-15",
        "estimated_revenue": {"short_term": 100000, "medium_term": 0, "long_term": 0},
        "currency": "EUR",
        "team": {"bid_manager": "bm@example.com"},
        "bants": {
            "budget_eur": 600000,
            "authority": "decision_maker",
            "need": "clear",
            "timeframe_months": 6,
            "sales_ready": True,
        },
        "services": ["managed_network"],
    }
    data.update(changes)
    path = tmp_path / "opportunity.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _counts(url: str) -> tuple[int, int, int]:
    engine = make_engine(url)
    with Session(engine) as session:
        result = tuple(
            int(session.exec(select(func.count()).select_from(table)).one())
            for table in (Opportunity, Site, AuditEvent)
        )
    engine.dispose()
    return result  # type: ignore[return-value]


def _assert_user_error(result: CliResult, *fragments: str) -> None:
    assert result.code == 2, result
    assert "Traceback" not in result.err
    first = result.err.strip().splitlines()[0]
    assert first.startswith("error: ")
    for fragment in fragments:
        assert fragment in result.err, (fragment, result.err)


def test_valid_opportunity_prints_its_id(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("opportunity", "create", str(_opportunity(tmp_path)))
    assert result.code == 0, result.err
    assert result.out.strip() == "OPP-0001"


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"colour": "red"}, ["opportunity.yaml", "field 'colour'", "unknown field"]),
        ({"submission_deadline": "2020-01-01"}, ["field 'submission_deadline'", "in the past"]),
        ({"submission_deadline": "soon"}, ["field 'submission_deadline'"]),
        ({"account": {"name": "Acme", "tier": "gold"}}, ["field 'account.tier'"]),
        ({"services": ["catering"]}, ["field 'services.0'"]),
        ({"estimated_revenue": {"short_term": "lots"}}, ["field 'estimated_revenue.short_term'"]),
        ({"team": {"wizard": "x@example.com"}}, ["field 'team.wizard"]),
    ],
)
def test_bad_opportunity_yaml_is_refused(
    run_cli: RunCli,
    tmp_path: Path,
    settings: Settings,
    changes: dict[str, object],
    fragments: list[str],
) -> None:
    path = _opportunity(tmp_path, **changes)
    result = run_cli("opportunity", "create", str(path))
    _assert_user_error(result, str(path), *fragments)
    assert _counts(settings.database_url) == (0, 0, 0)
    # the row named is the line of the offending field in the YAML file
    row = int(re.search(r"row (\d+)", result.err).group(1))  # type: ignore[union-attr]
    field = re.search(r"field '([^']+)'", result.err).group(1).split(".")  # type: ignore[union-attr]
    key = next(part for part in reversed(field) if not part.isdigit())
    line = path.read_text().splitlines()[row - 1]
    assert key in line or line.strip().startswith("-"), (row, line)


def test_malformed_yaml_names_the_line(run_cli: RunCli, tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("title: [unclosed\nsource: rfp\n")
    _assert_user_error(run_cli("opportunity", "create", str(path)), "broken.yaml", "malformed YAML")
    assert _counts(settings.database_url) == (0, 0, 0)


def test_missing_file_is_a_user_error(run_cli: RunCli, tmp_path: Path) -> None:
    _assert_user_error(run_cli("opportunity", "create", str(tmp_path / "nope.yaml")), "nope.yaml")


@pytest.mark.parametrize(
    ("csv_text", "fragments"),
    [
        (
            GOOD_SITES + "S3,X,Street 1,1000,Town,XX,100,fiber\n",
            ["row 4", "field 'country'", "'XX'"],
        ),
        (
            GOOD_SITES + "S1,X,Street 1,1000,Town,BE,100,fiber\n",
            ["row 4", "field 'site_id'", "duplicate site id 'S1' (row 2)"],
        ),
        (
            GOOD_SITES + "S3,X,Street 1,1000,Town,BE,fast,fiber\n",
            ["row 4", "field 'bandwidth_mbps'"],
        ),
        (GOOD_SITES + "S3,X,Street 1,1000,Town,BE,100,pigeon\n", ["row 4", "field 'access'"]),
        (
            GOOD_SITES + "S3,,Street 1,1000,Town,BE,100,fiber\n",
            ["row 4", "field 'name'", "is empty"],
        ),
        (
            "site_id,name,street,postcode,city,country,access\nS1,a,b,c,d,BE,fiber\n",
            ["row 1", "bandwidth_mbps"],
        ),
        (
            GOOD_SITES + "S3,X,Street 1,1000,Town,BE,100,fiber,extra\n",
            ["row 4", "more values than columns"],
        ),
    ],
)
def test_bad_sites_csv_is_refused_whole(
    run_cli: RunCli, tmp_path: Path, settings: Settings, csv_text: str, fragments: list[str]
) -> None:
    assert run_cli("opportunity", "create", str(_opportunity(tmp_path))).code == 0
    before = _counts(settings.database_url)
    path = tmp_path / "sites.csv"
    path.write_text(csv_text)
    _assert_user_error(run_cli("sites", "import", "OPP-0001", str(path)), "sites.csv", *fragments)
    assert _counts(settings.database_url) == before


def test_every_bad_row_is_named(run_cli: RunCli, tmp_path: Path) -> None:
    assert run_cli("opportunity", "create", str(_opportunity(tmp_path))).code == 0
    path = tmp_path / "sites.csv"
    path.write_text(
        GOOD_SITES + "S3,X,St 1,1000,Town,XX,100,fiber\nS4,Y,St 2,1000,Town,BE,-5,wifi\n"
    )
    result = run_cli("sites", "import", "OPP-0001", str(path))
    _assert_user_error(result, "3 problems; nothing imported")
    lines = result.err.strip().splitlines()
    assert len(lines) == 4
    assert "row 4, field 'country'" in lines[1]
    assert "row 5, field 'bandwidth_mbps'" in lines[2]
    assert "row 5, field 'access'" in lines[3]


def test_good_sites_import_and_duplicates_across_imports(
    run_cli: RunCli, tmp_path: Path, settings: Settings
) -> None:
    assert run_cli("opportunity", "create", str(_opportunity(tmp_path))).code == 0
    path = tmp_path / "sites.csv"
    path.write_text(GOOD_SITES)
    assert run_cli("sites", "import", "OPP-0001", str(path)).code == 0
    assert _counts(settings.database_url)[1] == 2
    _assert_user_error(run_cli("sites", "import", "OPP-0001", str(path)), "already imported")
    assert _counts(settings.database_url)[1] == 2


@pytest.mark.parametrize(
    "command",
    [["status", "OPP-0042"], ["history", "42"], ["advance", "OPP-9"], ["status", "banana"]],
)
def test_unknown_ids_are_user_errors(run_cli: RunCli, command: list[str]) -> None:
    _assert_user_error(run_cli(*command), "opportunit")


def test_bad_database_url_message_hides_the_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator import config
    from orchestrator.cli import app as cli

    monkeypatch.setenv("BID_DATABASE_URL", "postgresql://nobody:secret@127.0.0.1:1/none")
    config.get_settings.cache_clear()
    cli._CONTEXT.clear()
    assert cli.main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot open the database")
    assert "secret" not in err and "Traceback" not in err
    config.get_settings.cache_clear()
    cli._CONTEXT.clear()
