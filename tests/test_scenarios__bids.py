"""Golden scenarios: a bid's inputs beside its expected trail, in tests/scenarios/bids/.

A scenario gives the opportunity (YAML), its sites (CSV) and its steps, in the words of the
process: `run` (advance until the bid waits), `decide`, `strategy`, `qrf` (write and record
the quote requests), `quotes` (a provider's answer, as CSV rows or generated at a share of
the list price), `freeze`, `terms`, `approve`, `approve_all`, `submit` (the offer sent, as
`bid submit` records it after the last approval), `result`, and `expect` (what
must hold at that point: the state, what bid production waits for, the approvals, the
messages queued, the approval summary). Then the expected trail of states, the decision
records and the refusals. `rules: {no_fallback: true}` runs it on a provider catalogue
without a fallback partner.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import Session, col, select

from orchestrator import errors
from orchestrator.bid.opportunity.onboarding import create_opportunity, import_sites
from orchestrator.bid.producing.production import freeze_design
from orchestrator.bid.producing.quotes import import_quotes
from orchestrator.bid.producing.sourcing import send_quote_requests
from orchestrator.bid.producing.terms import set_deviations
from orchestrator.bid.progress import services
from orchestrator.bid.progress.submission import submit_offer
from orchestrator.bid.reports import queries
from orchestrator.commercial.quotes import catalogue_for
from orchestrator.context import Context
from orchestrator.documents.proposal import proposal_context
from orchestrator.intake.opportunity import OpportunitySpec, parse_sites
from orchestrator.store.models import (
    Account,
    Approval,
    AuditEvent,
    DecisionRecord,
    Opportunity,
    OutboxMessage,
)
from orchestrator.wiring import open_context
from tests.factories import QUOTE_HEADER, grant_all, quote_file

SCENARIOS = sorted((Path(__file__).parent / "scenarios" / "bids").glob("*.yaml"))


def _spec(ctx: Context, data: dict[str, Any]) -> OpportunitySpec:
    data = dict(data)
    offset = int(str(data["submission_deadline"]).strip("+d"))
    data["submission_deadline"] = (ctx.clock().date() + timedelta(days=offset)).isoformat()
    return OpportunitySpec.model_validate(data)


def _without_fallback(ctx: Context, folder: Path) -> Context:
    """The same database, on a copy of rules/ whose catalogue has no fallback partner."""
    rules = folder / "rules"
    shutil.copytree(ctx.settings.rules_dir, rules)
    data = yaml.safe_load((rules / "providers.yaml").read_text())
    data["providers"] = [p for p in data["providers"] if not p.get("fallback")]
    (rules / "providers.yaml").write_text(yaml.safe_dump(data))
    settings = replace(ctx.settings, rules_dir=rules)
    return open_context(settings, clock=ctx.clock, documents=ctx.documents)


class Scenario:
    def __init__(self, ctx: Context, ref: str, folder: Path) -> None:
        self.ctx, self.ref, self.folder = ctx, ref, folder
        self.files = 0

    def quotes(self, args: dict[str, Any]) -> None:
        self.files += 1
        path = self.folder / f"quotes-{self.files}.csv"
        if "rows" in args:
            path.write_text(",".join(QUOTE_HEADER) + "\n" + args["rows"])
        else:
            only = set(args["sites"]) if "sites" in args else None
            quote_file(
                self.ctx,
                self.ref,
                path,
                kind=args.get("kind", "firm"),
                cost_share=float(args.get("cost_share", 0.4)),
                only=only,
            )
        refused = args.get("refused")
        if refused:
            with pytest.raises(getattr(errors, refused)):
                import_quotes(self.ctx, self.ref, path, actor="ss@example.com")
            return
        import_quotes(self.ctx, self.ref, path, actor="ss@example.com")

    def qrf(self, args: dict[str, Any]) -> None:
        result = send_quote_requests(self.ctx, self.ref, actor="ss@example.com")
        if "unsourced" in args:
            assert result.unsourced_countries == args["unsourced"]
        if "providers" in args:
            assert {r.country: r.provider for r in result.requests} == args["providers"]

    def expect(self, args: dict[str, Any]) -> None:
        ctx = self.ctx
        status = queries.status(ctx, self.ref)
        if "state" in args:
            assert status.state == args["state"]
        waiting = "; ".join(c["text"] for c in status.exit_criteria if not c["holds"])
        for fragment in args.get("waiting", []):
            assert fragment in waiting, (fragment, waiting)
        if "open" in args:
            assert [c["id"] for c in status.exit_criteria if not c["holds"]] == args["open"]
        with Session(ctx.engine) as session:
            opportunity = services.get_opportunity(session, self.ref)
            approvals = session.exec(
                select(Approval)
                .where(Approval.round == opportunity.governance_round)
                .order_by(col(Approval.id))
            ).all()
            messages = session.exec(select(OutboxMessage)).all()
            if "approvals" in args:
                latest = {a.area: a.status for a in approvals}
                assert latest == args["approvals"]
            for event, recipients in args.get("messages", {}).items():
                sent = sorted(m.recipient_email or "" for m in messages if m.event == event)
                assert sent == sorted(recipients), (event, sent)
            if "proposal" in args:
                context = proposal_context(
                    session,
                    opportunity,
                    catalogue_for(ctx.settings.rules_dir),
                    ctx.settings.rules_dir,
                )
                for key, value in args["proposal"].items():
                    assert context[key] == value, (key, context[key])
                amounts = [r[k] for r in context["sites"] for k in ("monthly", "one_off")]
                assert "0.00" not in amounts
        summary = queries.approval_view(ctx, self.ref)
        for path, expected in args.get("summary", {}).items():
            actual: Any = summary
            for key in path.split("."):
                actual = actual[key]
            assert actual == expected, (path, actual)


def _step(scenario: Scenario, step: Any) -> None:
    ctx, ref = scenario.ctx, scenario.ref
    if step == "run":
        services.run_to_wait(ctx, ref, actor="scenario")
        return
    if step == "approve_all":
        grant_all(ctx, ref)
        return
    if step == "qrf":
        scenario.qrf({})
        return
    if step == "submit":  # the offer goes out: a person records it (bid submit)
        step = {"submit": {}}
    ((action, args),) = step.items()
    args = dict(args)
    own: dict[str, Callable[[dict[str, Any]], object]] = {
        "quotes": scenario.quotes,
        "qrf": scenario.qrf,
        "expect": scenario.expect,
        "submit": lambda kw: submit_offer(
            ctx,
            ref,
            by=kw.get("by", "bm@example.com"),
            channel=kw.get("channel", "portal"),
            reference=kw.get("reference", "portal receipt"),
        ),
    }
    if action in own:
        own[action](args)
        return
    refused = args.pop("refused", None)
    calls: dict[str, Callable[..., object]] = {
        "decide": services.decide,
        "approve": services.approve,
        "strategy": services.set_strategy,
        "result": services.record_result,
        "freeze": freeze_design,
        "terms": lambda ctx, ref, **kw: set_deviations(ctx, ref, kw["deviations"], by=kw["by"]),
    }
    call = calls[action]
    if refused:
        with pytest.raises(getattr(errors, refused)):
            call(ctx, ref, **args)
    else:
        call(ctx, ref, **args)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(ctx: Context, scenario: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(scenario.read_text())
    if (data.get("rules") or {}).get("no_fallback"):
        ctx = _without_fallback(ctx, tmp_path)
    ref = create_opportunity(ctx, _spec(ctx, data["opportunity"]), actor="scenario")
    sites = tmp_path / "sites.csv"
    sites.write_text(data["sites"])
    prices = catalogue_for(ctx.settings.rules_dir).prices
    import_sites(ctx, ref, parse_sites(sites, max_mbps=prices.max_mbps))
    runner = Scenario(ctx, ref, tmp_path)
    for step in data["steps"]:
        _step(runner, step)
    with Session(ctx.engine) as session:
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        trail = [
            [e.from_state, e.to_state, e.trigger] for e in events if e.from_state != e.to_state
        ]
        refusals = [e.trigger for e in events if e.trigger.endswith("_refused")]
        decisions = session.exec(select(DecisionRecord).order_by(col(DecisionRecord.id))).all()
        account = session.exec(select(Account)).one()
        opportunity = session.exec(select(Opportunity)).one()
    assert trail == data["expected_trail"]
    assert [d.table_name for d in decisions] == data["expected_decisions"]
    assert refusals == data["expected_refusals"]
    if trail[-1][1] in {"lost", "no_bid"}:
        assert account.sleeping_until is not None
    if "expected_currency" in data:
        assert opportunity.currency == data["expected_currency"]
