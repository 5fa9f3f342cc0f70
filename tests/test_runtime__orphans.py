"""The supervisor owns its children (issue 23): a `bid server` killed with SIGKILL leaves
nothing running once `bid server stop` or a restart has looked, and a restart on the same
port works. Leftovers are known by the mark the supervisor recorded, never by name: a
process that merely looks alike is not touched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.config import load_settings
from orchestrator.runtime import service
from tests.support.prefect_server import BidProject, free_port, wait_for


def _marked(mark: str) -> list[int]:
    """Every process carrying this service mark (ours, whatever it is called)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"{service.MARK_ENV}={mark}".encode() in environ:
            found.append(int(name))
    return found


def _sleeper(mark: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)"],
        env={**os.environ, service.MARK_ENV: mark},
        start_new_session=True,
    )


def test_stop_leftovers_stops_the_recorded_mark_and_nothing_else(tmp_path: Path) -> None:
    settings = load_settings({"BID_DATA_DIR": str(tmp_path / ".bid")}, cwd=tmp_path)
    settings.data_dir.mkdir()
    ours, stranger = _sleeper("a" * 32), _sleeper("b" * 32)
    try:
        service.children_path(settings).write_text(
            json.dumps({"supervisor": 999_999, "mark": "a" * 32, "children": {"api": ours.pid}})
        )
        assert service.leftovers(settings) == [ours.pid]
        stopped = service.stop(settings)  # what `bid server stop` calls
        assert stopped == 999_999  # the dead supervisor, named
        assert ours.wait(timeout=10) == -signal.SIGTERM
        assert stranger.poll() is None  # another mark: not ours, untouched
        assert not service.children_path(settings).exists()
        assert service.stop(settings) is None  # nothing left: nothing to say
    finally:
        for process in (ours, stranger):
            if process.poll() is None:
                process.kill()
                process.wait()


def test_a_reused_pid_is_not_signalled(tmp_path: Path) -> None:
    settings = load_settings({"BID_DATA_DIR": str(tmp_path / ".bid")}, cwd=tmp_path)
    settings.data_dir.mkdir()
    stranger = _sleeper("c" * 32)
    try:  # the record names the stranger's PID, as if the old child's PID had been reused
        service.children_path(settings).write_text(
            json.dumps({"supervisor": 1, "mark": "d" * 32, "children": {"api": stranger.pid}})
        )
        assert service.stop_leftovers(settings) == []
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


# --- a real `bid server`, killed --------------------------------------------------------------


def _start(project: BidProject, port: int) -> tuple[subprocess.Popen[str], str]:
    process = project.start("server", "--port", str(port))

    def up() -> str | None:
        if process.poll() is not None:
            raise AssertionError(f"bid server exited with {process.returncode}")
        info = service.status(project.settings())
        if info is None or not info.url.endswith(f":{port}"):
            return None
        record = json.loads(service.children_path(project.settings()).read_text())
        return str(record["mark"])

    return process, wait_for(up, 180, "bid server to answer")


def _kill_supervisor(process: subprocess.Popen[str], mark: str) -> None:
    assert len(_marked(mark)) >= 2  # Prefect and the CLI service at least
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


@pytest.mark.prefect_server
@pytest.mark.slow
def test_after_a_sigkill_bid_server_stop_leaves_no_child(tmp_path: Path) -> None:
    project = BidProject(tmp_path, free_port())
    process, mark = _start(project, project.ui_port)
    _kill_supervisor(process, mark)
    stopped = project.bid("server", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert _marked(mark) == []
    assert project.bid("server", "status").returncode == 1


@pytest.mark.prefect_server
@pytest.mark.slow
def test_a_restart_after_a_sigkill_runs_on_the_same_port_with_one_prefect(tmp_path: Path) -> None:
    project = BidProject(tmp_path, free_port())
    first, old = _start(project, project.ui_port)
    _kill_supervisor(first, old)
    second, new = _start(project, project.ui_port)  # the port the orphans held
    try:
        assert new != old
        assert _marked(old) == []
        prefects = [
            pid
            for pid in _marked(new)
            if b"prefect" in Path(f"/proc/{pid}/cmdline").read_bytes()
            and b"server" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(prefects) >= 1
        assert all(pid in _marked(new) for pid in prefects)  # no server of the dead one
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(timeout=60)
    deadline = time.monotonic() + 10
    while _marked(new) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _marked(new) == []  # a clean stop leaves nothing either


def test_a_child_dies_with_its_supervisor_even_by_sigkill(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG, as `Child.start` sets it: the kernel stops the child when the
    process that started it is killed (no handler runs in a SIGKILLed supervisor)."""
    mark = "e" * 32
    pid_file = tmp_path / "child.pid"
    supervisor = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys, time\n"
            "from orchestrator.runtime.service import _die_with_parent\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'],\n"
            "    start_new_session=True, preexec_fn=_die_with_parent(os.getpid()))\n"
            f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
            "time.sleep(300)\n",
        ],
        env={**os.environ, service.MARK_ENV: mark},
    )
    try:
        wait_for(lambda: pid_file.exists() and pid_file.read_text(), 30, "the child to start")
        assert len(_marked(mark)) == 2  # the supervisor and its child
        supervisor.kill()
        supervisor.wait(timeout=10)
        wait_for(lambda: _marked(mark) == [], 10, "the child to die with its supervisor")
    finally:
        for pid in _marked(mark):
            os.kill(pid, signal.SIGKILL)
