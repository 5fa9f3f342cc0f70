"""One service per folder, provably: two folders' services at once on one machine, and a
stranger (any HTTP server that answers like Prefect's health check) on the port both folders
are configured with. Each service takes a free port and says so; each folder's runs land in
its own Prefect; each `bid server status` tells the truth, in those folders and in a third
folder that runs none. The stranger sits on the folders' configured default port (BID_UI_PORT)
rather than on 4200 itself, which other test sessions of this machine may hold.
"""

from __future__ import annotations

import http.server
import json
import signal
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from orchestrator.runtime import prefect_env, prefect_home, service
from tests.support import prefect_server
from tests.support.prefect_server import BidProject, flow_runs, free_port, wait_for

pytestmark = [pytest.mark.prefect_server, pytest.mark.slow]

FIXTURES = Path(__file__).resolve().parent / "scenarios" / "service"


class _Stranger(http.server.BaseHTTPRequestHandler):
    """Answers every GET with 200, like a healthy Prefect of someone else."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def stranger() -> Iterator[int]:
    server = http.server.HTTPServer(("127.0.0.1", free_port()), _Stranger)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _bid(project: BidProject, account: str) -> str:
    """A bid of `account` in pre-qualification, made in-process (no service involved)."""
    text = (FIXTURES / "opportunity.yaml").read_text()
    path = project.root / "opportunity.yaml"
    path.write_text(text.replace("Service Test Logistics", account))
    made = project.bid("opportunity", "create", str(path), BID_THIN="0", BID_FLOW_RUNNER="inline")
    assert made.returncode == 0, made.stderr
    ref = made.stdout.strip()
    sites = project.bid(
        "sites", "import", ref, str(FIXTURES / "sites.csv"), BID_THIN="0", BID_FLOW_RUNNER="inline"
    )
    assert sites.returncode == 0, sites.stderr
    return ref


def _status(project: BidProject) -> tuple[int, dict[str, object]]:
    done = project.bid("server", "status", "--json")
    return done.returncode, json.loads(done.stdout)


def test_two_folders_and_a_stranger_on_the_default_port_each_keep_to_their_own(
    tmp_path: Path, stranger: int
) -> None:
    folders = [BidProject(tmp_path / name, stranger) for name in ("a", "b", "c")]
    for folder in folders:
        folder.root.mkdir()
    a, b, c = folders
    running: list[subprocess.Popen[str]] = []
    try:
        # neither names a port: the default (taken by the stranger) gives way to a free one
        running = [
            folder.start("server", "--no-flows", "--web-port", str(free_port()))
            for folder in (a, b)
        ]
        infos = [
            wait_for(partial(service.status, folder.settings()), 240, f"{folder.root.name} up")
            for folder in (a, b)
        ]
        ports = {info.prefect_port for info in infos}
        assert len(ports) == 2 and stranger not in ports
        ids = [prefect_home.service_id(folder.settings()) for folder in (a, b)]
        assert ids[0] != ids[1] and [info.service_id for info in infos] == ids
        for folder, info in zip((a, b), infos, strict=True):
            log = "".join(p.read_text() for p in folder.root.glob("server-*.log"))
            assert f"port {stranger} is in use" in log and f"takes {info.prefect_port}" in log
            prefect_server._AUTH_FILES[info.prefect_port or 0] = folder.root / ".bid/prefect-auth"

        refs = {"a": _bid(a, "Alpha Freight"), "b": _bid(b, "Bravo Retail")}
        # in-process (Prefect chosen by this folder's identity) and through the thin `bid`
        assert a.bid("advance", refs["a"], BID_THIN="0").returncode == 0
        forwarded = subprocess.run(
            [prefect_server.PYTHON, "-m", "orchestrator.cli.thin", "advance", refs["b"]],
            cwd=b.root,
            env=b.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert forwarded.returncode == 0, forwarded.stderr
        api_log = (Path(infos[1].log_dir) / "api.log").read_text()
        assert "POST /api/v1/commands/advance 200" in api_log  # B's service ran it
        for folder, info, account in zip(
            (a, b), infos, ("Alpha Freight", "Bravo Retail"), strict=True
        ):
            accounts = {
                tag
                for run in flow_runs(info.prefect_api_url)
                for tag in run["tags"]
                if tag.startswith("account:")
            }
            assert accounts == {f"account:{account}"}, folder.root.name

        for folder, info in zip((a, b), infos, strict=True):
            code, said = _status(folder)
            assert code == 0 and said["running"] is True
            assert said["service_id"] == info.service_id
            assert said["prefect_port"] == info.prefect_port
        code, said = _status(c)
        assert code == 1 and said["running"] is False
        assert f"port {stranger} is used by a Prefect server that is not this folder's" in str(
            said["note"]
        )
        # a folder whose record points at another folder's Prefect does not take it for its own
        c.prefect_home.mkdir(parents=True)
        prefect_home.state_path(c.settings()).write_text(
            json.dumps({"port": infos[0].prefect_port})
        )
        prefect_home.service_id(c.settings(), create=True)
        assert not prefect_env.answers_for(c.settings(), infos[0].prefect_api_url)
        assert prefect_env.answers_for(a.settings(), infos[0].prefect_api_url)
        assert _status(c)[0] == 1
    finally:
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in running:
            process.wait(timeout=90)


def test_the_demo_leaves_no_service_behind_unless_asked_to_keep_it(tmp_path: Path) -> None:
    """`bid demo` in a new folder (autostart on, Prefect the runner): its steps run in
    process, no service is started, and `bid server status` says none runs afterwards."""
    project = BidProject(tmp_path, free_port())
    done = project.bid("demo", BID_AUTOSTART="1", timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "starting the local bid service" not in done.stderr
    assert "bid demo --keep-server" in done.stdout
    said_flat = " ".join(done.stdout.split())  # the terminal wraps long lines
    assert "http://127.0.0.1:4300/bids/OPP-0001" in said_flat  # where the workspace will be
    code, said = _status(project)
    assert code == 1 and said["running"] is False
    assert not (project.root / ".bid" / "server.log").exists()
