"""The meeting packs and the renewal scan as Prefect flows on the session's temporary server:
each run writes its files and leaves its markdown artifact; the deployments carry the
schedules the issue names (Monday 08:00 for the weekly pack)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlmodel import Session

from orchestrator.config import load_settings
from orchestrator.context import Context
from orchestrator.runtime import prefect_env
from orchestrator.runtime.prefect_runner import PrefectRunner
from tests.factories_portfolio import build_portfolio as factory
from tests.support.prefect_server import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: these tests are about Prefect; the packs run on both databases elsewhere."""
    return f"sqlite:///{tmp_path / 'bid.db'}"


@pytest.fixture(scope="module")
def api_url() -> str:
    settings = load_settings({**os.environ, "BID_UI_PORT": str(free_port())})
    target = prefect_env.configure(settings)
    if target.mode != prefect_env.PrefectMode.TEMPORARY:
        pytest.skip(f"Prefect is configured for {target.describe()} in this process")
    from orchestrator.runtime.prefect_runner import start_temporary_server

    start_temporary_server(target, PrefectRunner().console)
    from prefect.server.api.server import SubprocessASGIServer

    return SubprocessASGIServer().api_url


def test_the_pack_flows_write_files_and_leave_markdown_artifacts(
    ctx: Context, api_url: str
) -> None:
    import httpx

    from flows.packs import (
        QUALIFICATION_ARTIFACT,
        RENEWALS_ARTIFACT,
        WEEKLY_ARTIFACT,
        qualification_meeting_pack,
        renewal_scan,
        weekly_top_accounts_pack,
    )

    with Session(ctx.engine) as session:
        spec = factory(session, ctx.clock())
        session.commit()
    runner = PrefectRunner()
    weekly = runner.run(ctx, lambda: weekly_top_accounts_pack(pdf=False))
    qualification = runner.run(ctx, lambda: qualification_meeting_pack(pdf=False))
    renewals = runner.run(ctx, renewal_scan)
    top = sorted(a.name for a in spec.accounts if a.tier == "top")
    assert weekly["week"] == "2026-W48" and weekly["totals"]["accounts"] == len(top)
    assert Path(weekly["html"]).is_file() and Path(qualification["html"]).is_file()
    assert renewals["opened"] and len(renewals["opened"]) == len(set(renewals["opened"]))
    reply = httpx.post(
        f"{api_url}/artifacts/latest/filter",
        json={
            "artifacts": {
                "key": {"any_": [WEEKLY_ARTIFACT, QUALIFICATION_ARTIFACT, RENEWALS_ARTIFACT]}
            }
        },
        timeout=10,
    )
    reply.raise_for_status()
    artifacts = {a["key"]: a for a in reply.json()}
    assert all(artifacts[k]["type"] == "markdown" for k in artifacts)
    assert all(f"| {name} |" in artifacts[WEEKLY_ARTIFACT]["data"] for name in top)
    assert "| bid manager | open bids | capacity |" in artifacts[QUALIFICATION_ARTIFACT]["data"]
    assert all(ref in artifacts[RENEWALS_ARTIFACT]["data"] for ref in renewals["opened"])


def test_the_packs_and_the_scan_are_scheduled_deployments() -> None:
    from flows.deployments import all_deployments

    schedules = {
        d.name if d.flow_name is None else d.flow_name: [
            (s.schedule.cron, s.schedule.timezone)  # type: ignore[union-attr]
            for s in d.schedules or []
        ]
        for d in all_deployments()
        if d.flow_name in ("weekly-top-accounts-pack", "qualification-pack", "renewal-scan")
    }
    assert schedules == {
        "weekly-top-accounts-pack": [("0 8 * * 1", "Europe/Brussels")],
        "qualification-pack": [("0 9 * * 4", "Europe/Brussels")],
        "renewal-scan": [("0 6 * * *", "Europe/Brussels")],
    }
