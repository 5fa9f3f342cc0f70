"""Flows on Prefect's temporary server, in this process, with an isolated PREFECT_HOME.

One temporary server serves the whole test session (it starts once per process). Every test
tags its bid with an account of its own, so runs of other tests never match.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlmodel import Session, col, select

from orchestrator.bid.progress import services
from orchestrator.bid.reports import queries
from orchestrator.config import load_settings
from orchestrator.context import Context
from orchestrator.errors import TransitionRefused
from orchestrator.runtime import prefect_env
from orchestrator.runtime.prefect_runner import PrefectRunner
from orchestrator.store.models import AuditEvent, Document, OutboxMessage
from tests.conftest import FixedClock, RecordingDocuments, RunCli
from tests.factories import PEOPLE, WON_TRAIL, grant_all, new_bid, produce, submit, transitions
from tests.support.prefect_server import REPO, flow_runs, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: these tests are about Prefect, the services run on both databases elsewhere."""
    return f"sqlite:///{tmp_path / 'bid.db'}"


@pytest.fixture(scope="module")
def api_url() -> str:
    """The session's temporary server (started on first use), over the conftest's PREFECT_HOME."""
    settings = load_settings({**os.environ, "BID_UI_PORT": str(free_port())})
    target = prefect_env.configure(settings)
    if target.mode != prefect_env.PrefectMode.TEMPORARY:
        pytest.skip(f"Prefect is configured for {target.describe()} in this process")
    from orchestrator.runtime.prefect_runner import start_temporary_server

    start_temporary_server(target, PrefectRunner().console)
    from prefect.server.api.server import SubprocessASGIServer

    return SubprocessASGIServer().api_url


@pytest.fixture
def runner(api_url: str) -> PrefectRunner:
    return PrefectRunner()


@pytest.fixture
def account() -> str:
    return f"Acme {uuid.uuid4().hex[:8]}"


def _bid(ctx: Context, account: str, **overrides: Any) -> str:
    return new_bid(ctx, account={"name": account, "tier": "top"}, **overrides)


def test_advance_is_a_named_run_tagged_with_bid_account_and_step(
    ctx: Context, runner: PrefectRunner, api_url: str, account: str
) -> None:
    ref = _bid(ctx, account)
    result = runner.advance_once(ctx, ref, "test")
    assert (result.from_state, result.to_state) == ("pre_qualification", "qualification")
    [run] = flow_runs(api_url, tags=[f"account:{account}"])
    assert run["name"] == f"{ref} · qualification"
    assert set(run["tags"]) == {f"opp:{ref}", f"account:{account}", "step:qualification"}
    assert run["state_type"] == "COMPLETED"


def test_a_bid_is_carried_to_contract_one_event_per_transition(
    ctx: Context, runner: PrefectRunner, api_url: str, account: str, documents: RecordingDocuments
) -> None:
    ref = _bid(ctx, account)
    runner.run_lifecycle(ctx, ref, "test")
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
    assert "bid production waits" in runner.continue_bid(ctx, ref, PEOPLE["bid_manager"])
    produce(ctx, ref)
    assert "governance" in runner.continue_bid(ctx, ref, PEOPLE["solution_consultant"])
    grant_all(ctx, ref)
    runner.continue_bid(ctx, ref, "test")
    submit(ctx, ref)
    services.record_result(ctx, ref, won=True, reason="best offer", by=PEOPLE["bid_manager"])
    runner.continue_bid(ctx, ref, "test")
    assert transitions(ctx) == WON_TRAIL
    assert [c[0] for c in documents.calls] == [
        "quote_requests",
        "bid_documents",
        "submission_package",
        "order_sheet",
    ]
    runs = flow_runs(api_url, tags=[f"account:{account}"])
    lifecycles = [r for r in runs if "step:lifecycle" in r["tags"]]
    assert len(lifecycles) == 5 and all(r["name"] == f"{ref} · lifecycle" for r in lifecycles)
    steps = {r["name"] for r in runs} - {f"{ref} · lifecycle"}
    assert {f"{ref} · {s}" for s in ("kick_off", "bid_production", "submission")} <= steps
    production = next(r for r in runs if r["name"] == f"{ref} · bid_production")
    assert "step:lifecycle" not in production["tags"]
    assert production["parent_task_run_id"] is not None  # a subflow of the lifecycle run


class _BrokenRenderer:
    def bid_documents(self, session, opportunity, out_dir, version=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("renderer down")


def test_a_crashed_run_leaves_the_bid_consistent_and_explained(
    ctx: Context, runner: PrefectRunner, api_url: str, account: str, documents: RecordingDocuments
) -> None:
    ref = _bid(ctx, account)
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
    services.run_to_wait(ctx, ref, limit=1)  # kick-off → bid production
    produce(ctx, ref)  # its work done: the next step renders the proposal
    ctx._documents = _BrokenRenderer()  # type: ignore[assignment]
    with pytest.raises(RuntimeError, match="renderer down"):
        runner.advance_once(ctx, ref, "test")
    with Session(ctx.engine) as session:
        last = session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
    assert last is not None
    assert (last.trigger, last.from_state, last.to_state) == (
        "flow_crashed",
        "bid_production",
        "bid_production",
    )
    assert last.reason == "RuntimeError: renderer down"
    status = queries.status(ctx, ref)
    assert status.state == "bid_production"
    assert any("crashed" in line and "renderer down" in line for line in status.blocked_by)
    [failed] = flow_runs(api_url, tags=[f"account:{account}", "step:bid_production"])
    assert failed["state_type"] == "FAILED"
    ctx._documents = documents
    assert runner.advance_once(ctx, ref, "test").to_state == "governance_review"


def test_a_refusal_is_an_answer_not_a_crash(
    ctx: Context, runner: PrefectRunner, account: str
) -> None:
    ref = _bid(ctx, account, bants=None)
    with pytest.raises(TransitionRefused, match="BANTS"):
        runner.advance_once(ctx, ref, "test")
    with Session(ctx.engine) as session:
        triggers = session.exec(select(AuditEvent.trigger)).all()
    assert "flow_crashed" not in triggers


def test_deadline_watch_publishes_the_board_and_each_plan(
    ctx: Context, runner: PrefectRunner, api_url: str, account: str, clock: FixedClock
) -> None:
    import httpx

    clock.advance(days=-2)  # an RFP received on a Wednesday: go/no-go due Thursday, due soon
    ref = _bid(ctx, account)
    services.run_to_wait(ctx, ref)
    summary = runner.watch_deadlines(ctx)
    assert summary == {"open": 1, "overdue": 0, "queued": 1}
    plan_key = f"bid-control-plan-{ref.lower()}"
    reply = httpx.post(
        f"{api_url}/artifacts/latest/filter",
        json={"artifacts": {"key": {"any_": ["bid-deadlines", plan_key]}}},
        timeout=10,
    )
    reply.raise_for_status()
    artifacts = {a["key"]: a for a in reply.json()}
    assert set(artifacts) == {"bid-deadlines", plan_key}
    assert artifacts["bid-deadlines"]["type"] == "table"
    assert account in str(artifacts["bid-deadlines"]["data"])
    assert "Go/no-go decision" in str(artifacts[plan_key]["data"])
    with Session(ctx.engine) as session:
        keys = session.exec(
            select(OutboxMessage.key).where(OutboxMessage.event == "milestone_warning")
        ).all()
    assert len(keys) == 1 and keys[0].endswith(":owner")


def _latest_plan(api_url: str, ref: str) -> dict[str, list[Any]]:
    import json

    import httpx

    reply = httpx.post(
        f"{api_url}/artifacts/latest/filter",
        json={"artifacts": {"key": {"any_": [f"bid-control-plan-{ref.lower()}"]}}},
        timeout=10,
    )
    reply.raise_for_status()
    [artifact] = reply.json()
    table: dict[str, list[Any]] = json.loads(artifact["data"])
    return table


def _plan_versions(api_url: str, ref: str) -> list[dict[str, Any]]:
    import httpx

    reply = httpx.post(
        f"{api_url}/artifacts/filter",
        json={"artifacts": {"key": {"any_": [f"bid-control-plan-{ref.lower()}"]}}},
        timeout=10,
    )
    reply.raise_for_status()
    versions: list[dict[str, Any]] = reply.json()
    return versions


def test_every_change_of_the_plan_republishes_it_status_first_in_words(
    ctx: Context, runner: PrefectRunner, api_url: str, account: str
) -> None:
    from orchestrator.dispatch import drain

    ref = _bid(ctx, account)
    services.run_to_wait(ctx, ref)  # qualification: waits for the go/no-go
    drain(ctx, runner)  # the render effects of those moves publish the plan
    before = _latest_plan(api_url, ref)
    assert list(before) == ["status", "milestone", "owner", "due", "days left"]
    row = before["milestone"].index("Go/no-go decision")
    assert before["status"][row] != "done"
    assert not any("_" in name for name in before["milestone"])
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
    drain(ctx, runner)  # the carry's step runs render the moves and publish the plan
    after = _latest_plan(api_url, ref)
    assert after["status"][after["milestone"].index("Go/no-go decision")] == "done"
    # one artifact per bid, updated in place: no version per change piling up in Prefect
    [plan] = _plan_versions(api_url, ref)
    assert plan["updated"] > plan["created"]

    import httpx

    from flows import deadline_watch

    httpx.delete(f"{api_url}/artifacts/{plan['id']}", timeout=10).raise_for_status()
    runner.watch_deadlines(ctx, notify=False)  # the id this process knew is gone: made again
    [again_made] = _plan_versions(api_url, ref)
    assert again_made["id"] != plan["id"] and "Go/no-go decision" in again_made["data"]
    deadline_watch._PLAN_IDS.clear()  # another process: asks for the latest, updates it
    runner.watch_deadlines(ctx, notify=False)
    assert [a["id"] for a in _plan_versions(api_url, ref)] == [again_made["id"]]

    from orchestrator.core.effects import EffectKind
    from tests.factories import queue_render

    queue_render(ctx, ref, "again")  # a render of a bid whose plan did not change
    again = drain(ctx, runner)
    renders = [o for o in again.done if o.kind == EffectKind.RENDER]
    assert renders and not any("plan" in o.message for o in renders), again.lines()


def test_new_bid_form_runs_intake_and_the_lifecycle(
    ctx: Context, runner: PrefectRunner, api_url: str, account: str
) -> None:
    from flows.forms import InlineOpportunity, NewBidRequest
    from orchestrator.doors.prefect_forms import new_bid_from_rfp

    inline = InlineOpportunity.model_validate(
        {
            "account": account,
            "tier": "major",
            "title": "SD-WAN for 12 shops",
            "submission_deadline": "2027-01-30",
            "revenue_short_term": 200000,
            "team": {"bid_manager": PEOPLE["bid_manager"], "management": PEOPLE["management"]},
            "budget_eur": 300000,
            "authority": "decision_maker",
            "need": "clear",
            "timeframe_months": 3,
            "sales_ready": True,
        }
    )
    ref = runner.run(ctx, lambda: new_bid_from_rfp(request=NewBidRequest(inline=inline)))
    assert queries.status(ctx, ref).state == "qualification"
    names = {r["name"] for r in flow_runs(api_url, tags=[f"account:{account}"])}
    assert {"new bid from RFP", f"{ref} · lifecycle", f"{ref} · qualification"} <= names
    with pytest.raises(ValidationError, match="either opportunity_yaml or inline"):
        NewBidRequest()
    # the run acts as the service's identity (no actor field to type a name in) ...
    created = [r for r in queries.history(ctx, ref) if r["trigger"] == "create"]
    assert [r["actor"] for r in created] == ["bid-service"]
    assert "actor" not in NewBidRequest.model_json_schema()["properties"]
    # ... and says so in its result, with the bid's page in the workspace
    from flows.forms import created_note

    note = created_note(ref, "http://bids.example.com/")
    assert "`bid-service`, the service's identity" in note
    assert f"http://bids.example.com/bids/{ref}" in note
    # BANTS' required fields are required in the form's own schema (no run starts without)
    schema = InlineOpportunity.model_json_schema()
    assert {"budget_eur", "authority", "need", "timeframe_months", "sales_ready"} <= set(
        schema["required"]
    )
    # ... and the form refuses what would only fail later in a red run: BANTS is required
    missing = {k: v for k, v in inline.model_dump().items() if k != "budget_eur"}
    with pytest.raises(ValidationError, match="budget_eur"):
        InlineOpportunity.model_validate(missing)


def test_a_form_run_gives_nobody_a_slack_id_nor_approval_powers(
    ctx: Context, runner: PrefectRunner, account: str
) -> None:
    """Issue 23: a YAML through the Prefect form made a person with a Slack id as finance
    (the form's default actor counted as the system's own automation)."""
    from flows.forms import InlineOpportunity, NewBidRequest
    from orchestrator.doors.prefect_forms import new_bid_from_rfp

    inline = InlineOpportunity.model_validate(
        {
            "account": account,
            "tier": "major",
            "title": "Forged team",
            "submission_deadline": "2027-01-30",
            "revenue_short_term": 200000,
            "team": {"bid_manager": PEOPLE["bid_manager"], "finance": "mallory@example.com"},
            "budget_eur": 300000,
            "authority": "decision_maker",
            "need": "clear",
            "timeframe_months": 3,
            "sales_ready": True,
        }
    )
    request = NewBidRequest(inline=inline, carry_on=False)
    ref = runner.run(ctx, lambda: new_bid_from_rfp(request=request))
    from orchestrator.bid.facts import SERVICE_ACTOR, decider_for, get_opportunity, get_person
    from orchestrator.bid.opportunity.onboarding import create_opportunity
    from orchestrator.errors import InputError
    from orchestrator.store.db import reading
    from tests.factories import opportunity_spec

    with reading(ctx.engine) as session:
        mallory = get_person(session, "mallory@example.com")
        decider = decider_for(session, get_opportunity(session, ref), mallory)
    assert decider.team_roles == frozenset()  # named by the form: no approval power
    assert "finance" in decider.named_roles
    spec = opportunity_spec(
        ctx,
        rfp_reference="FORM-SLACK-1",
        team={"finance": {"email": "eve@example.com", "slack_user_id": "UEVE"}},
    )
    with pytest.raises(InputError, match="only an admin sets a person's Slack user id"):
        create_opportunity(ctx, spec, SERVICE_ACTOR)


def test_generate_documents_form(
    ctx: Context, runner: PrefectRunner, account: str, documents: RecordingDocuments
) -> None:
    from flows.forms import DocumentsRequest
    from orchestrator.doors.prefect_forms import generate_documents

    ref = _bid(ctx, account)
    paths = runner.run(ctx, lambda: generate_documents(request=DocumentsRequest(opportunity=ref)))
    assert len(paths) == 1 and Path(paths[0]).exists()
    with Session(ctx.engine) as session:
        assert len(session.exec(select(Document)).all()) == 1


def test_cli_advance_runs_through_prefect(
    run_cli: RunCli, ctx: Context, api_url: str, account: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BID_FLOW_RUNNER", "prefect")  # run_cli defaults to the inline runner
    ref = _bid(ctx, account)
    result = run_cli("advance", ref)
    assert result.code == 0, result.err
    assert "pre_qualification → qualification" in result.out
    assert [r["name"] for r in flow_runs(api_url, tags=[f"account:{account}"])] == [
        f"{ref} · qualification"
    ]


def test_importing_the_flows_runs_nothing(tmp_path: Path) -> None:
    home = tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL="http://127.0.0.1:9/api",  # nothing listens: any call would fail
        PYTHONPATH=str(REPO),
    )
    code = (
        "import flows.steps, flows.forms, flows.deadline_watch, flows.deployments, flows.hooks, "
        "orchestrator.doors.prefect_forms"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert not (home / "prefect.db").exists()


@pytest.fixture(autouse=True)
def _no_dispatch_override(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("BID_FLOW_DISPATCH", raising=False)
    yield


def test_the_new_bid_form_imports_an_xlsx_site_list_and_lists_its_findings(
    ctx: Context, runner: PrefectRunner, api_url: str, account: str, tmp_path: Path
) -> None:
    """Issue 25: the form shows what the intake found, as `bid sites import` does."""
    import httpx

    from flows.forms import InlineOpportunity, NewBidRequest
    from orchestrator.doors.prefect_forms import new_bid_from_rfp
    from tests.test_intake__findings import _workbook, customer_sites

    rows, flagged = customer_sites(30, every=10)
    book = _workbook(tmp_path / "sites.xlsx", rows)
    inline = InlineOpportunity.model_validate(
        {
            "account": account,
            "tier": "major",
            "title": "30 shops",
            "submission_deadline": "2027-01-30",
            "revenue_short_term": 200000,
            "team": {"bid_manager": PEOPLE["bid_manager"]},
            "budget_eur": 300000,
            "authority": "decision_maker",
            "need": "clear",
            "timeframe_months": 3,
            "sales_ready": True,
        }
    )
    request = NewBidRequest(inline=inline, sites_csv=str(book), carry_on=False)
    ref = runner.run(ctx, lambda: new_bid_from_rfp(request=request))
    assert queries.status(ctx, ref).exceptions["open_count"] == len(flagged)
    reply = httpx.post(
        f"{api_url}/artifacts/latest/filter",
        json={"artifacts": {"key": {"any_": [f"intake-{ref.lower()}"]}}},
        timeout=10,
    )
    reply.raise_for_status()
    (artifact,) = reply.json()
    text = str(artifact["data"])
    assert f"0 problem(s), {len(flagged)} exception(s)" in text
    assert [f"| {book} | {row} | bandwidth_mbps |" in text for row in (13, 23, 33)] == [True] * 3
    assert text.count("| exception | price_list.above_sold |") == len(flagged)


def test_the_forms_dispatch_typed_commands_as_the_service(
    ctx: Context, runner: PrefectRunner, api_url: str, account: str, tmp_path: Path
) -> None:
    """Issue 22: the Prefect UI's forms are a door: they build the typed commands (the files'
    contents as uploads) and call `pipeline.dispatch` as `bid-service`; a malformed site list
    fails the run with its findings and saves nothing."""
    import httpx
    import yaml

    from flows.forms import AdvanceRequest, InlineOpportunity, NewBidRequest
    from orchestrator.core.effects import EffectStatus
    from orchestrator.doors.prefect_forms import advance_bid, new_bid_from_rfp
    from orchestrator.errors import InputError
    from orchestrator.intake.opportunity import SITE_COLUMNS
    from orchestrator.store.models import Effect, Opportunity
    from tests.test_intake__findings import customer_sites, write_sites

    fields = {
        "account": account,
        "tier": "major",
        "title": "Shops by form",
        "submission_deadline": "2027-01-30",
        "revenue_short_term": 200000,
        "team": {"bid_manager": PEOPLE["bid_manager"], "management": PEOPLE["management"]},
        "budget_eur": 300000,
        "authority": "decision_maker",
        "need": "clear",
        "timeframe_months": 3,
        "sales_ready": True,
    }
    spec = InlineOpportunity.model_validate(fields).as_spec_data()
    opportunity_yaml = tmp_path / "opportunity.yaml"
    opportunity_yaml.write_text(yaml.safe_dump(spec))
    rows, _ = customer_sites(6, every=100)

    # a malformed site list: the run fails before anything is saved, its findings listed
    broken = [list(row) for row in rows]
    broken[2][SITE_COLUMNS.index("bandwidth_mbps")] = "fast"
    bad = write_sites(tmp_path / "bad-sites.csv", broken)
    refused = NewBidRequest(opportunity_yaml=str(opportunity_yaml), sites_csv=str(bad))
    with pytest.raises(InputError):
        runner.run(ctx, lambda: new_bid_from_rfp(request=refused))
    with Session(ctx.engine) as session:
        assert (
            session.exec(select(Opportunity).where(Opportunity.title == "Shops by form")).all()
            == []
        )
    reply = httpx.post(
        f"{api_url}/artifacts/latest/filter",
        json={"artifacts": {"key": {"any_": ["intake-refused"]}}},
        timeout=10,
    )
    reply.raise_for_status()
    text = str(reply.json()[0]["data"])
    assert "refused: nothing imported" in text
    assert f"| {bad} | 4 | bandwidth_mbps | fast | problem |" in text

    # the same form with a good list: every write is a command dispatched for bid-service
    good = write_sites(tmp_path / "sites.csv", rows)
    request = NewBidRequest(
        opportunity_yaml=str(opportunity_yaml), sites_csv=str(good), carry_on=False
    )
    ref = runner.run(ctx, lambda: new_bid_from_rfp(request=request))
    trail = queries.history(ctx, ref)
    assert {r["trigger"] for r in trail} >= {"create"}
    assert {r["actor"] for r in trail if r["kind"] == "event"} == {"bid-service"}
    assert queries.status(ctx, ref).sites == 6
    moved = runner.run(
        ctx, lambda: advance_bid(request=AdvanceRequest(opportunity=ref, how="one_step"))
    )
    assert [(m["command"], m["opportunity"], m["from_state"]) for m in moved] == [
        ("advance", ref, "pre_qualification")
    ]
    moves = [r for r in queries.history(ctx, ref) if r.get("from_state") == "pre_qualification"]
    assert moves and {r["actor"] for r in moves} == {"bid-service"}
    with Session(ctx.engine) as session:
        bid_id = session.exec(
            select(Opportunity.id).where(Opportunity.title == "Shops by form")
        ).one()
        effects = session.exec(select(Effect).where(Effect.opportunity_id == bid_id)).all()
    # dispatch settled what the move committed (its documents render), as for every door
    assert effects and {e.status for e in effects} == {EffectStatus.DONE}
