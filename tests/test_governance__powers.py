"""Who may decide an approval: powers come from people (grants, admin-assigned team roles),
never from a bid's own file; rules/duties.yaml keeps duties apart; an admin's override is on
the admin trail. Issue 23's self-approval, reproduced through the services."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from orchestrator.bid.opportunity.offer import set_order_details
from orchestrator.bid.opportunity.onboarding import create_opportunity, import_sites
from orchestrator.bid.producing.production import freeze_design
from orchestrator.bid.producing.quotes import import_quotes
from orchestrator.bid.producing.sourcing import send_quote_requests
from orchestrator.bid.progress import services
from orchestrator.bid.team import people
from orchestrator.context import Context
from orchestrator.decisions.authority import (
    ApprovalRequest,
    Decider,
    DutiesTable,
    Duty,
    DutyFact,
    DutyFacts,
    may_decide,
)
from orchestrator.decisions.duties import load_duties, parse_duties
from orchestrator.errors import ApprovalError, InputError, RuleLoadError
from orchestrator.store.models import Approval, AuditEvent, Grant, PeopleEvent, Person
from tests.factories import PEOPLE, opportunity_spec, quote_file, sites
from tests.support.slack_api import admin_of

MALLORY = "mallory@example.com"
REPO = Path(__file__).resolve().parent.parent


def _state(ctx: Context, ref: str) -> str:
    with Session(ctx.engine) as session:
        return services.get_opportunity(session, ref).state.value


def _approvals(ctx: Context) -> dict[str, str]:
    with Session(ctx.engine) as session:
        rows = session.exec(select(Approval).order_by(col(Approval.id))).all()
        return {a.area.value: a.status.value for a in rows}


def _to_governance(ctx: Context, ref: str, worker: str, tmp_path: Path) -> None:
    """Go/no-go, QRFs, quotes, order details and the design freeze, all by `worker`."""
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=worker, reason="fits")
    services.run_to_wait(ctx, ref)
    send_quote_requests(ctx, ref, None, actor=worker)
    import_quotes(ctx, ref, quote_file(ctx, ref, tmp_path / "quotes.csv"), actor=worker)
    set_order_details(
        ctx,
        ref,
        by=worker,
        legal_entity="Acme Holding NV",
        billing_entity="Acme Services NV",
        purchase_order="PO-1",
        contract_start=ctx.clock().date(),
    )
    freeze_design(ctx, ref, by=worker)
    services.run_to_wait(ctx, ref)
    assert _state(ctx, ref) == "governance_review"


def _mallory_bid(ctx: Context) -> str:
    """A person with a token but no grant creates a bid naming herself in every team role."""
    admin = admin_of(ctx)
    people.add_person(ctx, MALLORY, by=admin, name="Mallory")
    token = people.issue_token(ctx, MALLORY, by=admin)
    assert people.authenticate(ctx, token).email == MALLORY
    team = {role: MALLORY for role in PEOPLE}
    ref = create_opportunity(ctx, opportunity_spec(ctx, team=team), actor=MALLORY)
    import_sites(ctx, ref, sites(4), actor=MALLORY)
    return ref


def test_a_bids_own_yaml_gives_its_creator_no_approval_power(ctx: Context, tmp_path: Path) -> None:
    """Issue 23 (high): before, technical, financial and legal were all granted to the one
    person who wrote the YAML, and the bid went to the customer by itself."""
    ref = _mallory_bid(ctx)
    _to_governance(ctx, ref, MALLORY, tmp_path)
    refusals = []
    for area in ("technical", "financial", "legal"):
        with pytest.raises(ApprovalError) as refused:
            services.approve(ctx, ref, area=area, by=MALLORY)
        refusals.append(str(refused.value))
    services.run_to_wait(ctx, ref)
    assert _state(ctx, ref) == "governance_review"
    assert set(_approvals(ctx).values()) == {"requested"}
    assert all("named by its creator, not assigned by an admin" in r for r in refusals)
    assert "needs one of: finance (an organisation grant" in refusals[1]
    with Session(ctx.engine) as session:
        kept = session.exec(select(AuditEvent).where(AuditEvent.trigger == "approve_refused")).all()
    assert [e.actor for e in kept] == [MALLORY] * 3


def test_a_grant_gives_the_power_but_not_over_a_deal_one_priced(
    ctx: Context, tmp_path: Path
) -> None:
    ref = _mallory_bid(ctx)
    _to_governance(ctx, ref, MALLORY, tmp_path)
    admin = admin_of(ctx)
    people.grant(ctx, MALLORY, Grant.FINANCE, by=admin)
    with pytest.raises(ApprovalError) as refused:
        services.approve(ctx, ref, area="financial", by=MALLORY)
    assert str(refused.value) == (
        f"{MALLORY} may not decide the financial approval on {ref}: duties.yaml: "
        "pricer_not_approver — nobody approves a deal they priced (set its prices or "
        "imported its quotes)"
    )
    # an override needs an admin; mallory is none
    with pytest.raises(ApprovalError, match="only an admin overrides"):
        services.approve(ctx, ref, area="financial", by=MALLORY, override_duties="urgent")
    with Session(ctx.engine) as session:
        assert (
            session.exec(select(PeopleEvent).where(PeopleEvent.action == "duties_overridden")).all()
            == []
        )
    # an admin sets the duty aside, with a reason: granted, and on the admin trail
    result = services.approve(
        ctx,
        ref,
        area="financial",
        by=MALLORY,
        override_duties="the only finance person this week",
        override_by=admin.email,
    )
    assert result.recorded and "financial granted by mallory" in result.message
    (override,) = [e for e in people.people_history(ctx) if e["action"] == "duties_overridden"]
    assert (override["actor"], override["subject"]) == (admin.email, MALLORY)
    assert override["details"]["duties"] == ["pricer_not_approver"]
    assert override["details"]["reason"] == "the only finance person this week"
    assert override["details"]["opportunity"] == ref
    with pytest.raises(InputError, match="needs a reason"):
        services.approve(ctx, ref, area="legal", by=MALLORY, override_duties="  ")


def test_team_roles_an_admin_assigned_carry_the_power_and_duties_keep_areas_apart(
    ctx: Context, tmp_path: Path
) -> None:
    admin = admin_of(ctx)
    for email in PEOPLE.values():
        people.add_person(ctx, email, by=admin)
    ref = create_opportunity(ctx, opportunity_spec(ctx), actor=admin.email)
    import_sites(ctx, ref, sites(4), actor=admin.email)
    _to_governance(ctx, ref, PEOPLE["bid_manager"], tmp_path)
    # the operations role the admin assigned carries the technical approval
    services.approve(ctx, ref, area="technical", by=PEOPLE["operations"])
    # finance holds both grants, yet decides one area of the round only
    people.grant(ctx, PEOPLE["finance"], Grant.LEGAL, by=admin)
    services.approve(ctx, ref, area="financial", by=PEOPLE["finance"])
    with pytest.raises(ApprovalError) as refused:
        services.approve(ctx, ref, area="legal", by=PEOPLE["finance"])
    assert "duties.yaml: one_area_per_person — one person decides at most one" in str(refused.value)
    services.approve(ctx, ref, area="legal", by=PEOPLE["legal"])
    assert _approvals(ctx) == {"technical": "granted", "financial": "granted", "legal": "granted"}
    services.run_to_wait(ctx, ref)
    assert _state(ctx, ref) == "submission"  # approved: the offer waits for bid submit


def test_the_freezer_is_not_the_technical_approver(ctx: Context, tmp_path: Path) -> None:
    admin = admin_of(ctx)
    ref = create_opportunity(ctx, opportunity_spec(ctx), actor=admin.email)
    import_sites(ctx, ref, sites(4), actor=admin.email)
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
    services.run_to_wait(ctx, ref)
    send_quote_requests(ctx, ref, None, actor=PEOPLE["sales_support"])
    quotes = quote_file(ctx, ref, tmp_path / "q.csv")
    import_quotes(ctx, ref, quotes, actor=PEOPLE["sales_support"])
    set_order_details(
        ctx,
        ref,
        by=PEOPLE["sales_support"],
        legal_entity="Acme Holding NV",
        billing_entity="Acme Services NV",
        purchase_order="PO-2",
        contract_start=ctx.clock().date(),
    )
    freeze_design(ctx, ref, by=PEOPLE["solution_consultant"])
    services.run_to_wait(ctx, ref)
    with pytest.raises(ApprovalError) as refused:
        services.approve(ctx, ref, area="technical", by=PEOPLE["solution_consultant"])
    assert "duties.yaml: freezer_not_technical_approver — the person who froze" in str(
        refused.value
    )
    assert services.approve(ctx, ref, area="technical", by=PEOPLE["operations"]).recorded


def test_an_unknown_area_is_one_line_and_changes_nothing(ctx: Context) -> None:
    with pytest.raises(InputError) as refused:
        services.approve(ctx, "OPP-0001", area="astrology", by=PEOPLE["finance"])
    assert str(refused.value) == (
        "field 'area': 'astrology' is not an approval area (technical, financial, legal, "
        "management)"
    )


# --- the pure function ------------------------------------------------------------------------

DUTIES = DutiesTable(
    "duties.yaml",
    "x",
    (
        Duty("freezer", ("technical",), DutyFact.FROZE_DESIGN, "froze it"),
        Duty("pricer", ("*",), DutyFact.PRICED_DEAL, "priced it"),
        Duty("one_area", ("*",), DutyFact.DECIDED_OTHER_AREA, "one area"),
    ),
)
TECHNICAL = ApprovalRequest(1, "technical", ("operations", "solution_consultant"))
FINANCIAL = ApprovalRequest(2, "financial", ("finance",))


@pytest.mark.parametrize(
    ("person", "approval", "facts", "ok", "rule"),
    [
        (Decider("a@x", team_roles=frozenset({"operations"})), TECHNICAL, DutyFacts(), True, None),
        (
            Decider("a@x", named_roles=frozenset({"operations"})),
            TECHNICAL,
            DutyFacts(),
            False,
            None,
        ),
        (Decider("a@x", grants=frozenset({"finance"})), FINANCIAL, DutyFacts(), True, None),
        (Decider("a@x", team_roles=frozenset({"finance"})), FINANCIAL, DutyFacts(), True, None),
        (Decider("a@x", grants=frozenset({"admin"})), FINANCIAL, DutyFacts(), False, None),
        (Decider("a@x", grants=frozenset({"recorder"})), FINANCIAL, DutyFacts(), False, None),
        (
            Decider("a@x", team_roles=frozenset({"operations"})),
            TECHNICAL,
            DutyFacts(froze_design=frozenset({"a@x"})),
            False,
            "freezer",
        ),
        (
            Decider("a@x", grants=frozenset({"finance"})),
            FINANCIAL,
            DutyFacts(froze_design=frozenset({"a@x"})),
            True,
            None,
        ),
        (
            Decider("a@x", grants=frozenset({"finance"})),
            FINANCIAL,
            DutyFacts(priced=frozenset({"a@x"})),
            False,
            "pricer",
        ),
        (
            Decider("a@x", grants=frozenset({"finance"})),
            FINANCIAL,
            DutyFacts(decided_areas={"a@x": frozenset({"legal"})}),
            False,
            "one_area",
        ),
        (
            Decider("a@x", grants=frozenset({"finance"})),
            FINANCIAL,
            DutyFacts(decided_areas={"a@x": frozenset({"financial"})}),
            True,
            None,
        ),
    ],
)
def test_may_decide(
    person: Decider, approval: ApprovalRequest, facts: DutyFacts, ok: int, rule: str | None
) -> None:
    verdict = may_decide(person, approval, ref="OPP-0001", duties=DUTIES, facts=facts)
    assert (verdict.ok, verdict.rule) == (bool(ok), rule)
    assert verdict.ok or "a@x may not decide the" in verdict.reason
    if rule is not None:
        assert f"duties.yaml: {rule} — " in verdict.reason
        overridden = may_decide(
            person, approval, ref="OPP-0001", duties=DUTIES, facts=facts, override=True
        )
        assert (overridden.ok, overridden.overridden) == (True, (rule,))


def test_an_override_never_gives_powers() -> None:
    verdict = may_decide(
        Decider("a@x"), FINANCIAL, ref="OPP-1", duties=DUTIES, facts=DutyFacts(), override=True
    )
    assert not verdict.ok and "needs one of: finance" in verdict.reason


def test_may_decide_imports_no_database_slack_prefect_or_docx() -> None:
    code = (
        "import sys, orchestrator.decisions.authority\n"
        "bad = [m for m in ('sqlalchemy', 'sqlmodel', 'slack_sdk', 'slack_bolt', 'prefect',"
        " 'docx', 'docxtpl', 'typer', 'orchestrator.store') if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == ""


# --- rules/duties.yaml ----------------------------------------------------------------------


def test_the_shipped_duties_table_holds_the_three_defaults() -> None:
    table = load_duties(REPO / "rules")
    assert [(d.id, d.areas, d.forbids.value) for d in table.duties] == [
        ("freezer_not_technical_approver", ("technical",), "froze_design"),
        ("pricer_not_approver", ("*",), "priced_deal"),
        ("one_area_per_person", ("*",), "decided_other_area"),
    ]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("duties: [", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping with one key, duties"),
        ("duties: {a: 1}\n", "duties must be a list of rows"),
        ("duties:\n  - just text\n", "duties[1] must be a mapping"),
        (
            "duties:\n  - {id: a, areas: [technical], forbids: froze_design, text: t, x: 1}\n",
            "duties[1] has unknown keys ['x']",
        ),
        ("duties:\n  - {areas: [technical], forbids: froze_design, text: t}\n", "duties[1].id"),
        (
            "duties:\n  - {id: a, areas: [astrology], forbids: froze_design, text: t}\n",
            "duties[1] (a).areas names unknown areas ['astrology']",
        ),
        (
            "duties:\n  - {id: a, areas: [technical], forbids: being_tall, text: t}\n",
            "duties[1] (a).forbids must be one of froze_design, priced_deal",
        ),
        (
            "duties:\n  - {id: a, areas: [technical], forbids: froze_design, text: ''}\n",
            "duties[1] (a).text must say",
        ),
        (
            "duties:\n  - {id: a, areas: ['*'], forbids: froze_design, text: t}\n"
            "  - {id: a, areas: ['*'], forbids: priced_deal, text: t}\n",
            "duties[2] (a): the id is used twice",
        ),
    ],
)
def test_a_malformed_duties_file_is_one_line_naming_the_file(
    tmp_path: Path, content: str, says: str
) -> None:
    path = tmp_path / "duties.yaml"
    path.write_text(content)
    with pytest.raises(RuleLoadError) as refused:
        parse_duties(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: ") and says in message
    assert "\n" not in message


def test_a_missing_duties_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(RuleLoadError, match=r"duties\.yaml: cannot read it"):
        load_duties(tmp_path)


# --- the stored column ------------------------------------------------------------------------


def test_the_migration_fills_deciding_roles_from_the_last_governance_record(
    tmp_path: Path,
) -> None:
    from alembic import command
    from alembic.config import Config

    from orchestrator.store.db import MIGRATIONS_DIR, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    command.upgrade(config, "0008")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO account (id, name, name_key, tier, created_at) "
                "VALUES (1, 'A', 'a', 'top', '2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO opportunity (id, account_id, title, source, received_at, "
                "submission_deadline, revenue_short_term, revenue_medium_term, "
                "revenue_long_term, currency, contract_months, deviations, strategic_fit, "
                "incumbent, services, bants, pricing, state, governance_round, "
                "strategy_reworked, design_version, design_frozen, offer_round, shortlisted, "
                "offered, win_themes, version, created_at, updated_at) VALUES (1, 1, 't', "
                "'rfp', '2026-01-01', '2026-02-01', 0, 0, 0, 'EUR', 36, '[]', 'high', 0, "
                "'[]', '{}', '{}', 'governance_review', 1, 0, 1, 1, 1, 0, '{}', '[]', 0, "
                "'2026-01-01', '2026-01-01')"
            )
        )
        for n, roles in enumerate(
            ('{"technical": ["solution_consultant"]}', '{"technical": ["operations"]}'), 1
        ):
            connection.execute(
                text(
                    "INSERT INTO decisionrecord (id, opportunity_id, table_name, rule_file, "
                    "rule_hash, inputs, outputs, matched_rows, evaluated_at) VALUES "
                    f"({n}, 1, 'governance', 'g', 'h', '{{}}', "
                    f"'{{\"approver_roles\": {roles}}}', '[]', '2026-01-01')"
                )
            )
        for n, area in enumerate(("technical", "legal"), 1):
            connection.execute(
                text(
                    "INSERT INTO approval (id, opportunity_id, area, round, status, "
                    f"requested_at) VALUES ({n}, 1, '{area}', 1, 'requested', '2026-01-01')"
                )
            )
    command.upgrade(config, "head")
    with Session(engine) as session:
        rows = {a.area.value: a.deciding_roles for a in session.exec(select(Approval)).all()}
        assert session.exec(select(Person)).all() == []
    assert rows == {"technical": ["operations"], "legal": ["legal"]}
    engine.dispose()
