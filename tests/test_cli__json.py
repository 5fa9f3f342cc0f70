"""Every `bid` command takes `--json`, and every write command prints its result as JSON.

Issue 22: "Every `bid` command accepts `--json`; a test parses the JSON of each write
command". The first test walks the whole Click tree of `bid`; the others run each write
command in-process with `--json` on a prepared bid, parse stdout and check the fields that
say what changed against the database.

The write commands run on SQLite only: the JSON is built from the services' answers, which
their own tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlmodel import Session, col, select

from orchestrator.bid.progress import services
from orchestrator.cli.app import app
from orchestrator.context import Context
from orchestrator.dispatch import drain
from orchestrator.store.models import (
    Account,
    Approval,
    AuditEvent,
    ChangeOrder,
    LibraryAnswer,
    OutboxMessage,
    Person,
    QuoteRequest,
    Requirement,
    Site,
)
from tests.conftest import RunCli
from tests.factories import (
    APPROVERS,
    PEOPLE,
    carry_to_governance,
    grant_all,
    new_bid,
    opportunity_yaml,
    quote_file,
    submit,
)

LEAD_ADDS: set[str] = set()
"""Commands known to lack `--json` (none)."""


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every command a user can run: the leaves, and the groups that run on their own."""
    subcommands = getattr(command, "commands", None)
    runs = subcommands is None or getattr(command, "invoke_without_command", False)
    if runs and path:
        yield " ".join(path), command
    for name, sub in (subcommands or {}).items():
        yield from _commands(sub, (*path, name))


def _takes_json(command: Any) -> bool:
    return any("--json" in getattr(param, "opts", ()) for param in command.params)


def test_every_bid_command_takes_json() -> None:
    commands = dict(_commands(typer.main.get_command(app)))
    assert len(commands) > 70  # the whole tree was walked, the groups' commands too
    without = {name for name, command in commands.items() if not _takes_json(command)}
    assert without == LEAD_ADDS, (
        f"without --json: {sorted(without - LEAD_ADDS)}; "
        f"LEAD_ADDS that have it now (empty the set): {sorted(LEAD_ADDS - without)}"
    )


# --- write commands ---------------------------------------------------------------------------


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite only here (see the module's docstring)."""
    return f"sqlite:///{tmp_path / 'bid.db'}"


Json = Callable[..., Any]
"""`json_cli("freeze", ref, ...)`: run `bid ... --json`, exit 0, stdout parsed."""


@pytest.fixture
def json_cli(run_cli: RunCli) -> Json:
    def run(*args: str) -> Any:
        result = run_cli(*args, "--json")
        assert result.code == 0, result
        assert "warning" not in result.err  # warnings travel inside the JSON
        return json.loads(result.out)

    return run


SITE_HEADER = "site_id,name,street,postcode,city,country,bandwidth_mbps,access"


def _in_production(ctx: Context) -> str:
    ref = new_bid(ctx)
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="go")
    services.run_to_wait(ctx, ref)
    return ref


def _at_customer_decision(ctx: Context) -> str:
    ref = new_bid(ctx)
    carry_to_governance(ctx, ref)
    grant_all(ctx, ref)
    services.run_to_wait(ctx, ref)
    drain(ctx, notify=False)  # the effects of the set-up's answers, as their doors would
    submit(ctx, ref)
    return ref


def _approved(ctx: Context) -> str:
    ref = new_bid(ctx)
    carry_to_governance(ctx, ref)
    grant_all(ctx, ref)
    services.run_to_wait(ctx, ref)
    drain(ctx, notify=False)
    return ref


def _audit(ctx: Context, ref: str) -> list[str]:
    with Session(ctx.engine) as session:
        opportunity = services.get_opportunity(session, ref)
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.opportunity_id == opportunity.id)
            .order_by(col(AuditEvent.id))
        )
        return [event.trigger for event in events]


def _state(ctx: Context, ref: str) -> str:
    with Session(ctx.engine) as session:
        return services.get_opportunity(session, ref).state.value


def _account(ctx: Context) -> str:
    with Session(ctx.engine) as session:
        return session.exec(select(Account)).first().name  # type: ignore[union-attr]


def _person(ctx: Context, email: str) -> Person | None:
    with Session(ctx.engine) as session:
        return session.exec(select(Person).where(Person.email == email)).first()


# people ------------------------------------------------------------------------------------


def _typed(data: dict[str, Any], name: str) -> dict[str, Any]:
    """A typed command's result without the fields every result has (command, message, ...),
    after checking that it names the command."""
    assert data["command"] == name
    common = ("command", "opportunity", "message", "notes")
    return {key: value for key, value in data.items() if key not in common}


def people_add(ctx: Context, cli: Json, tmp_path: Path) -> None:
    data = cli("people", "add", "new@example.com", "--name", "New Person")
    assert _typed(data, "people.add") == {
        "email": "new@example.com",
        "name": "New Person",
        "slack_user_id": None,
        "grants": [],
        "added": True,
    }
    assert _person(ctx, "new@example.com") is not None


def people_set(ctx: Context, cli: Json, tmp_path: Path) -> None:
    new_bid(ctx)
    data = cli("people", "set", PEOPLE["finance"], "--name", "Fiona Finance")
    assert (data["email"], data["name"]) == (PEOPLE["finance"], "Fiona Finance")
    stored = _person(ctx, PEOPLE["finance"])
    assert stored is not None and stored.name == "Fiona Finance"


def people_grant(ctx: Context, cli: Json, tmp_path: Path) -> None:
    new_bid(ctx)
    data = cli("people", "grant", PEOPLE["finance"], "--role", "management")
    expected = {"email": PEOPLE["finance"], "role": "management", "granted": True}
    assert _typed(data, "people.grant") == expected
    assert cli("people", "grant", PEOPLE["finance"], "--role", "management")["granted"] is False


def people_revoke(ctx: Context, cli: Json, tmp_path: Path) -> None:
    new_bid(ctx)
    cli("people", "grant", PEOPLE["finance"], "--role", "management")
    data = cli("people", "revoke", PEOPLE["finance"], "--role", "management")
    expected = {"email": PEOPLE["finance"], "role": "management", "revoked": True}
    assert _typed(data, "people.revoke") == expected
    stored = _person(ctx, PEOPLE["finance"])
    assert stored is not None and "management" not in stored.roles


def people_token(ctx: Context, cli: Json, tmp_path: Path) -> None:
    from orchestrator.bid.team.people import authenticate

    new_bid(ctx)
    data = cli("people", "token", PEOPLE["finance"])
    assert data["email"] == PEOPLE["finance"] and "Shown once" in data["note"]
    assert authenticate(ctx, data["token"]).email == PEOPLE["finance"]
    revoked = cli("people", "token", PEOPLE["finance"], "--revoke")
    assert _typed(revoked, "people.token") == {
        "email": PEOPLE["finance"],
        "token": None,
        "note": None,
        "revoked": 1,
    }


def people_recover_admin(ctx: Context, cli: Json, tmp_path: Path) -> None:
    from orchestrator.bid.team.people import authenticate

    admin = cli("whoami")["email"]
    ctx.settings.admin_token_file.unlink()
    data = cli("people", "recover-admin")
    assert data == {"token_file": str(ctx.settings.admin_token_file), "email": admin}
    token = ctx.settings.admin_token_file.read_text().strip()
    assert authenticate(ctx, token).email == admin


def login(ctx: Context, cli: Json, tmp_path: Path) -> None:
    new_bid(ctx)
    token = cli("people", "token", PEOPLE["finance"])["token"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", io.StringIO(token + "\n"))  # bid login < token-file
        data = cli("login")
    assert (data["email"], data["logged_in"]) == (PEOPLE["finance"], True)
    assert Path(data["credentials_file"]).exists()
    assert cli("whoami")["email"] == PEOPLE["finance"]


def logout(ctx: Context, cli: Json, tmp_path: Path) -> None:
    new_bid(ctx)
    admin = cli("whoami")["email"]
    token = cli("people", "token", PEOPLE["finance"])["token"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", io.StringIO(token + "\n"))
        cli("login")
    assert cli("logout")["logged_in"] is False
    assert cli("whoami")["email"] == admin


# bid production, the offer -----------------------------------------------------------------


def freeze(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = _in_production(ctx)
    data = cli("freeze", ref, "--by", PEOPLE["solution_consultant"], "--note", "first cut")
    assert (data["opportunity"], data["state"], data["recorded"]) == (ref, "bid_production", True)
    assert (data["design_version"], data["design_frozen"], data["note"]) == (1, True, "first cut")
    assert data["message"].startswith("design version 1 frozen")
    again = cli("freeze", ref, "--by", PEOPLE["solution_consultant"])
    assert (again["recorded"], again["design_version"]) == (False, 1)


def terms(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = _in_production(ctx)
    data = cli("terms", ref, "--by", PEOPLE["bid_manager"], "--deviation", "payment in 60 days")
    assert (data["opportunity"], data["state"]) == (ref, "bid_production")
    assert data["deviations"] == ["payment in 60 days"]
    assert _audit(ctx, ref)[-1] == "terms_changed"


def pricing(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = _in_production(ctx)
    data = cli("pricing", ref, "--by", PEOPLE["bid_manager"], "--discount", "5")
    assert (data["opportunity"], data["state"]) == (ref, "bid_production")
    assert data["changes"] == {"discount_pct": 5.0}
    assert _audit(ctx, ref)[-1] == "prices_changed"


def service_strategy(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = _in_production(ctx)
    data = cli("service-strategy", ref, "--strategy", "qos", "--win-theme", "fast repairs")
    assert (data["opportunity"], data["strategy"], data["win_themes"]) == (
        ref,
        "qos",
        ["fast repairs"],
    )
    assert data["state"] == "bid_production" and data["message"]


def order_details(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = _in_production(ctx)
    start = (ctx.clock().date() + timedelta(days=90)).isoformat()
    data = cli("order", "details", ref, "--po", "PO-77", "--contract-start", start)
    assert data["opportunity"] == ref
    assert data["changes"] == {"purchase_order": "PO-77", "contract_start": start}
    with Session(ctx.engine) as session:
        assert services.get_opportunity(session, ref).purchase_order == "PO-77"


# edits -------------------------------------------------------------------------------------


def sites_update(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx)
    path = tmp_path / "update.csv"
    path.write_text("site_id,postcode\nS0001,1012 NX\n")  # S0001 is in NL
    data = cli("sites", "update", ref, str(path))
    assert (data["opportunity"], data["state"], data["file"]) == (
        ref,
        "pre_qualification",
        str(path),
    )
    assert data["updated"] == [{"site_id": "S0001", "fields": ["postcode"]}]
    assert data["counts"] == {"added": 0, "updated": 1, "removed": 0}
    assert data["carried_on"] is None and data["warnings"] == []


def sites_add(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx)
    path = tmp_path / "add.csv"
    path.write_text(f"{SITE_HEADER}\nN0001,New store,Ring 1,50668,Köln,DE,200,fiber\n")
    data = cli("sites", "add", ref, str(path))
    assert (data["added"], data["counts"]["added"]) == (["N0001"], 1)
    with Session(ctx.engine) as session:
        assert session.exec(select(Site).where(Site.site_id == "N0001")).first() is not None


def sites_remove(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx)
    path = tmp_path / "remove.csv"
    path.write_text("site_id\nS0002\n")
    data = cli("sites", "remove", ref, str(path))
    assert (data["removed"], data["counts"]["removed"]) == (["S0002"], 1)
    with Session(ctx.engine) as session:
        site = session.exec(select(Site).where(Site.site_id == "S0002")).one()
        assert site.ordered is False


def opportunity_update(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx)
    data = cli("opportunity", "update", ref, "--reason", "longer term", "--contract-months", "48")
    assert (data["opportunity"], data["reason"]) == (ref, "longer term")
    assert data["changes"] == {"contract_months": 48}
    with Session(ctx.engine) as session:
        assert services.get_opportunity(session, ref).contract_months == 48


def result_won(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = _at_customer_decision(ctx)
    data = cli("result", ref, "--won", "--reason", "best plan")
    assert (data["opportunity"], data["outcome"]) == (ref, "won")
    assert (data["from_state"], data["state"]) == ("customer_decision", "contract_preparation")
    carried = data["carried_on"]
    assert carried["stopped"] is None and (carried["continued"] or carried["waiting"])
    assert _state(ctx, ref) in ("contract_preparation", "contracted")


def result_lost(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = _at_customer_decision(ctx)
    data = cli(
        "result", ref, "--lost", "--reason", "price", "--category", "Price", "--competitor", "Rival"
    )
    assert (data["opportunity"], data["outcome"], data["state"]) == (ref, "lost", "lost")
    assert data["carried_on"] is None
    assert _state(ctx, ref) == "lost"


def withdraw(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx)
    data = cli("withdraw", ref, "--reason", "no capacity", "--category", "capacity")
    assert (data["opportunity"], data["state"], data["category"]) == (ref, "withdrawn", "capacity")
    assert data["from_state"] == "pre_qualification" and data["moved"] is True
    assert _state(ctx, ref) == "withdrawn"


# quotes and documents ------------------------------------------------------------------------


def qrf(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = _in_production(ctx)
    data = cli("qrf", ref, "--out", str(tmp_path / "sent"))
    assert data["opportunity"] == ref
    with Session(ctx.engine) as session:
        assert data["recorded"] == len(session.exec(select(QuoteRequest)).all()) > 0
    assert all(Path(d["path"]).exists() for d in data["documents"])
    assert {r["country"] for r in data["per_country"]} == {"BE", "NL", "DE", "FR", "GB", "ES"}


def quotes_import(ctx: Context, cli: Json, tmp_path: Path) -> None:
    from orchestrator.bid.producing.sourcing import send_quote_requests

    ref = _in_production(ctx)
    send_quote_requests(ctx, ref)
    answer = quote_file(ctx, ref, tmp_path / "answer.csv")
    data = cli("quotes", "import", ref, str(answer), "--by", PEOPLE["sales_support"])
    assert (data["opportunity"], data["file"]) == (ref, str(answer))
    assert (data["imported"], data["firm"], data["already_imported"]) == (6, 6, None)
    assert data["margin_after_pct"] is not None
    again = cli("quotes", "import", ref, str(answer), "--by", PEOPLE["sales_support"])
    assert (again["imported"], again["already_imported"] is not None) == (0, True)


def _with_outlier(ctx: Context, cli: Json, tmp_path: Path) -> tuple[str, str]:
    """A bid in production whose quote file had one outlier (100x the list); its site."""
    from orchestrator.bid.producing.sourcing import send_quote_requests

    ref = _in_production(ctx)
    send_quote_requests(ctx, ref)
    answer = quote_file(ctx, ref, tmp_path / "answer.csv")
    rows = list(csv.DictReader(io.StringIO(answer.read_text())))
    rows[0]["monthly_cost"] = "99999"
    with answer.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    data = cli("quotes", "import", ref, str(answer), "--by", PEOPLE["sales_support"])
    assert data["counts"] == {"problems": 0, "exceptions": 1}
    (finding,) = data["findings"]
    assert (finding["site_id"], finding["field"], finding["kind"]) == (
        rows[0]["site_id"],
        "monthly_cost",
        "exception",
    )
    return ref, rows[0]["site_id"]


def quotes_accept(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref, site = _with_outlier(ctx, cli, tmp_path)
    by = PEOPLE["solution_consultant"]
    data = cli("quotes", "accept", ref, "--site", site, "--reason", "the only carrier", "--by", by)
    assert (data["opportunity"], data["site"], data["quotes"], data["still_open"]) == (
        ref,
        site,
        1,
        0,
    )
    assert _audit(ctx, ref)[-1] == "quote_accepted"


def quotes_requote(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref, site = _with_outlier(ctx, cli, tmp_path)
    data = cli("quotes", "requote", ref, "--site", site, "--by", PEOPLE["solution_consultant"])
    assert (data["site"], data["quotes"], data["still_open"]) == (site, 1, 0)
    assert _audit(ctx, ref)[-1] == "quote_requoted"


def design_propose(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx, site_count=0)
    path = tmp_path / "sites.csv"
    path.write_text(f"{SITE_HEADER}\nN0001,New store,Ring 1,50668,Köln,DE,200,copper\n")
    imported = cli("sites", "import", ref, str(path))
    assert imported["counts"] == {"problems": 0, "exceptions": 1}
    data = cli(
        "design", "propose", ref, "--site", "N0001", "--access", "fiber", "--reason", "fibre"
    )
    assert (data["sites"], data["resolved"], data["still_open"]) == (["N0001"], 1, 0)
    with Session(ctx.engine) as session:
        site = session.exec(select(Site).where(Site.site_id == "N0001")).one()
        assert (site.access, site.asked_access, site.asked_bandwidth_mbps) == (
            "fiber",
            "copper",
            200,
        )
    assert _audit(ctx, ref)[-1] == "design_proposed"


def docs(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = _in_production(ctx)
    data = cli("docs", ref, "--out", str(tmp_path / "docs"))
    assert data["opportunity"] == ref and data["proposal_hash"]
    kinds = {d["kind"] for d in data["documents"]}
    assert "proposal" in kinds
    assert all(Path(d["path"]).is_file() for d in data["documents"])


def macd(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = _at_customer_decision(ctx)
    services.record_result(ctx, ref, won=True, reason="best plan", by=PEOPLE["account_manager"])
    services.run_to_wait(ctx, ref)
    assert _state(ctx, ref) == "contracted"
    data = cli("macd", ref, "--site", "S0006", "--kind", "change", "--bandwidth", "200")
    order = data["change_order"]
    assert (data["opportunity"], order["site_id"], order["kind"]) == (ref, "S0006", "change")
    with Session(ctx.engine) as session:
        stored = session.get(ChangeOrder, order["id"])
        assert stored is not None and stored.status.value == order["status"]
        assert order["changes"] == stored.changes and "bandwidth_mbps" in json.dumps(stored.changes)
    assert data["held"] == (order["status"] == "awaiting_approval")


# the questionnaire and the answer library ----------------------------------------------------


def _questionnaire(tmp_path: Path) -> Path:
    path = tmp_path / "questionnaire.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ID", "Section", "Requirement", "Mandatory"])
        writer.writerow(["1", "Network", "Describe your SLA for fibre access", "Y"])
        writer.writerow(["2", "Security", "Describe your security operations", "N"])
    return path


def _requirements(ctx: Context) -> dict[str, str | None]:
    with Session(ctx.engine) as session:
        return {r.req_id: r.answer for r in session.exec(select(Requirement))}


def rfp_import(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx)
    data = cli("rfp", "import", ref, str(_questionnaire(tmp_path)))
    assert (data["opportunity"], data["added"], data["requirements"]) == (ref, 2, 2)
    assert (data["mandatory"], data["header_row"], data["already_imported"]) == (1, 1, False)
    assert set(_requirements(ctx)) == {"1", "2"}


def rfp_answer(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx)
    cli("rfp", "import", ref, str(_questionnaire(tmp_path)))
    data = cli("rfp", "answer", ref, "1", "--text", "99.9 % availability", "--compliance", "comply")
    assert (data["opportunity"], data["answered"]) == (ref, ["1"])
    assert _requirements(ctx)["1"] == "99.9 % availability"


def rfp_suggest_accept(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx)
    cli("rfp", "import", ref, str(_questionnaire(tmp_path)))
    cli("rfp", "library", "import", "--starter")
    data = cli("rfp", "suggest", ref, "--accept", "0")
    assert data["opportunity"] == ref and data["answered"]
    answers = _requirements(ctx)
    assert all(answers[req] for req in data["answered"])


def rfp_assign(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx)
    cli("rfp", "import", ref, str(_questionnaire(tmp_path)))
    data = cli("rfp", "assign", ref, "2", "--to", PEOPLE["operations"])
    assert (data["opportunity"], data["requirement"], data["owner"]) == (
        ref,
        "2",
        PEOPLE["operations"],
    )
    with Session(ctx.engine) as session:
        row = session.exec(select(Requirement).where(Requirement.req_id == "2")).one()
    assert row.owner == PEOPLE["operations"]


def rfp_review(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx)
    cli("rfp", "import", ref, str(_questionnaire(tmp_path)))
    cli("rfp", "answer", ref, "1", "--text", "99.9 % availability", "--by", PEOPLE["bid_manager"])
    data = cli("rfp", "review", ref, "1", "--by", PEOPLE["solution_consultant"])
    assert (data["requirement"], data["state"]) == ("1", "reviewed")
    with Session(ctx.engine) as session:
        row = session.exec(select(Requirement).where(Requirement.req_id == "1")).one()
    assert row.reviewed_by == PEOPLE["solution_consultant"]


def rfp_export(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx)
    cli("rfp", "import", ref, str(_questionnaire(tmp_path)))
    cli("rfp", "answer", ref, "2", "--text", "a 24/7 SOC")
    out = tmp_path / "answered.csv"
    data = cli("rfp", "export", ref, "--out", str(out))
    assert data == {
        "opportunity": ref,
        "file": str(out),
        "source_file": "questionnaire.csv",
        "requirements": 2,
        "answered": 1,
    }
    assert "a 24/7 SOC" in out.read_text(encoding="utf-8")


def library_import(ctx: Context, cli: Json, tmp_path: Path) -> None:
    data = cli("rfp", "library", "import", "--starter")
    with Session(ctx.engine) as session:
        stored = len(session.exec(select(LibraryAnswer)).all())
    assert data["added"] == data["entries"] == stored > 0
    assert (data["updated"], data["file"].endswith("answer_library.yaml")) == (0, True)
    assert cli("rfp", "library", "import", "--starter")["unchanged"] == stored


def library_export(ctx: Context, cli: Json, tmp_path: Path) -> None:
    added = cli("rfp", "library", "import", "--starter")["added"]
    out = tmp_path / "library.yaml"
    assert cli("rfp", "library", "export", str(out)) == {"file": str(out), "answers": added}
    assert out.is_file()


# reports, packs, notifications, the service ----------------------------------------------------


def report_monthly(ctx: Context, cli: Json, tmp_path: Path) -> None:
    new_bid(ctx)
    out = tmp_path / "report"
    data = cli("report", "monthly", "--month", "2026-11", "--out", str(out))
    assert (data["month"], data["folder"]) == ("2026-11", str(out))
    assert Path(data["html"]).is_file() and Path(data["html"]).parent == out
    assert data["pdf"] is None or Path(data["pdf"]).is_file()


def pack_weekly(ctx: Context, cli: Json, tmp_path: Path) -> None:
    new_bid(ctx)
    data = cli("pack", "weekly-top-accounts", "--out", str(tmp_path), "--no-pdf")
    assert (data["kind"], data["pdf"]) == ("weekly-top-accounts", None)
    assert Path(data["html"]).is_file() and data["summary"]


def pack_qualification(ctx: Context, cli: Json, tmp_path: Path) -> None:
    new_bid(ctx)
    data = cli("pack", "qualification", "--out", str(tmp_path), "--no-pdf")
    assert (data["kind"], data["pdf"]) == ("qualification", None)
    assert Path(data["html"]).is_file()


def notify(ctx: Context, cli: Json, tmp_path: Path) -> None:
    new_bid(ctx)
    with Session(ctx.engine) as session:
        pending = len(
            session.exec(select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None))).all()
        )
    data = cli("notify")
    assert (data["mode"], data["pending"], data["sent"]) == ("outbox", pending, 0)


def submit_offer(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = _approved(ctx)
    data = cli(
        "submit", ref, "--by", PEOPLE["bid_manager"], "--channel", "portal", "--reference", "R-42"
    )
    assert (data["from_state"], data["state"], data["moved"]) == (
        "submission",
        "customer_decision",
        True,
    )
    assert (data["channel"], data["reference"], data["by"]) == (
        "portal",
        "R-42",
        PEOPLE["bid_manager"],
    )
    assert _state(ctx, ref) == "customer_decision"


def hold(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = _in_production(ctx)
    data = cli("hold", ref, "--reason", "budget frozen", "--until", "2027-06-30")
    assert (data["opportunity"], data["state"], data["on_hold"], data["until"]) == (
        ref,
        "bid_production",
        True,
        "2027-06-30",
    )
    resumed = cli("resume", ref)
    assert "resumed in bid_production" in resumed[ref]
    assert _state(ctx, ref) == "bid_production"


def resume(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx)
    data = cli("resume", ref)
    assert list(data) == [ref] and isinstance(data[ref], str)
    assert _state(ctx, ref) == "qualification"  # carried on to the go/no-go


def deadlines_notify(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = _in_production(ctx)
    data = cli("deadlines", "--notify")
    with Session(ctx.engine) as session:
        queued = session.exec(
            select(OutboxMessage).where(OutboxMessage.event == "milestone_warning")
        ).all()
    assert data["watch"] == {"open": len(data["board"]), "queued": len(queued)}
    assert data["board"] and {row["bid"] for row in data["board"]} == {ref}


def server_stop(ctx: Context, cli: Json, tmp_path: Path) -> None:
    assert cli("server", "stop") == {"stopped": False, "pid": None}


# accounts ------------------------------------------------------------------------------------


def account_set_tier(ctx: Context, cli: Json, tmp_path: Path) -> None:
    new_bid(ctx)
    name = _account(ctx)
    data = cli("account", "set-tier", name, "major", "--reason", "smaller than thought")
    expected = {"account": name, "from_tier": "top", "to_tier": "major", "changed": True}
    assert _typed(data, "account.set-tier") == expected
    with Session(ctx.engine) as session:
        assert session.exec(select(Account)).one().tier == "major"


def account_import(ctx: Context, cli: Json, tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text(
        "name,tier,parent,country,owner,customer_profile,service_level,potential_revenue_eur\n"
        "Holding,top,,DE,,,,\nDaughter,major,Holding,NL,,,,\n",
        encoding="utf-8",
    )
    data = cli("account", "import", str(path))
    assert (data["file"], sorted(data["created"]), data["updated"]) == (
        str(path),
        ["Daughter", "Holding"],
        [],
    )
    assert data["counts"] == {"rows": 2, "created": 2, "updated": 0, "tier_changes": 0}
    with Session(ctx.engine) as session:
        assert {a.name for a in session.exec(select(Account))} == {"Holding", "Daughter"}


def account_competitor(ctx: Context, cli: Json, tmp_path: Path) -> None:
    new_bid(ctx)
    name = _account(ctx)
    data = cli(
        "account", "competitor", name, "--competitor", "Rival", "--contract-end", "2028-06-30"
    )
    assert (data["account"], data["competitor"], data["contract_end"]) == (
        name,
        "Rival",
        "2028-06-30",
    )
    with Session(ctx.engine) as session:
        account = session.exec(select(Account)).one()
        assert str(account.sleeping_until) == data["wakes_on"]


def portfolio_review(ctx: Context, cli: Json, tmp_path: Path) -> None:
    new_bid(ctx)
    data = cli("portfolio", "review")
    assert data["new"] == len(data["open"])
    assert cli("portfolio", "review")["new"] == 0  # recorded once


def renewals_scan(ctx: Context, cli: Json, tmp_path: Path) -> None:
    new_bid(ctx)
    assert _typed(cli("renewals", "scan"), "renewals.scan") == {"opened": [], "woken": []}


# the pipeline's own commands (orchestrator/cli/app.py) ------------------------------------


def opportunity_create(ctx: Context, cli: Json, tmp_path: Path) -> None:
    data = cli("opportunity", "create", str(opportunity_yaml(ctx, tmp_path / "rfp.yaml")))
    assert (data["command"], data["state"]) == ("opportunity.create", "pre_qualification")
    assert _state(ctx, data["opportunity"]) == "pre_qualification"


def sites_import(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx, site_count=0)
    path = tmp_path / "sites.csv"
    path.write_text(f"{SITE_HEADER}\nN0001,New store,Ring 1,50668,Köln,DE,200,fiber\n")
    data = cli("sites", "import", ref, str(path))
    assert (data["opportunity"], data["count"], data["warnings"]) == (ref, 1, [])
    with Session(ctx.engine) as session:
        assert session.exec(select(Site).where(Site.site_id == "N0001")).first() is not None


def advance(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx)
    data = cli("advance", ref)
    assert (data["opportunity"], data["from_state"], data["state"]) == (
        ref,
        "pre_qualification",
        "qualification",
    )
    assert data["moved"] is True and data["waiting_for"]
    assert _state(ctx, ref) == "qualification"


def decide(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx)
    services.run_to_wait(ctx, ref)
    data = cli("decide", ref, "--outcome", "bid", "--reason", "fit", "--by", PEOPLE["bid_manager"])
    assert (data["from_state"], data["state"], data["moved"]) == ("qualification", "kick_off", True)
    assert data["carried_on"]["stopped"] is None
    assert _state(ctx, ref) in ("kick_off", "bid_production")


def approve(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx)
    carry_to_governance(ctx, ref)
    data = cli("approve", ref, "--area", "financial", "--by", APPROVERS["financial"])
    assert (data["opportunity"], data["state"], data["recorded"]) == (
        ref,
        "governance_review",
        True,
    )
    with Session(ctx.engine) as session:
        approval = session.exec(select(Approval).where(Approval.area == "financial")).one()
        assert approval.status == "granted"


def strategy(ctx: Context, cli: Json, tmp_path: Path) -> None:
    ref = new_bid(ctx)
    data = cli("strategy", ref, "win on SLA", "--by", PEOPLE["bid_manager"])
    assert (data["command"], data["opportunity"], data["moved"]) == ("strategy", ref, False)
    with Session(ctx.engine) as session:
        assert services.get_opportunity(session, ref).strategy == "win on SLA"


WRITE_COMMANDS: dict[str, Callable[[Context, Json, Path], None]] = {
    "opportunity create": opportunity_create,
    "sites import": sites_import,
    "advance": advance,
    "decide": decide,
    "approve": approve,
    "strategy": strategy,
    "people add": people_add,
    "people set": people_set,
    "people grant": people_grant,
    "people revoke": people_revoke,
    "people token": people_token,
    "people recover-admin": people_recover_admin,
    "login": login,
    "logout": logout,
    "freeze": freeze,
    "terms": terms,
    "pricing": pricing,
    "service-strategy": service_strategy,
    "order details": order_details,
    "sites update": sites_update,
    "sites add": sites_add,
    "sites remove": sites_remove,
    "opportunity update": opportunity_update,
    "result --won": result_won,
    "result --lost": result_lost,
    "withdraw": withdraw,
    "submit": submit_offer,
    "hold": hold,
    "qrf": qrf,
    "quotes import": quotes_import,
    "quotes accept": quotes_accept,
    "quotes requote": quotes_requote,
    "design propose": design_propose,
    "docs": docs,
    "macd": macd,
    "rfp import": rfp_import,
    "rfp answer": rfp_answer,
    "rfp suggest --accept": rfp_suggest_accept,
    "rfp assign": rfp_assign,
    "rfp review": rfp_review,
    "rfp export": rfp_export,
    "rfp library import": library_import,
    "rfp library export": library_export,
    "report monthly": report_monthly,
    "pack weekly-top-accounts": pack_weekly,
    "pack qualification": pack_qualification,
    "notify": notify,
    "resume": resume,
    "deadlines --notify": deadlines_notify,
    "server stop": server_stop,
    "account set-tier": account_set_tier,
    "account import": account_import,
    "account competitor": account_competitor,
    "portfolio review": portfolio_review,
    "renewals scan": renewals_scan,
}


@pytest.mark.parametrize("name", list(WRITE_COMMANDS))
def test_a_write_command_prints_its_result_as_json(
    name: str, ctx: Context, json_cli: Json, tmp_path: Path
) -> None:
    WRITE_COMMANDS[name](ctx, json_cli, tmp_path)


def test_warnings_travel_inside_the_json_and_on_stderr_for_people(
    ctx: Context, run_cli: RunCli, tmp_path: Path
) -> None:
    ref = new_bid(ctx)
    for n, as_json in enumerate((True, False)):
        path = tmp_path / f"add-{n}.csv"
        path.write_text(f"{SITE_HEADER}\nK000{n},Office,Street 1,ABC-1,Pyongyang,KP,100,fiber\n")
        result = run_cli("sites", "add", ref, str(path), *(["--json"] if as_json else []))
        assert result.code == 0, result
        if as_json:
            (warning,) = json.loads(result.out)["warnings"]
            assert "no known postcode format for KP" in warning
            assert result.err == ""
        else:
            assert result.err.startswith("warning: ") and "no known postcode format for KP" in (
                result.err
            )
            assert result.out.startswith(f"{ref}: 1 site(s) added from add-1.csv")
