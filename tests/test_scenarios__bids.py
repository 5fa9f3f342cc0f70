"""Golden scenarios: a bid's inputs beside its expected trail, in tests/scenarios/bids/."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import Session, col, select

from orchestrator import errors
from orchestrator.bid import services
from orchestrator.bid.onboarding import create_opportunity, import_sites
from orchestrator.context import Context
from orchestrator.intake.opportunity import OpportunitySpec, parse_sites
from orchestrator.store.models import Account, AuditEvent, DecisionRecord
from tests.factories import grant_all

SCENARIOS = sorted((Path(__file__).parent / "scenarios" / "bids").glob("*.yaml"))


def _spec(ctx: Context, data: dict[str, Any]) -> OpportunitySpec:
    data = dict(data)
    offset = int(str(data["submission_deadline"]).strip("+d"))
    data["submission_deadline"] = (ctx.clock().date() + timedelta(days=offset)).isoformat()
    return OpportunitySpec.model_validate(data)


def _step(ctx: Context, ref: str, step: Any) -> None:
    if step == "run":
        services.run_to_wait(ctx, ref, actor="scenario")
        return
    if step == "approve_all":
        grant_all(ctx, ref)
        return
    ((action, args),) = step.items()
    args = dict(args)
    refused = args.pop("refused", None)
    calls: dict[str, Callable[..., object]] = {
        "decide": services.decide,
        "approve": services.approve,
        "strategy": services.set_strategy,
        "result": services.record_result,
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
    ref = create_opportunity(ctx, _spec(ctx, data["opportunity"]), actor="scenario")
    sites = tmp_path / "sites.csv"
    sites.write_text(data["sites"])
    import_sites(ctx, ref, parse_sites(sites))
    for step in data["steps"]:
        _step(ctx, ref, step)
    with Session(ctx.engine) as session:
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        trail = [
            [e.from_state, e.to_state, e.trigger] for e in events if e.from_state != e.to_state
        ]
        refusals = [e.trigger for e in events if e.trigger.endswith("_refused")]
        decisions = session.exec(select(DecisionRecord).order_by(col(DecisionRecord.id))).all()
        account = session.exec(select(Account)).one()
    assert trail == data["expected_trail"]
    assert [d.table_name for d in decisions] == data["expected_decisions"]
    assert refusals == data["expected_refusals"]
    if trail[-1][1] in {"lost", "no_bid"}:
        assert account.sleeping_until is not None
