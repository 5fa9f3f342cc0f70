"""Validation where data is entered, and the edit doors: `bid sites update|add|remove`,
`bid opportunity update`, `bid result`, `bid withdraw` (one line naming file, row and field,
exit 2, the database untouched; reason categories in any case; a second bid never changes
an account's tier; an RFP reference names one bid)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from orchestrator.commercial.quotes import catalogue_for
from orchestrator.context import Context
from orchestrator.errors import InputErrors
from orchestrator.intake.opportunity import read_sites
from orchestrator.intake.site_checks import SiteRules
from orchestrator.store.models import Account, AuditEvent, Site
from tests.conftest import CliResult, RunCli
from tests.factories import opportunity_yaml

RULES_DIR = Path(__file__).parent.parent / "rules"
HEADER = (
    "site_id,name,street,postcode,city,country,bandwidth_mbps,access,contact_name,contact_phone"
)


def _rules() -> SiteRules:
    return SiteRules.from_catalogue(catalogue_for(RULES_DIR))


def test_the_import_refuses_wrong_postcodes_and_bad_phones_naming_every_row(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(
        f"{HEADER}\n"
        "A1,Bremen hub,Hafenstraße 1,2819,Bremen,DE,500,fiber,,\n"
        "A2,Paris office,1 rue de Rivoli,7500,Paris,FR,200,fiber,,\n"
        "A3,Köln depot,Ring 1,50668,Köln,DE,10000,4g,,\n"
        "A4,Hamburg store,Ring 2,20095,Hamburg,DE,100,fiber,Anna Berg,12\n"
        "A5,Hamburg shop,Ring 3,20095,Hamburg,DE,100,fiber,Anna Berg,+49 40 1234567\n"
    )
    with pytest.raises(InputErrors) as refused:
        read_sites(path, rules=_rules())
    lines = refused.value.lines()[1:]
    # row 4 (4g at 10,000 Mbit/s) is an exception, not a problem: rules/access_limits.yaml
    assert lines == [
        f"{path}, row 2, field 'postcode': '2819' is not a valid DE postcode (e.g. 26133)",
        f"{path}, row 3, field 'postcode': '7500' is not a valid FR postcode (e.g. 33380)",
        f"{path}, row 5, field 'contact_phone': '12' is not a valid phone number in DE",
    ]


def test_a_country_without_a_known_postcode_format_is_a_warning_not_a_refusal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(
        f"{HEADER}\n"
        "K1,Pyongyang office,Street 1,ABC-1,Pyongyang,KP,100,fiber,,\n"
        "A1,Hamburg store,Ring 2,20095,Hamburg,DE,100,fiber,Anna Berg,+49 40 1234567\n"
    )
    read = read_sites(path, rules=_rules())
    assert [site.site_id for site in read.sites] == ["K1", "A1"]
    assert read.sites[1].contact_phone == "+49401234567"  # E.164
    (warning,) = read.warnings
    assert "no known postcode format for KP" in warning and "row 2" in warning


def _bid_with_sites(run_cli: RunCli, ctx: Context, tmp_path: Path) -> str:
    created = run_cli("opportunity", "create", str(opportunity_yaml(ctx, tmp_path / "opp.yaml")))
    assert created.code == 0, created
    ref = created.out.strip().splitlines()[-1]
    sites = tmp_path / "sites.csv"
    sites.write_text(
        f"{HEADER}\n"
        "A1,Hamburg store,Ring 2,20095,Hamburg,DE,100,fiber,,\n"
        "A2,Amsterdam store,Kalverstraat 2,1012 NX,Amsterdam,NL,100,fiber,,\n"
    )
    imported = run_cli("sites", "import", ref, str(sites))
    assert imported.code == 0, imported
    return ref


def _sites(ctx: Context) -> dict[str, tuple[str, bool, int]]:
    with Session(ctx.engine) as session:
        return {
            s.site_id: (s.postcode, s.ordered, s.order_line)
            for s in session.exec(select(Site).order_by(col(Site.id)))
        }


def _one_error(result: CliResult) -> str:
    assert result.code == 2, result
    assert "Traceback" not in result.out + result.err
    (line,) = [line for line in result.err.splitlines() if line.strip()]
    assert line.startswith("error: ")
    return line


def test_site_edits_by_delta_through_the_cli(run_cli: RunCli, ctx: Context, tmp_path: Path) -> None:
    ref = _bid_with_sites(run_cli, ctx, tmp_path)
    before = _sites(ctx)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("site_id,postcode\nA1,2819\n")
    line = _one_error(run_cli("sites", "update", ref, str(wrong)))
    assert f"{wrong}, row 2, field 'postcode': '2819' is not a valid DE postcode" in line
    assert _sites(ctx) == before

    fixed = tmp_path / "fixed.csv"
    fixed.write_text("site_id,postcode,name\nA1,20097,\n")
    updated = run_cli("sites", "update", ref, str(fixed))
    assert updated.code == 0, updated
    assert "1 site(s) changed (postcode)" in updated.out

    added = tmp_path / "added.csv"
    added.write_text(f"{HEADER}\nA3,Köln store,Ring 1,50668,Köln,DE,200,fiber,,\n")
    assert run_cli("sites", "add", ref, str(added)).code == 0
    removed = tmp_path / "removed.csv"
    removed.write_text("site_id\nA2\n")
    assert run_cli("sites", "remove", ref, str(removed)).code == 0
    assert _one_error(run_cli("sites", "remove", ref, str(removed))).endswith(
        f"{removed}, row 2, field 'site_id': no site 'A2' on this bid; nothing changed"
    )
    sites = _sites(ctx)
    assert sites["A1"][0] == "20097"
    assert sites["A2"][1] is False
    # order lines are stable: a removed site keeps its gap, an added site gets the next one
    assert [sites[s][2] for s in ("A1", "A2", "A3")] == [1, 2, 3]
    with Session(ctx.engine) as session:
        triggers = [e.trigger for e in session.exec(select(AuditEvent))]
    assert triggers.count("sites_changed") == 3


def test_opportunity_update_and_the_decisions_refuse_bad_input_in_one_line(
    run_cli: RunCli, ctx: Context, tmp_path: Path
) -> None:
    ref = _bid_with_sites(run_cli, ctx, tmp_path)
    line = _one_error(run_cli("opportunity", "update", ref, "--reason", "addendum 1"))
    assert "--deadline" in line
    line = _one_error(
        run_cli("opportunity", "update", ref, "--currency", "XXX", "--reason", "switch")
    )
    assert "'XXX' has no exchange rate" in line
    extended = run_cli(
        "opportunity", "update", ref, "--contract-months", "48", "--reason", "customer asks"
    )
    assert extended.code == 0, extended
    assert "contract_months updated" in extended.out
    missing = run_cli("withdraw", ref, "--reason", "gone")
    assert missing.code == 2 and "Missing option '--category'" in missing.err
    line = _one_error(run_cli("result", ref, "--won", "--lost", "--reason", "x"))
    assert "exactly one of --shortlisted, --bafo, --won or --lost" in line
    line = _one_error(run_cli("result", ref, "--bafo"))
    assert "--bafo needs --reason" in line
    line = _one_error(run_cli("withdraw", ref, "--reason", "later", "--category", "postponed"))
    assert "--wake-up" in line
    withdrawn = run_cli("withdraw", ref, "--reason", "too expensive", "--category", "Price")
    assert withdrawn.code == 0, withdrawn
    assert "now withdrawn" in withdrawn.out


def test_a_second_bid_keeps_the_account_tier_and_an_rfp_reference_names_one_bid(
    run_cli: RunCli, ctx: Context, tmp_path: Path
) -> None:
    first = opportunity_yaml(ctx, tmp_path / "first.yaml", rfp_reference="ACME-2027-1")
    assert run_cli("opportunity", "create", str(first)).code == 0
    again = run_cli("opportunity", "create", str(first))
    line = _one_error(again)
    assert "RFP reference 'ACME-2027-1' is already OPP-0001" in line
    second = opportunity_yaml(
        ctx,
        tmp_path / "second.yaml",
        rfp_reference="ACME-2027-2",
        account={"name": "Acme Logistics", "tier": "major"},
    )
    created = run_cli("opportunity", "create", str(second))
    assert created.code == 0, created
    assert "stays a top account" in created.err
    with Session(ctx.engine) as session:
        (account,) = session.exec(select(Account)).all()
    assert account.tier == "top"


def test_a_won_bid_with_a_wrong_postcode_moves_on_through_the_cli(
    run_cli: RunCli, ctx: Context, tmp_path: Path
) -> None:
    from orchestrator.bid.opportunity.onboarding import import_sites
    from orchestrator.bid.progress import services
    from orchestrator.intake.opportunity import SiteSpec
    from tests.factories import carry_to_governance, grant_all, new_bid, submit

    ref = new_bid(ctx, site_count=0)
    sites = [
        SiteSpec(
            "H1",
            "Hamburg store",
            "Ring 2",
            "20095",
            "Hamburg",
            "DE",
            100,
            "fiber",
            contact_name="Jan Maier",
            contact_phone="+4930123456",
        ),
        SiteSpec(
            "B1",
            "Brussel office",
            "Wetstraat 1",
            "1040",
            "Brussel",
            "BE",
            100,
            "fiber",
            contact_name="An Peeters",
            contact_phone="+3212345678",
        ),
    ]
    import_sites(ctx, ref, sites, actor="test")
    carry_to_governance(ctx, ref)
    grant_all(ctx, ref)
    services.run_to_wait(ctx, ref)
    submit(ctx, ref)
    with Session(ctx.engine) as session:  # as an import before the postcode checks left it
        site = session.exec(select(Site).where(Site.site_id == "H1")).one()
        site.postcode = "2819"
        session.add(site)
        session.commit()

    won = run_cli("result", ref, "--won", "--reason", "best plan")
    assert won.code == 0, won
    assert "Traceback" not in won.out + won.err
    assert "now contract_preparation" in won.out
    assert "signing waits for 1 order-sheet fix(es)" in won.out
    (task,) = json.loads(run_cli("tasks", ref, "--json").out)
    assert task["owner_role"] == "sales_support"
    assert "1 site with a postcode not valid in their country: H1 postcode '2819'" in task["text"]

    fix = tmp_path / "fix.csv"
    fix.write_text("site_id,postcode\nH1,20095\n")
    fixed = run_cli("sites", "update", ref, str(fix))
    assert fixed.code == 0, fixed
    assert "contracted" in fixed.out
    assert run_cli("tasks", ref).out.strip() == f"{ref}: nothing to fix"
