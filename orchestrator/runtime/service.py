"""`bid server`: one local service per project folder, supervised.

It starts and watches, for the folder's data:

    prefect   `prefect server start` (through orchestrator.runtime.prefect_server): the Prefect
              UI and API on the chosen host and port
    flows     `bid serve-flows`: every flow as a deployment (forms in the UI), the deadline
              watch on its schedule
    api       the JSON API (`orchestrator.api.server`, `/api/v1`): the thin `bid` sends its
              commands here as JSON, in one warm process, authenticated per person
    slack     `bid serve`: the Slack endpoint, when SLACK_SIGNING_SECRET is set

A child that dies is logged and restarted (with a growing pause); Ctrl-C or SIGTERM stops
them all. The supervisor owns its children: each runs in its own process group with
`PR_SET_PDEATHSIG`, so it is told to stop when the supervisor dies, even by SIGKILL; each
carries a mark in its environment (`BID_SERVICE_MARK`, inherited by what it starts), and the
supervisor records the mark and the children's PIDs in `<data dir>/server.children.json`. A
restart and `bid server stop` find leftovers by that mark (read from /proc/PID/environ, so a
PID reused by someone else's process is never signalled) and stop them, so the port is free
again and two Prefect servers never run over one Prefect database.

The supervisor holds `<data dir>/server.lock` while it runs and writes where everything is
to `<data dir>/server.json`, which `bid server status|stop`, the thin CLI and the autostart
read. The folder's service has an identity (`<data dir>/service.id`, made once, mode 0600):
its Prefect server keeps it (a Prefect variable, given once the server answers) and its JSON
API answers it, so `status` and every command tell this folder's service from another
folder's or a stranger's server on the same port. When the default port is taken and none
was asked for, a free one is chosen and said. It also holds the Prefect home's lock (as
`bid ui` did), so no temporary Prefect server ever writes the same SQLite file. Nothing
here imports Prefect.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any

from orchestrator.config import Settings
from orchestrator.errors import BidError, PrefectUnavailable
from orchestrator.runtime import prefect_home
from orchestrator.runtime.prefect_server import COMMAND as PREFECT_SERVER

STATE_FILE = "server.json"
LOCK_FILE = "server.lock"
AUTOSTART_LOCK_FILE = "autostart.lock"
ACTIVITY_FILE = "server.activity"
CHILDREN_FILE = "server.children.json"
MARK_ENV = "BID_SERVICE_MARK"
_PR_SET_PDEATHSIG = 1
LOG_DIR = "logs"
BACKGROUND_LOG = "server.log"
PREFECT_START_TIMEOUT_S = 180.0
CHILD_START_TIMEOUT_S = 120.0
IDENTITY_TIMEOUT_S = 60.0
STOP_GRACE_S = 20.0
TAKEOVER_WAIT_S = 60.0
RESTART_PAUSE_MAX_S = 30.0
PYTHON = sys.executable
BID = (PYTHON, "-m", "orchestrator.cli.app")


def state_path(settings: Settings) -> Path:
    return settings.data_dir / STATE_FILE


def activity_path(settings: Settings) -> Path:
    return settings.data_dir / ACTIVITY_FILE


@dataclass(frozen=True)
class ServiceInfo:
    """Where a running service is, as `server.json` says."""

    pid: int
    url: str
    """The Prefect UI (and, under /api, its API)."""
    cli_url: str
    """The folder's JSON API (its base without `/api/v1`): the thin `bid` and clients use it."""
    slack_url: str | None
    database_url: str
    log_dir: str
    started_at: str
    workspace_url: str | None = None
    """The web workspace, where people who never open a terminal carry their bids."""
    service_id: str | None = None
    """The folder's service identity, which its Prefect and its JSON API answer."""
    prefect_port: int | None = None

    @property
    def prefect_api_url(self) -> str:
        return f"{self.url}/api"

    @property
    def api_url(self) -> str:
        """The JSON API (`POST /commands/{name}`, `GET /bids`, `GET /openapi.json`)."""
        return f"{self.cli_url}/api/v1"


def read_info(settings: Settings) -> ServiceInfo | None:
    """The service recorded for this folder, while its supervisor holds the service lock."""
    try:
        data = json.loads(state_path(settings).read_text(encoding="utf-8"))
        info = ServiceInfo(**data)
    except (OSError, ValueError, TypeError):
        return None
    return info if _lock_held(settings) else None


def _lock_held(settings: Settings) -> bool:
    """True while a supervisor holds `server.lock` (a stopped one, even unreaped, does not)."""
    path = settings.data_dir / LOCK_FILE
    try:
        handle = path.open("a+", encoding="utf-8")
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False


def healthy(url: str, timeout: float = 0.5) -> bool:
    """True when `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return int(reply.status) == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False


def api_identity(cli_url: str, timeout: float = 1.0) -> str | None:
    """The service id the JSON API at `cli_url` answers on `/health`, or None."""
    try:
        with urllib.request.urlopen(f"{cli_url}/health", timeout=timeout) as reply:
            answer = json.loads(reply.read())
    except (OSError, urllib.error.URLError, ValueError):
        return None
    value = answer.get("service_id") if isinstance(answer, dict) else None
    return value if isinstance(value, str) else None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def browser_host(host: str) -> str:
    """The host a browser on this machine uses to reach a server bound to `host`."""
    return socket.gethostname() if host in ("0.0.0.0", "::") else host


# --- the children ------------------------------------------------------------------------------


@dataclass
class Child:
    """One supervised process."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    ready: Callable[[], bool] | None = None
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started: float = 0.0

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stopped as one
                preexec_fn=_die_with_parent(os.getpid()),
            )
        self.started = time.monotonic()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """What a child runs between fork and exec: ask the kernel for SIGTERM when the
    supervisor dies (Linux `PR_SET_PDEATHSIG`); if it died already, go."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def set_death_signal() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the supervisor died before the call: do not linger
            os.kill(os.getpid(), signal.SIGKILL)

    return set_death_signal


# --- leftovers: children of a supervisor that died ---------------------------------------------


def children_path(settings: Settings) -> Path:
    return settings.data_dir / CHILDREN_FILE


def _marked(pid: int, mark: str) -> bool:
    """True when process `pid` carries this service's mark (so it is ours, not a reused PID)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"{MARK_ENV}={mark}".encode() in environ.split(b"\0")


def _processes() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def leftovers(settings: Settings) -> list[int]:
    """PIDs still running with the mark the folder's last supervisor recorded (its children
    and what they started), when that supervisor no longer holds the service lock."""
    try:
        data = json.loads(children_path(settings).read_text(encoding="utf-8"))
        mark = str(data["mark"])
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if not mark or _lock_held(settings):
        return []
    recorded = [int(pid) for pid in data.get("children", {}).values()]
    found = [pid for pid in recorded if _marked(pid, mark)]
    found += [pid for pid in _processes() if pid not in found and _marked(pid, mark)]
    return [pid for pid in found if pid != os.getpid()]


def stop_leftovers(settings: Settings, grace: float = STOP_GRACE_S) -> list[int]:
    """Stop what a dead supervisor left running: SIGTERM to each process (and its process
    group), SIGKILL to what is left after `grace`; the PIDs found. The record is forgotten
    once nothing carries its mark."""
    found = leftovers(settings)
    if not found:
        return []
    mark = str(json.loads(children_path(settings).read_text(encoding="utf-8"))["mark"])

    def alive() -> list[int]:
        return [pid for pid in _processes() if _marked(pid, mark)]

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        for pid in alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if os.getpgid(pid) == pid:
                    os.killpg(pid, sig)
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if not alive():
            break
    if not alive():
        with contextlib.suppress(OSError):
            children_path(settings).unlink()
    return found


DEFAULT_WEB_PORT = 4300
"""The web workspace's port (`bid server --web-port`); a taken one gives a free port."""


@dataclass
class Service:
    """The supervisor's view of one folder's service."""

    settings: Settings
    host: str
    port: int
    say: Callable[[str], None]
    idle_timeout_s: float | None = None
    serve_flows: bool = True
    """False when the workers run elsewhere (`bid serve-flows`, a work pool)."""
    children: list[Child] = field(default_factory=list)
    cli_port: int = 0
    slack_port: int = 3000
    slack_host: str = "127.0.0.1"
    """Slack's endpoint has its own interface: exposing the UI does not expose it, nor back."""
    web_port: int = DEFAULT_WEB_PORT
    """The web workspace's port; a free one is taken when it is in use."""
    _stop: list[str] = field(default_factory=list)
    _locks: list[IO[str]] = field(default_factory=list)
    mark: str = field(default_factory=lambda: secrets.token_hex(16))
    """In every child's environment (`BID_SERVICE_MARK`): how a leftover is known as ours."""
    port_asked: bool = True
    """False when nobody chose the port (the default): a taken one is replaced by a free one."""

    @property
    def url(self) -> str:
        return f"http://{browser_host(self.host)}:{self.port}"

    @property
    def local_api_url(self) -> str:
        """The Prefect API as the children on this machine reach it."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}/api"

    @property
    def cli_url(self) -> str:
        return f"http://127.0.0.1:{self.cli_port}"

    @property
    def prefect_auth(self) -> str:
        """The basic-auth string of this folder's Prefect server (made on first use)."""
        return prefect_home.ensure_auth_string(self.settings)

    @property
    def workspace_url(self) -> str:
        return f"http://{browser_host(self.host)}:{self.web_port}"

    @property
    def log_dir(self) -> Path:
        return self.settings.data_dir / LOG_DIR

    def _env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("PREFECT_API_URL", None)
        env.update(prefect_home.base_environment(self.settings))
        env["BID_AUTOSTART"] = "0"  # a child never starts another service
        env["BID_THIN"] = "0"  # nor sends its commands back here
        env[MARK_ENV] = self.mark
        env["PREFECT_API_AUTH_STRING"] = self.prefect_auth  # the folder's processes sign in
        # the folder's server takes no CSRF tokens (its API is behind the password, JSON
        # only): its clients need not ask for one before every first write
        env["PREFECT_CLIENT_CSRF_SUPPORT_ENABLED"] = "false"
        env.setdefault("BID_WORKSPACE_URL", self.workspace_url)  # Slack links bids' pages there
        env.update(extra)
        return env

    def _start(self, child: Child) -> None:
        """Start a child and record its PID (with the mark) before anything else."""
        child.start()
        self._record_children()

    def _record_children(self) -> None:
        data = {
            "supervisor": os.getpid(),
            "mark": self.mark,
            "children": {c.name: c.process.pid for c in self.children if c.process is not None},
        }
        path = children_path(self.settings)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        tmp.replace(path)

    def build_children(self) -> None:
        if not port_free(self.host, self.web_port):  # first: every child links to its URL
            taken, self.web_port = self.web_port, free_port(self.host)
            self.say(f"port {taken} is in use: the workspace takes {self.web_port}")
        prefect = Child(
            "prefect",
            [
                *PREFECT_SERVER,  # `prefect server`, the server's fixes applied
                "start",
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--analytics-off",
            ],
            self._env(
                PREFECT_SERVER_API_HOST=self.host,
                PREFECT_SERVER_API_PORT=str(self.port),
                PREFECT_UI_API_URL=f"{self.url}/api",
                PREFECT_UI_URL=self.url,
                # behind its password, and no page of another origin may call it (the
                # UI's own origin and the workspace's only, not Prefect's default `*`)
                PREFECT_SERVER_API_AUTH_STRING=self.prefect_auth,
                PREFECT_SERVER_CORS_ALLOWED_ORIGINS=f"{self.url},{self.workspace_url}",
                PREFECT_SERVER_CSRF_PROTECTION_ENABLED="false",  # see _env
            ),
            self.log_dir / "prefect.log",
            ready=lambda: healthy(f"{self.local_api_url}/health"),
        )
        with_api = self._env(PREFECT_API_URL=self.local_api_url, PREFECT_UI_URL=self.url)
        flows = Child("flows", [*BID, "serve-flows"], with_api, self.log_dir / "flows.log")
        self.cli_port = free_port()
        api = Child(
            "api",
            [PYTHON, "-m", "orchestrator.api.server", "--port", str(self.cli_port)],
            self._env(PREFECT_UI_URL=self.url),
            self.log_dir / "api.log",
            ready=lambda: healthy(f"{self.cli_url}/health"),
        )
        local_web = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        web = Child(
            "web",
            [
                PYTHON,
                "-m",
                "orchestrator.web.server",
                "--host",
                self.host,
                "--port",
                str(self.web_port),
                "--prefect-url",
                self.url,
            ],
            self._env(PREFECT_UI_URL=self.url),
            self.log_dir / "web.log",
            ready=lambda: healthy(f"http://{local_web}:{self.web_port}/health"),
        )
        self.children = [prefect, flows, api] if self.serve_flows else [prefect, api]
        self.children.append(web)
        if self.settings.slack_signing_secret:
            slack = Child(
                "slack",
                [*BID, "serve", "--host", self.slack_host, "--port", str(self.slack_port)],
                with_api,
                self.log_dir / "slack.log",
            )
            self.children.append(slack)

    # --- locks and the state file

    def _take_locks(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.settings.prefect_home.mkdir(parents=True, exist_ok=True)
        service_lock = (self.settings.data_dir / LOCK_FILE).open("a+", encoding="utf-8")
        try:
            fcntl.flock(service_lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            service_lock.close()
            raise BidError(
                f"another bid server holds {self.settings.data_dir / LOCK_FILE}"
            ) from None
        service_lock.seek(0)
        service_lock.truncate()
        service_lock.write(str(os.getpid()))  # who to stop while nothing else is written yet
        service_lock.flush()
        self._locks.append(service_lock)
        home_lock = prefect_home.lock_path(self.settings).open("a+", encoding="utf-8")
        deadline = time.monotonic() + TAKEOVER_WAIT_S
        while True:
            try:
                fcntl.flock(home_lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    home_lock.close()
                    raise PrefectUnavailable(
                        f"another process runs Prefect over {self.settings.prefect_home} "
                        "(a `bid` command on the temporary server, or `bid ui`); "
                        "let it finish, then start `bid server` again"
                    ) from None
                time.sleep(0.2)
        self._locks.append(home_lock)

    def _release_locks(self) -> None:
        for handle in self._locks:
            with contextlib.suppress(OSError):
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
                handle.close()
        self._locks.clear()

    def _write_state(self) -> None:
        info = {
            "pid": os.getpid(),
            "url": self.url,
            "cli_url": self.cli_url,
            "workspace_url": self.workspace_url,
            "slack_url": (
                f"http://{browser_host(self.slack_host)}:{self.slack_port}/slack/events"
                if self.settings.slack_signing_secret
                else None
            ),
            "database_url": self.settings.database_url,
            "log_dir": str(self.log_dir),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "service_id": prefect_home.service_id(self.settings),
            "prefect_port": self.port,
        }
        state_path(self.settings).write_text(json.dumps(info, indent=2), encoding="utf-8")
        # the commands that look for `bid ui` by its port find this server too
        prefect_home.state_path(self.settings).write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "port": self.port,
                    "url": self.url,
                    "service_id": prefect_home.service_id(self.settings),
                }
            ),
            encoding="utf-8",
        )
        activity_path(self.settings).touch()

    def _clear_state(self) -> None:
        for path in (state_path(self.settings), prefect_home.state_path(self.settings)):
            with contextlib.suppress(OSError):
                data = json.loads(path.read_text(encoding="utf-8"))
                if data.get("pid") == os.getpid():
                    path.unlink()

    # --- running

    def _request_stop(self, signum: int, _frame: FrameType | None) -> None:
        self._stop.append(signal.Signals(signum).name)

    def _wait_ready(self, child: Child, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not (child.ready is None or child.ready()):
            if self._stop or not child.running() or time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def _give_identity(self, identity: str, timeout: float = IDENTITY_TIMEOUT_S) -> bool:
        """Make the folder's Prefect keep the folder's id; retried while a busy server (SQLite
        locked: 503) refuses, since no command may use it before it keeps the id."""
        deadline = time.monotonic() + timeout
        while not self._stop:
            # urllib's HTTP and connection errors are OSErrors: a busy server, tried again
            with contextlib.suppress(OSError, ValueError):
                prefect_home.give_identity(self.local_api_url, self.prefect_auth, identity)
            if prefect_home.prefect_identity(self.local_api_url, self.prefect_auth) == identity:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)
        return False

    def _idle_for(self) -> float:
        try:
            last = activity_path(self.settings).stat().st_mtime
        except OSError:
            return 0.0
        return time.time() - last

    def run(self) -> int:
        """Start everything, supervise until asked to stop; the exit code for `bid server`."""
        takeover(self.settings, self.say)
        self._take_locks()
        try:
            stopped = stop_leftovers(self.settings)
            if stopped:
                self.say(
                    f"stopped {len(stopped)} process(es) a bid server that died left running "
                    f"(pids {', '.join(map(str, stopped[:8]))})"
                )
            if not port_free(self.host, self.port):
                if self.port_asked:
                    raise BidError(
                        f"port {self.port} on {self.host} is in use; choose another with --port"
                    )
                taken, self.port = self.port, free_port(self.host)
                self.say(
                    f"port {taken} is in use (not by this folder's service): "
                    f"this folder's Prefect UI takes {self.port}"
                )
        except BaseException:
            self._release_locks()
            raise
        from orchestrator.runtime.credentials import ensure_admin_token

        ensure_admin_token(self.settings)
        identity = prefect_home.service_id(self.settings, create=True) or ""
        previous = {
            sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            self.build_children()
            prefect, rest = self.children[0], self.children[1:]
            fresh = not (self.settings.prefect_home / "prefect.db").exists()
            self.say(
                "starting Prefect (a first run sets up its database, ~10 s)…"
                if fresh
                else "starting Prefect…"
            )
            self._start(prefect)
            if not self._wait_ready(prefect, PREFECT_START_TIMEOUT_S):
                if self._stop:
                    return 0
                self.say(f"the Prefect server did not start; its log: {prefect.log}")
                return 1
            if not self._give_identity(identity):
                if self._stop:
                    return 0
                self.say(
                    f"the Prefect server did not keep this folder's id; its log: {prefect.log}"
                )
                return 1
            self._write_state()  # before the children: they find their Prefect by it
            for child in rest:
                self._start(child)
            for child in rest:
                self._wait_ready(child, CHILD_START_TIMEOUT_S)
            slack = next((c for c in rest if c.name == "slack"), None)
            self.say(f"bid server for {self.settings.data_dir.parent}")
            self.say(
                f"  Prefect UI   {self.url} (its password: the line in "
                f"{prefect_home.auth_path(self.settings)})"
            )
            self.say(f"  Workspace    {self.workspace_url}")
            self.say(f"  JSON API     {self.cli_url}/api/v1 (bid commands in this folder use it)")
            if slack is not None:
                slack_url = f"http://{browser_host(self.slack_host)}:{self.slack_port}/slack/events"
                self.say(f"  Slack        {slack_url}")
            self.say(f"  logs         {self.log_dir}")
            self.say("Ctrl-C (or bid server stop) stops it")
            return self._supervise()
        finally:
            for child in reversed(self.children):
                child.stop()
            if not [pid for pid in _processes() if _marked(pid, self.mark)]:
                with contextlib.suppress(OSError):
                    children_path(self.settings).unlink()
            self._clear_state()
            self._release_locks()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _supervise(self) -> int:
        while not self._stop:
            now = time.monotonic()
            for child in self.children:
                if child.running() or child.process is None:
                    continue
                if child.next_start == 0.0:
                    code = child.process.returncode
                    pause = min(RESTART_PAUSE_MAX_S, 2.0**child.restarts)
                    if now - child.started > 60:
                        pause = 1.0  # it ran a while: a fresh failure, not a crash loop
                    child.next_start = now + pause
                    self.say(
                        f"{child.name} exited with code {code}; restarting in {pause:.0f} s "
                        f"(log: {child.log})"
                    )
                elif now >= child.next_start:
                    child.restarts += 1
                    child.next_start = 0.0
                    self._start(child)
                    self.say(f"{child.name} restarted (restart {child.restarts})")
            if self.idle_timeout_s and self._idle_for() > self.idle_timeout_s:
                self.say(f"idle for {self.idle_timeout_s:.0f} s: stopping")
                return 0
            time.sleep(0.2)
        self.say(f"stopping ({self._stop[0]})")
        return 0


def takeover(settings: Settings, say: Callable[[str], None]) -> None:
    """Stop the service that runs for this folder elsewhere, so this one takes over."""
    info = read_info(settings)
    if info is None or info.pid == os.getpid():
        return
    say(f"taking over from the bid server already running (pid {info.pid})")
    stop(settings)


def stop(settings: Settings, wait_s: float = TAKEOVER_WAIT_S) -> int | None:
    """Stop this folder's service; its pid, or None when none was running. What a supervisor
    that died left running (its children, by their recorded mark) is stopped too; then the
    dead supervisor's pid is returned."""
    info = read_info(settings)
    if info is None and _lock_held(settings):  # a supervisor still starting: stop it
        try:
            starting = int((settings.data_dir / LOCK_FILE).read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            starting = 0
        if starting > 0:
            return _stop_supervisor(settings, starting, wait_s)
    if info is None:
        try:
            data = json.loads(children_path(settings).read_text(encoding="utf-8"))
            dead = int(data["supervisor"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return dead if stop_leftovers(settings) else None
    return _stop_supervisor(settings, info.pid, wait_s)


def _stop_supervisor(settings: Settings, pid: int, wait_s: float) -> int:
    """SIGTERM to the supervisor, SIGKILL when it still holds the lock after `wait_s`."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while _lock_held(settings) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _lock_held(settings):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pid


def status(settings: Settings) -> ServiceInfo | None:
    """The running service when its Prefect and its JSON API both answer this folder's
    service id, else None (a server of another folder on the recorded port is not ours)."""
    info = read_info(settings)
    if info is None:
        return None
    identity = prefect_home.service_id(settings)
    if identity is None or info.service_id != identity:
        return None
    if not prefect_home.answers_for(settings, info.prefect_api_url):
        return None
    if api_identity(info.cli_url, timeout=2) != identity:
        return None
    return info


def foreign_on_default_port(settings: Settings) -> str | None:
    """What answers on the configured Prefect port when it is not this folder's service: a
    line for `bid server status`, or None (nothing there, or ours)."""
    url = f"http://127.0.0.1:{settings.ui_port}/api"
    if port_free("127.0.0.1", settings.ui_port) or prefect_home.answers_for(settings, url):
        return None
    kind = "a Prefect server" if healthy(f"{url}/health") else "a process"
    return f"port {settings.ui_port} is used by {kind} that is not this folder's service"


def start_in_background(
    settings: Settings, say: Callable[[str], None], timeout: float = PREFECT_START_TIMEOUT_S
) -> ServiceInfo:
    """Start `bid server` for this folder as a background process and wait until it answers.

    It stops itself after `settings.server_idle_timeout_s` without a command.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # two commands starting at once: the second waits here, then finds the first's service
    with (settings.data_dir / AUTOSTART_LOCK_FILE).open("a+", encoding="utf-8") as guard:
        fcntl.flock(guard.fileno(), fcntl.LOCK_EX)
        info = status(settings)
        if info is not None:
            return info
        return _spawn(settings, say, timeout)


def spawn(settings: Settings, say: Callable[[str], None]) -> subprocess.Popen[bytes]:
    """Start `bid server` for this folder in the background and return at once (its port:
    the configured one, else a free one, said)."""
    log = settings.data_dir / BACKGROUND_LOG
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    port = settings.ui_port
    if not port_free("127.0.0.1", port):
        port = free_port()
        say(
            f"port {settings.ui_port} is in use (not by this folder's service): "
            f"this folder's service takes {port}"
        )
    env = {**os.environ, **settings_environment(settings), "BID_AUTOSTART": "0", "BID_THIN": "0"}
    with log.open("ab") as handle:
        process = subprocess.Popen(
            [
                *BID,
                "server",
                "--port",
                str(port),
                "--idle-timeout",
                str(int(settings.server_idle_timeout_s)),
            ],
            env=env,
            cwd=settings.data_dir.parent,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    say(
        f"starting the local bid service for this folder (log: {log}; "
        "stop it with `bid server stop`)…"
    )
    return process


def _spawn(settings: Settings, say: Callable[[str], None], timeout: float) -> ServiceInfo:
    log = settings.data_dir / BACKGROUND_LOG
    process = spawn(settings, say)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = status(settings)
        if info is not None:
            say(f"bid server is up: {info.url}")
            return info
        if process.poll() is not None:
            break
        time.sleep(0.2)
    tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-5:])
    raise PrefectUnavailable(f"the local bid service did not start (log: {log}): {tail}")


def settings_environment(settings: Settings) -> dict[str, str]:
    """The variables that make a `bid` child process read these very settings."""
    env = {
        "BID_DATABASE_URL": settings.database_url,
        "BID_DATA_DIR": str(settings.data_dir),
        "BID_OUTPUT_DIR": settings.output_url or str(settings.output_dir),
        "BID_RULES_DIR": str(settings.rules_dir),
        "BID_TEMPLATES_DIR": str(settings.templates_dir),
        "BID_UI_PORT": str(settings.ui_port),
    }
    if settings.prefect_home_env:
        env["PREFECT_HOME"] = settings.prefect_home_env
    return env


def describe(info: ServiceInfo) -> dict[str, Any]:
    """What `bid server status --json` prints."""
    return {
        "pid": info.pid,
        "service_id": info.service_id,
        "prefect_port": info.prefect_port,
        "url": info.url,
        "prefect_url": info.url,
        "workspace_url": info.workspace_url,
        "api_url": info.api_url,
        "cli_url": info.cli_url,
        "slack_url": info.slack_url,
        "logs": info.log_dir,
        "started_at": info.started_at,
    }
