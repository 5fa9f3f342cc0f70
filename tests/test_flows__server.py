"""A real Prefect server (`bid ui`), `bid` commands and workers (`bid serve-flows`) against it.

One `bid ui` serves the module; the last test stops it and shows the fallback to the
temporary server on the same data. A worker is killed with SIGKILL in the middle of bid
production: after a restart the bid finishes with one set of documents and one audit
event per transition.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session, col, select

from orchestrator.bid.progress import services
from orchestrator.config import load_settings
from orchestrator.context import Context
from orchestrator.store.models import AuditEvent, Document
from orchestrator.wiring import open_context
from tests.factories import PEOPLE, new_bid, produce
from tests.support.prefect_server import (
    PAUSE_ENV,
    REPO,
    BidProject,
    BidUi,
    PausingDocuments,
    api,
    flow_runs,
    free_port,
    kill_group,
    wait_for,
)

pytestmark = [pytest.mark.prefect_server, pytest.mark.slow]

WORKER_ENV = {
    "PREFECT_RUNNER_POLL_FREQUENCY": "1",
    "BID_DOCUMENTS_FACTORY": "tests.support.prefect_server:pausing_documents",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> BidProject:
    return BidProject(tmp_path_factory.mktemp("bid-project"), free_port())


@pytest.fixture(scope="module")
def ctx(project: BidProject) -> Iterator[Context]:
    settings = load_settings(
        {
            "BID_DATABASE_URL": f"sqlite:///{project.root / 'bid.db'}",
            "BID_DATA_DIR": str(project.root / ".bid"),
            "BID_OUTPUT_DIR": str(project.root / "out"),
            "BID_RULES_DIR": str(REPO / "rules"),
            "BID_TEMPLATES_DIR": str(REPO / "templates"),
        },
        cwd=project.root,
    )
    context = open_context(settings, documents=PausingDocuments())
    yield context
    context.engine.dispose()


@pytest.fixture(scope="module")
def ui(project: BidProject, ctx: Context) -> Iterator[BidUi]:
    server = BidUi(project).start()
    yield server
    server.stop()


def _bid(ctx: Context) -> tuple[str, str]:
    account = f"Acme {uuid.uuid4().hex[:8]}"
    return new_bid(ctx, account={"name": account, "tier": "top"}), account


def _deployment_run(api_url: str, name: str, parameters: dict[str, Any]) -> str:
    deployment = wait_for(lambda: _deployment(api_url, name), 60, f"the worker to register {name}")
    reply = api(
        "POST",
        f"{api_url}/deployments/{deployment['id']}/create_flow_run",
        json={"parameters": parameters},
    )
    reply.raise_for_status()
    return str(reply.json()["id"])


def _deployment(api_url: str, name: str) -> dict[str, Any] | None:
    reply = api("GET", f"{api_url}/deployments/name/{name}")
    return reply.json() if reply.status_code == 200 else None


def _state_of(api_url: str, run_id: str) -> str:
    return str(api("GET", f"{api_url}/flow_runs/{run_id}").json()["state_type"])


def _finished(api_url: str, run_id: str) -> str | None:
    state = _state_of(api_url, run_id)
    return state if state in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"} else None


def _state(ctx: Context, ref: str) -> str:
    with Session(ctx.engine) as session:
        return services.get_opportunity(session, ref).state


def test_bid_advance_runs_on_the_ui_server(project: BidProject, ctx: Context, ui: BidUi) -> None:
    ref, account = _bid(ctx)
    done = project.bid("advance", ref)
    assert done.returncode == 0, done.stderr
    assert "pre_qualification → qualification" in done.stdout
    [run] = flow_runs(project.api_url, tags=[f"opp:{ref}", f"account:{account}"])
    assert run["name"] == f"{ref} · qualification"
    assert "step:qualification" in run["tags"] and run["state_type"] == "COMPLETED"


def test_a_deployment_runs_on_a_worker_with_its_tags(
    project: BidProject, ctx: Context, ui: BidUi
) -> None:
    ref, account = _bid(ctx)
    worker = project.start("serve-flows", **WORKER_ENV)
    try:
        run_id = _deployment_run(
            project.api_url, "bid-lifecycle/Carry a bid on", {"ref": ref, "actor": "test"}
        )
        state = wait_for(lambda: _finished(project.api_url, run_id), 120, "the lifecycle run")
        assert state == "COMPLETED"
    finally:
        kill_group(worker)
    assert _state(ctx, ref) == "qualification"
    runs = {r["name"]: r for r in flow_runs(project.api_url, tags=[f"account:{account}"])}
    assert set(runs) == {f"{ref} · lifecycle", f"{ref} · qualification"}
    assert {f"opp:{ref}", f"account:{account}", "step:lifecycle"} <= set(
        runs[f"{ref} · lifecycle"]["tags"]
    )
    assert set(runs[f"{ref} · qualification"]["tags"]) == {
        f"opp:{ref}",
        f"account:{account}",
        "step:qualification",
    }


def test_a_worker_killed_in_bid_production_finishes_the_bid_once(
    project: BidProject, ctx: Context, ui: BidUi
) -> None:
    ref, _ = _bid(ctx)
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
    services.run_to_wait(ctx, ref, limit=1)
    assert _state(ctx, ref) == "bid_production"
    produce(ctx, ref, qrf_dir=project.root / "sent" / ref)  # QRFs sent, quotes in, frozen
    out = project.root / "out" / ref

    worker = project.start("serve-flows", **WORKER_ENV, **{PAUSE_ENV: "300"})
    try:
        _deployment_run(project.api_url, "bid-production/Step 3 - Bid production", {"ref": ref})
        wait_for(lambda: list(out.glob("qrf-*.txt")), 120, "the first QRF file")
    finally:
        kill_group(worker)  # SIGKILL in the middle of bid production
    assert _state(ctx, ref) == "bid_production"
    assert len(list(out.glob("qrf-*.txt"))) == 1

    worker = project.start("serve-flows", **WORKER_ENV)
    try:
        run_id = _deployment_run(
            project.api_url, "bid-production/Step 3 - Bid production", {"ref": ref}
        )
        state = wait_for(lambda: _finished(project.api_url, run_id), 120, "the rerun")
        assert state == "COMPLETED"
    finally:
        kill_group(worker)
    assert _state(ctx, ref) == "governance_review"
    with Session(ctx.engine) as session:
        opportunity = services.get_opportunity(session, ref)
        documents = session.exec(
            select(Document).where(Document.opportunity_id == opportunity.id)
        ).all()
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.opportunity_id == opportunity.id)
            .order_by(col(AuditEvent.id))
        ).all()
    names = sorted(d.name for d in documents if d.kind != "control_plan")
    assert names == ["proposal", "qrf-BE", "qrf-DE", "qrf-ES", "qrf-FR", "qrf-GB", "qrf-NL"]
    # the control plan follows the bid: rendered again at every move, one row per version
    plans = [d.content_hash for d in documents if d.kind == "control_plan"]
    assert plans and len(set(plans)) == len(plans)
    assert sorted(p.stem for p in out.glob("*.txt")) == sorted([*names, "control-plan"])
    moves = [(e.from_state, e.to_state) for e in events if e.from_state != e.to_state]
    assert len(moves) == len(set(moves))
    assert moves[-1] == ("bid_production", "governance_review")
    assert not list(out.glob("*.tmp"))


def test_when_the_ui_stops_commands_fall_back_to_the_temporary_server(
    project: BidProject, ctx: Context, ui: BidUi
) -> None:
    """Runs last in this module: it stops the module's `bid ui`."""
    assert ui.stop() == 0
    assert not ui.healthy()
    ref, account = _bid(ctx)
    done = project.bid("advance", ref)
    assert done.returncode == 0, done.stderr
    assert _state(ctx, ref) == "qualification"
    with sqlite3.connect(project.prefect_home / "prefect.db") as db:
        rows = db.execute(
            "SELECT name, tags FROM flow_run WHERE name = ?", (f"{ref} · qualification",)
        )
        found = [tags for _, tags in rows if f"account:{account}" in tags]
    assert len(found) == 1
    assert not (project.prefect_home / "bid-ui.json").exists()
