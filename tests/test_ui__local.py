"""Which Prefect a `bid` command uses, and that reading commands never import Prefect."""

from __future__ import annotations

import fcntl
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.config import Settings, load_settings
from orchestrator.errors import PrefectUnavailable
from orchestrator.runtime import prefect_env, prefect_home
from tests.factories import new_bid
from tests.support.prefect_server import REPO, free_port


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: what is tested here does not depend on the database."""
    return f"sqlite:///{tmp_path / 'bid.db'}"


def _settings(tmp_path: Path, **env: str) -> Settings:
    return load_settings(
        {
            "BID_DATA_DIR": str(tmp_path / ".bid"),
            "BID_UI_PORT": str(free_port()),
            "BID_AUTOSTART": "0",
            **env,
        },
        cwd=tmp_path,
    )


class _Health(http.server.BaseHTTPRequestHandler):
    keeps: str | None = None
    """The service id this pretend Prefect keeps (its `bid_service_id` variable)."""

    def do_GET(self) -> None:
        if self.path == "/api/variables/name/bid_service_id" and _Health.keeps:
            body = json.dumps({"name": "bid_service_id", "value": _Health.keeps}).encode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()
        self.wfile.write(b"true")

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def health_server() -> Iterator[int]:
    """Something that answers like a Prefect server's health endpoint."""
    _Health.keeps = None
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_a_user_set_api_url_always_wins(tmp_path: Path, health_server: int) -> None:
    settings = _settings(
        tmp_path, PREFECT_API_URL="http://prefect.example:4200/api", BID_UI_PORT=str(health_server)
    )
    target = prefect_env.resolve(settings)
    assert (target.mode, target.api_url) == ("server", "http://prefect.example:4200/api")


def test_a_running_ui_is_found_by_its_recorded_port(tmp_path: Path, health_server: int) -> None:
    settings = _settings(tmp_path)
    settings.prefect_home.mkdir(parents=True)
    prefect_env.state_path(settings).write_text(json.dumps({"port": health_server}))
    _Health.keeps = prefect_home.service_id(settings, create=True)
    target = prefect_env.resolve(settings)
    assert target.mode == "local"
    assert target.api_url == f"http://127.0.0.1:{health_server}/api"


def test_a_healthy_prefect_that_keeps_another_folders_id_is_never_used(
    tmp_path: Path, health_server: int
) -> None:
    """Another folder's (or a stranger's) Prefect on the recorded or the default port is not
    this folder's: the command runs on its own temporary server instead of posting there."""
    settings = _settings(tmp_path, BID_UI_PORT=str(health_server))
    settings.prefect_home.mkdir(parents=True)
    prefect_env.state_path(settings).write_text(json.dumps({"port": health_server}))
    own = prefect_home.service_id(settings, create=True)
    assert own and len(own) == 32
    assert prefect_home.service_id_path(settings).stat().st_mode & 0o777 == 0o600
    for kept in (None, "0" * 32):  # a Prefect knowing no id; one of another folder
        _Health.keeps = kept
        target = prefect_env.resolve(settings)
        assert target.mode == "temporary", kept
        prefect_env._HELD_LOCKS.pop().close()
    _Health.keeps = own
    assert prefect_env.resolve(settings).mode == "local"


def test_nobody_serving_means_the_temporary_server_under_a_shared_lock(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    target = prefect_env.resolve(settings)
    assert (target.mode, target.fresh_home) == ("temporary", True)
    ui_would_wait = pytest.raises(BlockingIOError)
    with prefect_env.lock_path(settings).open("a+") as other, ui_would_wait:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    handle = prefect_env._HELD_LOCKS.pop()
    handle.close()


def test_a_ui_holding_the_lock_without_answering_is_an_error(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    settings.prefect_home.mkdir(parents=True)
    with prefect_env.lock_path(settings).open("a+") as ui_lock:
        fcntl.flock(ui_lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(PrefectUnavailable, match="does not answer"):
            prefect_env.resolve(settings, wait_s=0.5)


def test_prefect_home_is_the_projects_unless_the_user_set_one(tmp_path: Path) -> None:
    assert _settings(tmp_path).prefect_home == tmp_path / ".bid" / "prefect"
    own = _settings(tmp_path, PREFECT_HOME=str(tmp_path / "mine"))
    assert own.prefect_home == tmp_path / "mine"
    environment = prefect_env.base_environment(own)
    assert environment["PREFECT_HOME"] == str(tmp_path / "mine")
    assert environment["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert environment["DO_NOT_TRACK"] == "1"


READ_COMMANDS = [
    ["status", "OPP-0001"],
    ["list"],
    ["history", "OPP-0001"],
    ["explain", "OPP-0001"],
    ["outbox"],
    ["deadlines"],
    ["funnel"],
]


def test_reading_commands_never_import_prefect(ctx, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    new_bid(ctx)
    script = (
        "import sys, json\n"
        "from orchestrator.cli.app import main\n"
        f"codes = [main(args) for args in {READ_COMMANDS!r}]\n"
        "print(json.dumps([codes, sorted(m for m in sys.modules if m.split('.')[0] in "
        "('prefect', 'flows'))]))\n"
    )
    env = {
        "BID_DATABASE_URL": ctx.settings.database_url,
        "BID_DATA_DIR": str(tmp_path / ".bid"),
        "BID_RULES_DIR": str(REPO / "rules"),
        "BID_TEMPLATES_DIR": str(REPO / "templates"),
        "PYTHONPATH": str(REPO),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    codes, imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert codes == [0] * len(READ_COMMANDS), done.stderr
    assert imported == []
