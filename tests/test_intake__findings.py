"""Intake as customers and carriers send it: a malformed row refuses the file (a problem); a
plausible row a person must decide on is imported and becomes a design task (an exception)
that holds the design freeze until `bid design propose` or `bid quotes accept|requote`
resolves it. Every import reports its findings on screen, in `--problems` and with `--json`,
and `--dry-run` changes nothing."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, col, select

from orchestrator.bid.facts import get_opportunity
from orchestrator.bid.measures.exit_criteria import exit_check
from orchestrator.bid.opportunity.onboarding import import_sites
from orchestrator.bid.producing.design import Proposal, decide_outlier, propose_design
from orchestrator.bid.producing.production import freeze_design
from orchestrator.bid.producing.quotes import import_quotes
from orchestrator.bid.reports.queries import status
from orchestrator.commercial.qrf import plan_qrfs
from orchestrator.commercial.quotes import catalogue_for, ordered_sites, quote_status
from orchestrator.config import Settings
from orchestrator.context import Context
from orchestrator.errors import DesignFreezeRefused, InputErrors
from orchestrator.handlers.design import read_proposals
from orchestrator.intake.findings import FINDING_COLUMNS
from orchestrator.intake.opportunity import SITE_COLUMNS, read_sites
from orchestrator.intake.site_checks import SiteRules
from orchestrator.intake.workbooks import read_table
from orchestrator.store.models import AuditEvent, Quote, Site, Task, TaskStatus
from tests.conftest import RunCli
from tests.factories_sites import make_opportunity, site_specs, write_quotes
from tests.test_intake__errors import _opportunity

CONSULTANT = "sc@example.com"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def customer_sites(n: int, every: int = 17) -> tuple[list[list[str]], set[str]]:
    """`n` generated sites (rows under SITE_COLUMNS); every `every`-th asks more than its
    access carries or the price list sells (copper at 200 Mbit/s or 1 Gbit/s, 4G at 1 Gbit/s):
    about 6 % with the default. Returns the rows and the ids of those sites."""
    rows: list[list[str]] = []
    flagged: set[str] = set()
    asks = (("copper", 200), ("copper", 1000), ("4g", 1000))
    for i, spec in enumerate(site_specs(n)):
        access, bandwidth = spec.access, spec.bandwidth_mbps
        if i % every == every - 1:
            access, bandwidth = asks[i % len(asks)]
            flagged.add(spec.site_id)
        rows.append(
            [
                spec.site_id,
                spec.name,
                spec.street,
                spec.postcode,
                spec.city,
                spec.country,
                str(bandwidth),
                access,
            ]
        )
    return rows, flagged


def write_sites(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SITE_COLUMNS)
        writer.writerows(rows)
    return path


def _rules(ctx: Context) -> SiteRules:
    return SiteRules.from_catalogue(catalogue_for(ctx.settings.rules_dir))


def _tasks(engine: Engine, kind: str) -> list[Task]:
    with Session(engine) as session:
        return list(
            session.exec(select(Task).where(Task.kind == kind).order_by(col(Task.id))).all()
        )


# --- sites: exceptions are imported and become design tasks ---------------------------------


def test_a_3000_site_list_with_6_percent_over_their_access_imports_with_its_exceptions_listed(
    run_cli: RunCli, tmp_path: Path, settings: Settings
) -> None:
    assert run_cli("opportunity", "create", str(_opportunity(tmp_path))).code == 0
    rows, flagged = customer_sites(3000)
    assert 0.05 < len(flagged) / 3000 < 0.07
    path = write_sites(tmp_path / "sites.csv", rows)
    problems = tmp_path / "findings.csv"

    result = run_cli("sites", "import", "OPP-0001", str(path), "--problems", str(problems))

    assert result.code == 0, result.err
    lines = result.out.strip().splitlines()
    assert lines[0] == (
        f"imported 3000 sites into OPP-0001; {len(flagged)} exception(s) for a person "
        "(design tasks)"
    )
    assert len(lines) == 1 + 20 + 1  # the first 20, then the count of the rest
    assert lines[1].startswith(f"exception (solution_consultant): {path}, row ")
    assert lines[-1] == f"… and {len(flagged) - 20} more (all {len(flagged)} in {problems})"
    with problems.open(encoding="utf-8") as handle:
        listed = list(csv.DictReader(handle))
    assert tuple(listed[0]) == FINDING_COLUMNS
    assert len(listed) == len(flagged)
    assert {row["kind"] for row in listed} == {"exception"}
    assert {row["rule"] for row in listed} == {"price_list.above_sold"}
    assert {row["field"] for row in listed} == {"bandwidth_mbps"}
    assert {row["value"] for row in listed} == {"200", "1000"}
    engine_tasks = _open_tasks_of(settings)
    assert engine_tasks == {site_id: "solution_consultant" for site_id in flagged}

    shown = run_cli("status", "OPP-0001", "--json")
    exceptions = json.loads(shown.out)["exceptions"]
    assert exceptions["open_count"] == len(flagged) and exceptions["resolved"] == 0
    assert len(exceptions["open"]) == 20
    human = run_cli("status", "OPP-0001").out
    assert f"exceptions: {len(flagged)} open, 0 of {len(flagged)} resolved" in human

    # bulk: one CSV of proposals resolves them all, the sites keeping what was asked
    proposals = tmp_path / "proposals.csv"
    proposals.write_text(
        "site_id,access,bandwidth_mbps,reason\n"
        + "".join(f"{s},fiber,,fibre carries it\n" for s in sorted(flagged))
    )
    done = run_cli("design", "propose", "OPP-0001", "--file", str(proposals), "--json")
    assert done.code == 0, done.err
    data = json.loads(done.out)
    assert (data["resolved"], data["still_open"], len(data["sites"])) == (
        len(flagged),
        0,
        len(flagged),
    )
    assert _open_tasks_of(settings) == {}
    after = json.loads(run_cli("status", "OPP-0001", "--json").out)["exceptions"]
    assert (after["open_count"], after["resolved"], after["total"]) == (
        0,
        len(flagged),
        len(flagged),
    )


def _open_tasks_of(settings: Settings) -> dict[str, str]:
    from orchestrator.store.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            tasks = session.exec(
                select(Task).where(Task.kind == "site_exception", Task.status == TaskStatus.OPEN)
            ).all()
            return {task.key.split(":")[0]: task.owner_role for task in tasks}
    finally:
        engine.dispose()


def test_the_freeze_waits_for_the_exceptions_and_the_proposed_access_flows_on(
    ctx: Context, tmp_path: Path
) -> None:
    opp = make_opportunity(ctx.engine, team={"solution_consultant": CONSULTANT})
    rows, flagged = customer_sites(60, every=10)
    read = read_sites(write_sites(tmp_path / "sites.csv", rows), rules=_rules(ctx))
    assert {f.site_id for f in read.exceptions} == flagged and len(read.sites) == 60
    import_sites(ctx, opp.ref, read.sites, actor=CONSULTANT, exceptions=read.exceptions)

    with pytest.raises(DesignFreezeRefused, match=f"{len(flagged)} intake exception"):
        freeze_design(ctx, opp.ref, by=CONSULTANT)
    with Session(ctx.engine) as session:
        opportunity = get_opportunity(session, opp.ref)
        criterion = next(
            c
            for c in exit_check(session, ctx, opportunity).criteria
            if c.id == "exceptions_resolved"
        )
    assert (criterion.holds, criterion.done, criterion.total) == (False, 0, len(flagged))

    first, *rest = sorted(flagged)
    propose_design(
        ctx,
        opp.ref,
        [Proposal(first, "fiber", 500, "fibre at 500 for the branch")],
        actor=CONSULTANT,
    )
    with pytest.raises(DesignFreezeRefused, match=f"{len(rest)} intake exception"):
        freeze_design(ctx, opp.ref, by=CONSULTANT)
    bulk = tmp_path / "proposals.csv"
    bulk.write_text(
        "site_id,access,bandwidth_mbps,reason\n" + "".join(f"{s},fiber,,fibre\n" for s in rest)
    )
    done = propose_design(ctx, opp.ref, read_proposals(bulk), actor=CONSULTANT)
    assert (done.resolved, done.still_open) == (len(rest), 0)
    assert "frozen" in freeze_design(ctx, opp.ref, by=CONSULTANT).message

    asked = {row[0]: (row[7], int(row[6])) for row in rows}
    with Session(ctx.engine) as session:
        site = session.exec(select(Site).where(Site.site_id == first)).one()
        assert (site.access, site.bandwidth_mbps) == ("fiber", 500)
        assert (site.asked_access, site.asked_bandwidth_mbps) == asked[first]
        assert site.proposal_reason == "fibre at 500 for the branch"
        # the technical approver's "design against the ask" reads the same proposal
        assert site.asked["access"] == asked[first][0]
        assert site.redesign_reason == "fibre at 500 for the branch"
        # the QRF asks the carrier for what we propose, and says what the customer asked
        plan = plan_qrfs(
            ordered_sites(session, opp.id or 0), {}, catalogue_for(ctx.settings.rules_dir)
        )
        lines = {line.site_id: line for group in plan.groups for line in group.lines} | {
            line.site_id: line for task in plan.in_house for line in task.lines
        }
        row = lines[first].as_row()
        assert (row["access"], row["bandwidth_mbps"]) == ("fiber", 500)
        assert row["customer_asked"] == f"{asked[first][0]} {asked[first][1]} Mbit/s"
        events = session.exec(
            select(AuditEvent).where(AuditEvent.trigger == "design_proposed")
        ).all()
        assert len(events) == 2 and events[0].actor == CONSULTANT
    # pricing prices the proposed access: fibre at 500 Mbit/s is the 690 band
    from orchestrator.bid.measures.deal import load_deal

    with Session(ctx.engine) as session:
        deal = load_deal(session, ctx, get_opportunity(session, opp.ref))
    line = next(line for line in deal.priced.lines if line.site_id == first)
    assert (line.access, line.bandwidth_mbps, line.list_monthly_eur) == ("fiber", 500, 690)
    # the order sheet orders what we propose
    from orchestrator.commercial.orders import order_lines

    with Session(ctx.engine) as session:
        ordered = order_lines(
            session, get_opportunity(session, opp.ref), catalogue_for(ctx.settings.rules_dir)
        )
    sheet_line = next(o for o in ordered if o.site_id == first)
    assert (sheet_line.access, sheet_line.bandwidth_mbps) == ("fiber", 500)
    # the proposal and the compliance matrix show the offered alternative
    from openpyxl import load_workbook

    from orchestrator.documents.compliance import write_compliance_xlsx
    from orchestrator.documents.proposal import proposal_context

    with Session(ctx.engine) as session:
        opportunity = get_opportunity(session, opp.ref)
        context = proposal_context(
            session, opportunity, catalogue_for(ctx.settings.rules_dir), ctx.settings.rules_dir
        )
    row = next(r for r in context["sites"] if r["site_id"] == first)
    assert row["access"] == "fibre (offered alternative)" and row["bandwidth_mbps"] == 500
    assert sum(1 for r in context["sites"] if "offered alternative" in r["access"]) == len(flagged)
    assert context["sections"]["compliance"]
    annex = tmp_path / "compliance.xlsx"
    write_compliance_xlsx(context, "v1", annex)
    sheet = load_workbook(annex).active
    assert sheet is not None
    cells = [[str(c.value) for c in r] for r in sheet.iter_rows(min_row=4)]
    alternative = next(r for r in cells if r[0] == f"SITE {first}")
    assert alternative[4] == "Offered alternative"
    assert alternative[2].endswith(f"{asked[first][1]} Mbit/s")
    assert alternative[5].startswith("We offer fibre at 500 Mbit/s")


def test_a_proposal_that_is_itself_implausible_is_refused_whole(
    ctx: Context, tmp_path: Path
) -> None:
    opp = make_opportunity(ctx.engine, team={"solution_consultant": CONSULTANT})
    rows, flagged = customer_sites(20, every=5)
    read = read_sites(write_sites(tmp_path / "sites.csv", rows), rules=_rules(ctx))
    import_sites(ctx, opp.ref, read.sites, actor=CONSULTANT, exceptions=read.exceptions)
    one, two, *_ = sorted(flagged)
    bulk = tmp_path / "proposals.csv"
    bulk.write_text(
        "site_id,access,bandwidth_mbps,reason\n"
        f"{one},fiber,,ok\n{two},copper,1000,no\nNOPE,fiber,,no\n"
    )
    with pytest.raises(InputErrors) as refused:
        propose_design(ctx, opp.ref, read_proposals(bulk), actor=CONSULTANT, file=str(bulk))
    lines = refused.value.lines()
    assert lines[0] == f"{bulk}: 2 problems; nothing proposed"
    assert "row 3, field 'bandwidth': site" in lines[1] and "copper is sold up to 100" in lines[1]
    assert "row 4, field 'site': no site 'NOPE'" in lines[2]
    assert len(_tasks(ctx.engine, "site_exception")) == len(flagged)
    assert all(t.status == TaskStatus.OPEN for t in _tasks(ctx.engine, "site_exception"))


def test_access_limits_kind_problem_refuses_the_file_as_before(
    ctx: Context, tmp_path: Path
) -> None:
    rules = SiteRules.from_catalogue(catalogue_for(ctx.settings.rules_dir))
    strict = SiteRules(
        rules.postcode_overrides,
        rules.access_limits,
        rules.max_mbps,
        access_limit_kind="problem",
        above_sold_kind="exception",
    )
    rows, _ = customer_sites(4, every=100)
    rows[1][6], rows[1][7] = "10000", "4g"  # above what 4G carries: a typing mistake
    rows[2][6], rows[2][7] = "200", "copper"  # above what copper is sold at: an exception
    with pytest.raises(InputErrors) as refused:
        read_sites(write_sites(tmp_path / "s.csv", rows), rules=strict)
    assert [(p.row, p.field) for p in refused.value.problems] == [(3, "bandwidth_mbps")]
    assert [(f.row, f.rule) for f in refused.value.also] == [(4, "price_list.above_sold")]  # type: ignore[attr-defined]


# --- a malformed file: refused whole, every bad row named, all in --problems --------------------


def test_500_problems_are_all_in_the_problems_file_and_the_screen_shows_20(
    run_cli: RunCli, tmp_path: Path, settings: Settings
) -> None:
    assert run_cli("opportunity", "create", str(_opportunity(tmp_path))).code == 0
    rows, flagged = customer_sites(1000, every=50)
    for row in rows[1::2]:  # 500 sites in a country that does not exist
        row[5] = "XX"
    path = write_sites(tmp_path / "sites.csv", rows)
    problems = tmp_path / "problems.csv"
    before = _everything(settings)

    result = run_cli("sites", "import", "OPP-0001", str(path), "--problems", str(problems))

    assert result.code == 2
    err = result.err.strip().splitlines()
    assert err[0] == f"error: {path}: 500 problems; nothing imported"
    assert len(err) == 1 + 20 + 1
    assert err[1].startswith(f"error: {path}, row 3, field 'country': 'XX' is not an ISO")
    assert err[-1] == f"error: ... and 480 more (all 500 in {problems})"
    with problems.open(encoding="utf-8") as handle:
        listed = list(csv.DictReader(handle))
    named = [r for r in listed if r["kind"] == "problem"]
    assert [int(r["row"]) for r in named] == list(range(3, 1002, 2))
    assert {(r["field"], r["value"], r["rule"]) for r in named} == {("country", "XX", "format")}
    # the exceptions of the good rows are listed too, though nothing was imported
    assert len(listed) - len(named) == sum(
        1 for i, r in enumerate(rows) if r[0] in flagged and i % 2 == 0
    )
    assert _everything(settings) == before

    as_json = run_cli("sites", "import", "OPP-0001", str(path), "--json")
    assert as_json.code == 2
    data = json.loads(as_json.out)
    assert data["refused"] is True and data["counts"]["problems"] == 500
    assert len([f for f in data["findings"] if f["kind"] == "problem"]) == 500


# --- --dry-run changes nothing -----------------------------------------------------------------


def _everything(settings: Settings) -> object:
    """The database as it stands: the SQLite file's bytes, or every row of every table."""
    url = settings.database_url
    if url.startswith("sqlite"):
        return Path(url.split("///", 1)[1]).read_bytes()
    from orchestrator.store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = sorted(inspect(connection).get_table_names())
            return {
                table: sorted(
                    repr(tuple(row)) for row in connection.execute(text(f'SELECT * FROM "{table}"'))
                )
                for table in tables
            }
    finally:
        engine.dispose()


def test_dry_runs_leave_the_database_as_it_was(
    run_cli: RunCli, tmp_path: Path, settings: Settings
) -> None:
    assert run_cli("opportunity", "create", str(_opportunity(tmp_path))).code == 0
    rows, flagged = customer_sites(200, every=20)
    path = write_sites(tmp_path / "sites.csv", rows)
    assert run_cli("status", "OPP-0001").code == 0  # whatever a first command records
    before = _everything(settings)

    dry = run_cli("sites", "import", "OPP-0001", str(path), "--dry-run", "--json")

    assert dry.code == 0, dry.err
    data = json.loads(dry.out)
    assert (data["dry_run"], data["count"]) == (True, 200)
    assert data["counts"] == {"problems": 0, "exceptions": len(flagged)}
    assert _everything(settings) == before

    # every import takes --dry-run: the questionnaire, the accounts, a new opportunity
    questionnaire = tmp_path / "rfp.csv"
    questionnaire.write_text("id,requirement,mandatory\nR1,Provide a 99.9% SLA,yes\n")
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("name,tier\nGlobex,major\n")
    other = _opportunity(tmp_path, title="Another WAN")
    for args in (
        ("rfp", "import", "OPP-0001", str(questionnaire)),
        ("account", "import", str(accounts)),
        ("opportunity", "create", str(other)),
    ):
        checked = run_cli(*args, "--dry-run", "--json")
        assert checked.code == 0, (args, checked.err)
        assert json.loads(checked.out)["message"].endswith("(dry run: nothing changed)") or (
            "nothing created" in json.loads(checked.out)["message"]
        )
        assert _everything(settings) == before, args

    real = run_cli("sites", "import", "OPP-0001", str(path), "--json")
    assert real.code == 0 and json.loads(real.out)["counts"]["exceptions"] == len(flagged)
    assert _everything(settings) != before


def test_a_quote_dry_run_changes_nothing(ctx: Context, tmp_path: Path, settings: Settings) -> None:
    opp = make_opportunity(ctx.engine, sites=6, countries=("DE",))
    path = _quote_file(tmp_path, outliers=2)
    before = _everything(settings)
    done = import_quotes(ctx, opp.ref, path, actor="sam@example.com", dry_run=True)
    assert (done.dry_run, done.imported, len(done.outliers)) == (True, 6, 2)
    assert _everything(settings) == before


# --- quotes: outliers wait for accept or requote; the margin counts them as missing ------------


def _quote_file(tmp_path: Path, *, outliers: int) -> Path:
    """A DE carrier's budgetary quotes for S-00001..S-00006; the first `outliers` at 5,000 a
    month, far above any list price of their sites."""
    rows = [
        (
            f"S-{i:05d}",
            "telekom",
            "budgetary",
            5000 if i <= outliers else 200,
            500,
            "EUR",
            "2027-06-30",
        )
        for i in range(1, 7)
    ]
    return write_quotes(tmp_path / "quotes.csv", rows)


def test_outlier_quotes_are_imported_and_wait_for_accept_or_requote(
    ctx: Context, tmp_path: Path
) -> None:
    opp = make_opportunity(
        ctx.engine,
        sites=6,
        countries=("DE",),
        team={"solution_consultant": CONSULTANT, "sales_support": "sam@example.com"},
    )
    done = import_quotes(ctx, opp.ref, _quote_file(tmp_path, outliers=3), actor="sam@example.com")

    assert done.imported == 6
    assert [(f.site_id, f.field, f.kind, f.owner_role) for f in done.outliers] == [
        (f"S-{i:05d}", "monthly_cost", "exception", "solution_consultant") for i in (1, 2, 3)
    ]
    assert [t.key for t in _tasks(ctx.engine, "quote_outlier")] == [
        f"S-{i:05d}:price_list.quote_checks" for i in (1, 2, 3)
    ]

    def counted() -> tuple[int, float | None, dict[str, str]]:
        with Session(ctx.engine) as session:
            opportunity = get_opportunity(session, opp.ref)
            from orchestrator.bid.measures.deal import load_deal

            deal = load_deal(session, ctx, opportunity)
            report = quote_status(
                session, opportunity, catalogue_for(ctx.settings.rules_dir), NOW.date()
            )
        return (
            deal.coverage.quoted,
            deal.margin.margin_pct,
            {line.site_id: line.status for line in report.sites},
        )

    quoted, margin, shown = counted()
    assert quoted == 3 and shown["S-00001"] == "outlier" and shown["S-00004"] == "budgetary"
    assert margin is not None and margin > 0  # the outliers' 5,000 a month are not in it

    decide_outlier(
        ctx, opp.ref, "S-00001", accept=True, reason="the only 5G carrier", actor=CONSULTANT
    )
    quoted, accepted_margin, shown = counted()
    assert quoted == 4 and shown["S-00001"] == "budgetary"
    assert accepted_margin is not None and accepted_margin < margin  # it counts now

    decide_outlier(ctx, opp.ref, "S-00002", accept=False, reason=None, actor=CONSULTANT)
    quoted, _, shown = counted()
    assert quoted == 4 and shown["S-00002"] == "missing"
    with Session(ctx.engine) as session:
        dropped = session.exec(select(Quote).where(Quote.site_id == "S-00002")).one()
        assert dropped.superseded
        triggers = [
            e.trigger for e in session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        ]
    assert triggers[-2:] == ["quote_accepted", "quote_requoted"]
    assert [t.status for t in _tasks(ctx.engine, "quote_outlier")] == [
        TaskStatus.DONE,
        TaskStatus.DONE,
        TaskStatus.OPEN,
    ]
    assert status(ctx, opp.ref).exceptions["open_count"] == 1
    with pytest.raises(DesignFreezeRefused, match="1 intake exception"):
        freeze_design(ctx, opp.ref, by=CONSULTANT)
    with pytest.raises(Exception, match="no quote waiting as an outlier"):
        decide_outlier(ctx, opp.ref, "S-00004", accept=True, reason="x", actor=CONSULTANT)


# --- .xlsx: merged header cells, a hidden sheet, numbers stored as text ------------------------


def _workbook(path: Path, rows: list[list[str]]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    hidden = book.active
    assert hidden is not None
    hidden.title = "lookup"
    hidden.append(["access", "max"])
    hidden.append(["copper", 100])
    hidden.sheet_state = "hidden"
    sheet = book.create_sheet("Sites")
    sheet.append(["Customer site list 2027"])
    sheet.merge_cells("A1:H1")
    sheet.append(["Site", None, "Address", None, None, None, "Connection", None])
    sheet.merge_cells("A2:B2")
    sheet.merge_cells("C2:F2")
    sheet.merge_cells("G2:H2")
    sheet.append(
        ["Site ID", "Name", "Street", "Postcode", "City", "Country", "Bandwidth Mbps", "Access"]
    )
    for n, row in enumerate(rows):
        cells: list[object] = list(row)
        if n % 2:  # numbers stored as numbers on odd rows, as text on even ones
            cells[6] = int(row[6])
        sheet.append(cells)
    # the header's own words differ in case and spacing from the CSV's: found by header
    sheet["G3"] = "bandwidth_mbps"
    book.save(path)
    return path


def test_an_xlsx_site_list_imports_as_the_csv_does(ctx: Context, tmp_path: Path) -> None:
    rows, flagged = customer_sites(40, every=8)
    from_csv = read_sites(write_sites(tmp_path / "sites.csv", rows), rules=_rules(ctx))
    book = _workbook(tmp_path / "sites.xlsx", rows)
    from_xlsx = read_sites(
        book, rules=_rules(ctx), table=read_table(book, required=SITE_COLUMNS, max_bytes=10**7)
    )
    assert from_xlsx.sites == from_csv.sites
    assert [(f.site_id, f.rule, f.value) for f in from_xlsx.exceptions] == [
        (f.site_id, f.rule, f.value) for f in from_csv.exceptions
    ]
    assert {f.site_id for f in from_xlsx.exceptions} == flagged
    assert (
        from_xlsx.exceptions[0].row == (from_csv.exceptions[0].row or 0) + 2
    )  # two rows above the header
    with pytest.raises(Exception, match="has no sheet 'Nope'"):
        read_table(book, required=SITE_COLUMNS, sheet="Nope", max_bytes=10**7)


def test_sites_import_reads_an_xlsx_through_the_cli(run_cli: RunCli, tmp_path: Path) -> None:
    assert run_cli("opportunity", "create", str(_opportunity(tmp_path))).code == 0
    rows, flagged = customer_sites(30, every=10)
    book = _workbook(tmp_path / "sites.xlsx", rows)
    result = run_cli("sites", "import", "OPP-0001", str(book), "--sheet", "Sites", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["count"] == 30 and data["counts"]["exceptions"] == len(flagged)
    assert {f["file"] for f in data["findings"]} == {str(book)}
    broken = io.StringIO()
    broken.write("x")
    bad = tmp_path / "sites.xls"
    bad.write_text("not excel")
    refused = run_cli("sites", "import", "OPP-0001", str(bad))
    assert refused.code == 2 and "save it as .xlsx" in refused.err


def test_a_site_edit_that_asks_too_much_opens_a_design_task_and_one_that_stops_closes_it(
    run_cli: RunCli, tmp_path: Path, settings: Settings
) -> None:
    assert run_cli("opportunity", "create", str(_opportunity(tmp_path))).code == 0
    rows, _ = customer_sites(3, every=100)
    rows[0][6], rows[0][7] = "20", "copper"
    assert (
        run_cli("sites", "import", "OPP-0001", str(write_sites(tmp_path / "s.csv", rows))).code == 0
    )
    site = rows[0][0]
    asks = tmp_path / "asks.csv"
    asks.write_text(f"site_id,bandwidth_mbps\n{site},200\n")
    assert run_cli("sites", "update", "OPP-0001", str(asks)).code == 0
    assert _open_tasks_of(settings) == {site: "solution_consultant"}
    back = tmp_path / "back.csv"
    back.write_text(f"site_id,bandwidth_mbps\n{site},50\n")
    assert run_cli("sites", "update", "OPP-0001", str(back)).code == 0
    assert _open_tasks_of(settings) == {}
    added = tmp_path / "added.csv"
    added.write_text(",".join(SITE_COLUMNS) + "\nN1,New,Hauptstraße 1,10115,Berlin,DE,1000,4g\n")
    assert run_cli("sites", "add", "OPP-0001", str(added)).code == 0
    assert _open_tasks_of(settings) == {"N1": "solution_consultant"}
    gone = tmp_path / "gone.csv"
    gone.write_text("site_id\nN1\n")
    assert run_cli("sites", "remove", "OPP-0001", str(gone)).code == 0
    assert _open_tasks_of(settings) == {}


def test_every_import_writes_its_problems_file_and_json_when_refused(
    run_cli: RunCli, tmp_path: Path
) -> None:
    assert run_cli("opportunity", "create", str(_opportunity(tmp_path))).code == 0
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("name,tier\nGlobex,major\nInitech,platinum\nUmbrella,gold\n")
    listed = tmp_path / "account-problems.csv"
    refused = run_cli("account", "import", str(accounts), "--problems", str(listed))
    assert refused.code == 2
    with listed.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["row"], r["field"], r["kind"]) for r in rows] == [
        ("3", "tier", "problem"),
        ("4", "tier", "problem"),
    ]
    questionnaire = tmp_path / "rfp.csv"
    questionnaire.write_text("id,requirement,mandatory\nR1,,yes\nR2,Fine,yes\n")
    as_json = run_cli("rfp", "import", "OPP-0001", str(questionnaire), "--json")
    assert as_json.code == 2
    data = json.loads(as_json.out)
    assert data["refused"] and data["counts"] == {"problems": 1, "exceptions": 0}
    assert [(f["row"], f["field"], f["kind"]) for f in data["findings"]] == [(2, "text", "problem")]
    assert {f["file"] for f in data["findings"]} == {str(questionnaire)}


def test_a_quote_valid_for_less_than_the_offer_waits_for_sales_support(
    ctx: Context, tmp_path: Path
) -> None:
    opp = make_opportunity(ctx.engine, sites=3, countries=("DE",))  # submitted 2027-01-15
    path = write_quotes(
        tmp_path / "quotes.csv",
        [
            ("S-00001", "telekom", "firm", 200, 500, "EUR", "2027-01-10"),
            ("S-00002", "telekom", "firm", 200, 500, "EUR", "2027-06-30"),
            ("S-00003", "telekom", "firm", 200, 500, "EUR", "2027-01-15"),
        ],
    )
    done = import_quotes(ctx, opp.ref, path, actor="sam@example.com")
    assert [(f.site_id, f.field, f.rule, f.owner_role) for f in done.outliers] == [
        ("S-00001", "valid_until", "price_list.quote_validity", "sales_support")
    ]
    assert "less than the offer (submitted 2027-01-15)" in done.outliers[0].message
    assert [t.owner_role for t in _tasks(ctx.engine, "quote_outlier")] == ["sales_support"]
