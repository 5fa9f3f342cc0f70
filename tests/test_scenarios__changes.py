"""Golden scenarios of bids corrected, extended and re-offered: tests/scenarios/changes/.

Each scenario gives the opportunity, its sites (CSV) and its steps in the words of the
process, then the trail of states it must leave, its decision records and its refusals. The
bids run on the real document renderer, so the order sheet finds wrong postcodes itself.
Steps besides those of tests/test_scenarios__bids.py: `shortlist`, `bafo`, `pricing`,
`sites_update` / `sites_add` / `sites_remove` (CSV rows), `opportunity_update`, `withdraw`,
`clock` (days pass), `watch` (the deadline watch), and `postcodes_before_validation` (the
postcodes a bid imported before the intake checked them would carry: written to the database
directly, as an older version left them). Dates are written `+Nd`, days from the start.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import Session, col, select

from orchestrator import errors
from orchestrator.bid.closing import outcomes
from orchestrator.bid.opportunity.edits import (
    SiteDelta,
    change_sites,
    current_sites,
    update_opportunity,
)
from orchestrator.bid.opportunity.offer import set_order_details
from orchestrator.bid.opportunity.onboarding import create_opportunity, import_sites
from orchestrator.bid.producing.production import freeze_design
from orchestrator.bid.producing.quotes import import_quotes
from orchestrator.bid.producing.sourcing import send_quote_requests
from orchestrator.bid.producing.terms import set_pricing
from orchestrator.bid.progress import services
from orchestrator.bid.progress.deadlines import watch
from orchestrator.bid.progress.submission import submit_offer
from orchestrator.bid.reports import queries
from orchestrator.commercial.quotes import catalogue_for
from orchestrator.context import Context
from orchestrator.funnel.winloss import sleeping_accounts
from orchestrator.intake.opportunity import OpportunitySpec, read_sites
from orchestrator.intake.site_changes import read_site_removals, read_site_updates
from orchestrator.intake.site_checks import SiteRules
from orchestrator.store.models import (
    Account,
    Approval,
    AuditEvent,
    Contract,
    DecisionRecord,
    Milestone,
    OutboxMessage,
    Site,
    Task,
)
from tests.conftest import FixedClock
from tests.factories import grant_all, quote_file

SCENARIOS = sorted((Path(__file__).parent / "scenarios" / "changes").glob("*.yaml"))
START_DAY = date(2026, 11, 27)  # tests.conftest.START


def _day(text: str) -> date:
    return START_DAY + timedelta(days=int(str(text).strip("+d")))


class Run:
    def __init__(self, ctx: Context, clock: FixedClock, ref: str, folder: Path) -> None:
        self.ctx, self.clock, self.ref, self.folder = ctx, clock, ref, folder
        self.files = 0

    def _file(self, text: str, suffix: str = ".csv") -> Path:
        self.files += 1
        path = self.folder / f"step-{self.files}{suffix}"
        path.write_text(text)
        return path

    def rules(self) -> SiteRules:
        return SiteRules.from_catalogue(catalogue_for(self.ctx.settings.rules_dir))

    # --- steps ---------------------------------------------------------------------------

    def run(self, _: dict[str, Any]) -> None:
        services.run_to_wait(self.ctx, self.ref, actor="scenario")

    def qrf(self, _: dict[str, Any]) -> None:
        send_quote_requests(self.ctx, self.ref, actor="ss@example.com")

    def quotes(self, args: dict[str, Any]) -> None:
        path = quote_file(
            self.ctx,
            self.ref,
            self.folder / f"quotes-{self.files}.csv",
            cost_share=float(args.get("cost_share", 0.4)),
        )
        self.files += 1
        import_quotes(self.ctx, self.ref, path, actor="ss@example.com")

    def approve_all(self, _: dict[str, Any]) -> None:
        grant_all(self.ctx, self.ref)

    def sites_update(self, args: dict[str, Any]) -> None:
        updates = read_site_updates(
            self._file(args["rows"]), current_sites(self.ctx, self.ref), self.rules()
        )
        delta = SiteDelta(updates.file, updated=[(u.site, u.changed) for u in updates.updates])
        change_sites(self.ctx, self.ref, delta, actor=args["by"])
        self.settle()

    def settle(self, args: dict[str, Any] | None = None) -> None:
        """The effects the last command committed run, as every door runs them after a
        command (`pipeline.dispatch`): the renders (the order sheet and its tasks follow a
        fix at once), and with `carry` the bid carried on by the person's answer."""
        from orchestrator.dispatch import RENDERS_ONLY, InlineCarrier, drain

        if (args or {}).get("carry"):
            drain(self.ctx, InlineCarrier(), ref=self.ref)
        else:
            drain(self.ctx, kinds=RENDERS_ONLY, ref=self.ref)

    def macd(self, args: dict[str, Any]) -> None:
        from orchestrator.bid.closing.orders import record_macd

        record_macd(
            self.ctx,
            self.ref,
            site_id=args["site"],
            kind=args["kind"],
            changes=dict(args.get("changes", {})),
            actor=args["by"],
            cost=args.get("cost"),
        )
        self.settle()

    def sites_add(self, args: dict[str, Any]) -> None:
        read = read_sites(
            self._file(args["rows"]),
            existing_ids=current_sites(self.ctx, self.ref),
            rules=self.rules(),
        )
        change_sites(self.ctx, self.ref, SiteDelta("add.csv", added=read.sites), actor=args["by"])

    def sites_remove(self, args: dict[str, Any]) -> None:
        removed = read_site_removals(self._file(args["rows"]), current_sites(self.ctx, self.ref))
        change_sites(self.ctx, self.ref, SiteDelta("remove.csv", removed=removed), actor=args["by"])

    def opportunity_update(self, args: dict[str, Any]) -> None:
        addendum = self._file(args["addendum"], ".txt") if "addendum" in args else None
        update_opportunity(
            self.ctx,
            self.ref,
            reason=args["reason"],
            by=args["by"],
            deadline=_day(args["deadline"]) if "deadline" in args else None,
            contract_months=args.get("contract_months"),
            addendum=addendum,
        )

    def bafo(self, args: dict[str, Any]) -> None:
        deadline = _day(args["deadline"]) if "deadline" in args else None
        outcomes.request_bafo(
            self.ctx, self.ref, reason=args["reason"], by=args["by"], deadline=deadline
        )

    def withdraw(self, args: dict[str, Any]) -> None:
        wake_up = _day(args["wake_up"]) if "wake_up" in args else None
        outcomes.withdraw(
            self.ctx,
            self.ref,
            reason=args["reason"],
            by=args["by"],
            category=args.get("category"),
            wake_up=wake_up,
        )

    def clock_step(self, args: dict[str, Any]) -> None:
        self.clock.advance(days=int(args["days"]))

    def watch_step(self, _: dict[str, Any]) -> None:
        watch(self.ctx)

    def postcodes_before_validation(self, args: dict[str, Any]) -> None:
        with Session(self.ctx.engine) as session:
            for site in session.exec(select(Site).where(col(Site.site_id).in_(list(args)))):
                site.postcode = str(args[site.site_id])
                session.add(site)
            session.commit()

    def expect(self, args: dict[str, Any]) -> None:
        ctx = self.ctx
        status = queries.status(ctx, self.ref)
        if "state" in args:
            assert status.state == args["state"]
        if "waiting" in args:
            waiting = "; ".join(c["text"] for c in status.exit_criteria if not c["holds"])
            for fragment in args["waiting"]:
                assert fragment in waiting, (fragment, waiting)
        with Session(ctx.engine) as session:
            opportunity = services.get_opportunity(session, self.ref)
            if "tasks" in args:
                tasks = session.exec(
                    select(Task).where(Task.status == "open").order_by(col(Task.id))
                ).all()
                assert [t.text for t in tasks] == args["tasks"]
            if "approvals" in args:
                approvals = session.exec(
                    select(Approval)
                    .where(Approval.round == opportunity.governance_round)
                    .order_by(col(Approval.id))
                ).all()
                assert {a.area: a.status for a in approvals} == args["approvals"]
            messages = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
            for event, recipients in args.get("messages", {}).items():
                sent = sorted(m.recipient_email or "" for m in messages if m.event == event)
                assert sent == sorted(recipients), (event, sent)
            for event, fragment in args.get("message_says", {}).items():
                texts = [m.text for m in messages if m.event == event]
                assert texts and fragment in texts[-1], (event, texts[-1:])
            milestones = {
                m.name: m for m in session.exec(select(Milestone).order_by(col(Milestone.id)))
            }
            for name, due in args.get("milestones_due", {}).items():
                assert milestones[name].due_at.date() == _day(due), (name, milestones[name])
            for name, wanted in args.get("milestones_status", {}).items():
                assert milestones[name].status == wanted, name
            if "deadline" in args:
                assert opportunity.submission_deadline == _day(args["deadline"])
            if "offer_round" in args:
                assert opportunity.offer_round == args["offer_round"]
            if "order_sheet_is_contract" in args:
                _order_sheet_is_contract(ctx, session, opportunity, args["order_sheet_is_contract"])
            if "held_changes" in args:
                view = queries.approval_view(ctx, self.ref)
                assert [h["site_id"] for h in view["held_changes"]] == args["held_changes"]
            if "approval_blocks_say" in args:
                from orchestrator.slack.blocks import summary_blocks

                asked = [m for m in messages if m.event == "approval_requested"][-1]
                shown = json.dumps(summary_blocks(asked.blocks[0]["summary"]), ensure_ascii=False)
                assert args["approval_blocks_say"] in shown, shown[:400]
            if "contract_monthly" in args:
                contract = session.exec(
                    select(Contract).where(Contract.opportunity_id == opportunity.id)
                ).one()
                assert contract.monthly_recurring == args["contract_monthly"]
            if "trail_actors" in args:
                actors = {
                    row["trigger"]: row["actor"]
                    for row in queries.history(ctx, self.ref)
                    if row["kind"] == "event"
                }
                for trigger, actor in args["trail_actors"].items():
                    assert actors[trigger] == actor, (trigger, actors[trigger])
            if "sleeping_until" in args:
                account = session.exec(select(Account)).one()
                assert account.sleeping_until == _day(args["sleeping_until"])
            if "sleeping_due" in args:
                (sleeping,) = sleeping_accounts(session, ctx.clock().date())
                assert sleeping.due == args["sleeping_due"]
                assert sleeping.last_result == "withdrawn"


def _money(text: str) -> float:
    return float(text.replace(",", ""))


def _order_sheet_is_contract(
    ctx: Context, session: Session, opportunity: Any, wanted: dict[str, Any]
) -> None:
    """The rendered order sheet (.xlsx and .docx, read back) sums to the contract: every
    priced line is on it, per site and per bid."""
    import openpyxl
    from docx import Document as open_docx

    contract = session.exec(select(Contract).where(Contract.opportunity_id == opportunity.id)).one()
    folder = ctx.output_dir_for(opportunity.ref)
    workbook = openpyxl.load_workbook(folder / f"order-sheet-{opportunity.ref}.xlsx")
    rows = list(workbook["Order lines"].iter_rows(min_row=2, values_only=True))
    header, lines = list(rows[0]), rows[1:]
    monthly = header.index(f"Monthly ({contract.currency})")
    one_off = header.index(f"One-off ({contract.currency})")
    assert len(lines) == wanted["lines"]
    by_site = {r[1]: r for r in lines if r[1]}
    for site, mbps in wanted.get("mbps", {}).items():
        assert by_site[site][header.index("Mbps")] == mbps, site
    for site, cost in wanted.get("buy_monthly", {}).items():
        assert by_site[site][header.index("Buy monthly")] == cost, site
    changes = [str(r[5]) for r in workbook["Changes"].iter_rows(min_row=2, values_only=True)]
    assert not any("waits for the financial approval" in c for c in changes) or wanted.get(
        "held"
    ), changes
    assert [r[2] for r in lines if r[0] is None] == wanted["per_bid"]
    assert round(sum(r[monthly] for r in lines), 2) == contract.monthly_recurring
    assert round(sum(r[one_off] for r in lines), 2) == contract.one_off
    totals = {r[0]: r[1] for r in workbook["Totals"].iter_rows(values_only=True)}
    assert totals[f"Monthly recurring ({contract.currency})"] == contract.monthly_recurring
    assert totals[f"One-off ({contract.currency})"] == contract.one_off
    text = "\n".join(
        p.text for p in open_docx(str(folder / f"order-sheet-{opportunity.ref}.docx")).paragraphs
    )
    said = text.split("Totals (")[1].split("\n")[0]
    assert _money(said.split("monthly recurring ")[1].split(" ")[0]) == contract.monthly_recurring
    assert _money(said.split("one-off ")[1].split(" ")[0]) == contract.one_off


def _step(run: Run, step: Any) -> None:
    if isinstance(step, str):
        step = {step: {}}
    ((action, args),) = step.items()
    args = dict(args or {})
    refused = args.pop("refused", None)
    calls: dict[str, Callable[[], object]] = {
        "decide": lambda: services.decide(run.ctx, run.ref, **args),
        "approve": lambda: services.approve(run.ctx, run.ref, **args),
        "result": lambda: outcomes.record_result(run.ctx, run.ref, **args),
        "shortlist": lambda: outcomes.shortlist(run.ctx, run.ref, **args),
        "order_details": lambda: set_order_details(run.ctx, run.ref, **args),
        "freeze": lambda: freeze_design(run.ctx, run.ref, **args),
        "pricing": lambda: set_pricing(run.ctx, run.ref, args["changes"], by=args["by"]),
        "clock": lambda: run.clock_step(args),
        "watch": lambda: run.watch_step(args),
        "submit": lambda: submit_offer(
            run.ctx,
            run.ref,
            by=args.get("by", "bm@example.com"),
            channel=args.get("channel", "portal"),
            reference=args.get("reference", "portal receipt"),
        ),
    }
    call = calls.get(action) or (lambda: getattr(run, action)(args))
    if refused:
        with pytest.raises(getattr(errors, refused)):
            call()
    else:
        call()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(real_ctx: Context, clock: FixedClock, scenario: Path, tmp_path: Path) -> None:
    ctx = real_ctx
    data = yaml.safe_load(scenario.read_text())
    spec = dict(data["opportunity"])
    spec["submission_deadline"] = _day(spec["submission_deadline"]).isoformat()
    ref = create_opportunity(ctx, OpportunitySpec.model_validate(spec), actor="scenario")
    sites = tmp_path / "sites.csv"
    sites.write_text(data["sites"])
    read = read_sites(sites, rules=SiteRules.from_catalogue(catalogue_for(ctx.settings.rules_dir)))
    assert read.warnings == data.get("import_warnings", [])
    import_sites(ctx, ref, read.sites, actor="scenario", warnings=read.warnings)
    run = Run(ctx, clock, ref, tmp_path)
    for step in data["steps"]:
        _step(run, step)
    with Session(ctx.engine) as session:
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        trail = [[e.from_state, e.to_state, e.trigger] for e in events if e.trigger != "create"]
        trail = [t for t in trail if t[0] != t[1] or t[2] in ("shortlist",)]
        refusals = [e.trigger for e in events if e.trigger.endswith("_refused")]
        decisions = session.exec(select(DecisionRecord).order_by(col(DecisionRecord.id))).all()
    assert trail == data["expected_trail"]
    assert [d.table_name for d in decisions] == data["expected_decisions"]
    assert refusals == data["expected_refusals"]
