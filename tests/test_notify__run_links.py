"""A Slack message links the bid's newest run in the Prefect UI (orchestrator/slack/notify.py).

The production stack's Prefect server is behind a password: the lookup signs in with
PREFECT_API_AUTH_STRING (without it the server refused every lookup and no message had a
link). With the task workers carrying bids on, a bid's runs are task runs: the link is the
task run's page. A move notifies several people: the link is looked up once for them.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

from orchestrator.config import Settings
from orchestrator.context import Context
from orchestrator.slack import notify
from tests.factories import new_bid

PASSWORD = "bid:s3cret"


class FakePrefect:
    """POST /api/{flow_runs,task_runs}/filter behind basic auth, counting the lookups."""

    def __init__(self) -> None:
        self.lookups: list[tuple[str, bool]] = []
        self.task_runs = [{"id": "7f3c"}]
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                expected = "Basic " + base64.b64encode(PASSWORD.encode()).decode()
                signed = self.headers.get("Authorization") == expected
                outer.lookups.append((self.path, signed))
                if not signed:
                    self.send_response(401)
                    self.end_headers()
                    return
                kind = self.path.removeprefix("/api/").removesuffix("/filter")
                tags = body.get(kind, {}).get("tags", {}).get("all_", [])
                runs: list[Any] = outer.task_runs if kind == "task_runs" else []
                payload = json.dumps(runs if tags == ["opp:OPP-0001"] else []).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def prefect() -> Iterator[FakePrefect]:
    server = FakePrefect()
    notify._RUN_LINKS.clear()
    yield server
    server.server.shutdown()
    notify._RUN_LINKS.clear()


def _settings(settings: Settings, prefect: FakePrefect, dispatch: str) -> Settings:
    return replace(
        settings,
        prefect_ui_url=prefect.url,
        prefect_api_url=f"{prefect.url}/api",
        flow_dispatch=dispatch,
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_link_signs_in_and_names_the_task_run_of_a_bid_on_the_task_workers(
    settings: Settings, prefect: FakePrefect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", PASSWORD)
    settings = _settings(settings, prefect, "tasks")
    link = notify.run_link(settings, "OPP-0001")
    assert link == f"{prefect.url}/runs/task-run/7f3c"
    assert prefect.lookups == [("/api/task_runs/filter", True)]
    # the next people told of the same move get the same link, looked up once
    assert notify.run_link(settings, "OPP-0001") == link
    assert len(prefect.lookups) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_flow_runs_first_then_task_runs_and_none_without_a_run(
    settings: Settings, prefect: FakePrefect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", PASSWORD)
    settings = _settings(settings, prefect, "auto")
    assert notify.run_link(settings, "OPP-0001") == f"{prefect.url}/runs/task-run/7f3c"
    assert [path for path, _ in prefect.lookups] == [
        "/api/flow_runs/filter",
        "/api/task_runs/filter",
    ]
    assert notify.run_link(settings, "OPP-0002") is None  # no run of that bid: no link


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_refused_lookup_is_no_link_not_an_error(
    settings: Settings, prefect: FakePrefect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_AUTH_STRING", raising=False)
    settings = _settings(settings, prefect, "tasks")
    assert notify.run_link(settings, "OPP-0001") is None
    assert prefect.lookups == [("/api/task_runs/filter", False)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_run_carrying_the_bid_here_is_its_link_without_a_lookup(
    settings: Settings, prefect: FakePrefect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", PASSWORD)
    settings = _settings(settings, prefect, "tasks")
    notify.running_in(settings, "OPP-0001", "c0ffee")
    assert notify.run_link(settings, "OPP-0001") == f"{prefect.url}/runs/task-run/c0ffee"
    assert prefect.lookups == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_door_that_hands_the_bid_to_the_task_workers_links_that_task_run_without_a_lookup(
    ctx: Context, prefect: FakePrefect, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Slack app hands a bid over after a go/no-go or the last approval, then delivers
    the messages of that answer: they link the run it just started."""
    from flows import tasks
    from orchestrator.runtime import prefect_runner

    monkeypatch.setenv("PREFECT_API_AUTH_STRING", PASSWORD)
    ctx.settings = _settings(ctx.settings, prefect, "tasks")
    ref = new_bid(ctx, 0)
    handed: list[dict[str, Any]] = []

    class Carry:
        def with_options(self, **options: Any) -> Carry:
            return self

        def delay(self, **parameters: Any) -> Any:
            handed.append(parameters)
            return SimpleNamespace(task_run_id="5eed")

    monkeypatch.setattr(tasks, "carry_bid", Carry())
    said = prefect_runner.start_on_task_workers(ctx, ref, "dana@example.com")
    assert handed == [{"ref": ref, "actor": "dana@example.com"}]
    assert "task run 5eed" in said
    assert notify.run_link(ctx.settings, ref) == f"{prefect.url}/runs/task-run/5eed"
    assert prefect.lookups == []
