"""Production mode on one machine, without Docker: the whole stack, up and down.

    python deploy/stack.py up   --dir /srv/bid [--workers 2] [--ui-port 4200] [--slack-port 3000]
    python deploy/stack.py status --dir /srv/bid
    python deploy/stack.py down --dir /srv/bid
    source /srv/bid/stack.env && bid list      # any `bid` command against the stack

`up` brings up, in this order, each process detached with its log in `<dir>/logs/`:

    postgres    a PostgreSQL cluster on 127.0.0.1 (`<dir>/pg`): databases `bid` and `prefect`
    prefect     `prefect server start` on PostgreSQL (UI and API), through
                orchestrator.runtime.prefect_server (the server's fixes applied)
    flows       `bid serve-flows`: the deployments (UI forms) and the hourly deadline watch
    worker-N    `bid task-worker`: long-lived workers that carry bids on in process
    slack       `bid serve`: the Slack endpoint (signed requests only)

and writes `<dir>/stack.json` (what runs, with pids) and `<dir>/stack.env` (the settings
every `bid` process of the stack shares: database, Prefect API, the shared output folder,
dispatch to the task workers). Workers on other machines use the same settings with the
machine's address instead of 127.0.0.1 (see docs/deploy.md). The same `Stack` class is what
the production-mode tests drive, including their faults (a worker killed, PostgreSQL
restarted, the Prefect server stopped for a while).

Needs PostgreSQL's server binaries (`apt-get install postgresql`) and this project installed
(`pip install -e .`). As root, PostgreSQL runs as the `postgres` user.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import glob
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from orchestrator.runtime.prefect_home import SERVER_TUNING
from orchestrator.runtime.prefect_server import COMMAND as PREFECT_SERVER

PYTHON = sys.executable
BID = (PYTHON, "-m", "orchestrator.cli.app")
DATABASES = ("bid", "prefect")
PG_USER = "bid"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return int(reply.status) == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False


def wait(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def pg_bin_dir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if not candidates:
        raise SystemExit("no PostgreSQL server binaries: apt-get install postgresql")
    return Path(candidates[0]).parent


@dataclass
class StackConfig:
    root: Path
    workers: int = 2
    ui_port: int = 4200
    slack_port: int = 3000
    pg_port: int = 5433
    output: str = ""
    """The shared output folder: a path, or an fsspec URL such as s3://bucket/bid."""
    flows: bool = True
    """Serve the deployments (UI forms, deadline watch) too."""
    pg_dir: str = ""
    """Where the PostgreSQL cluster lives (default `<root>/pg`); as root, the `postgres` user
    must be able to reach it."""
    slack: bool = True
    """Run the Slack endpoint (when SLACK_SIGNING_SECRET is set)."""
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def output_location(self) -> str:
        return self.output or str(self.root / "output")


class Stack:
    """The processes of one machine's stack, started and stopped from any shell."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.root = config.root
        self.logs = self.root / "logs"
        pg = Path(config.pg_dir) if config.pg_dir else self.root / "pg"
        self.pg_data = pg / "data"
        self.pg_socket = pg
        self._as_postgres = os.geteuid() == 0
        self.pids: dict[str, int] = {}
        self._load()

    # --- settings shared by every process

    def database_url(self, name: str) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.config.pg_port}/{name}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.config.ui_port}/api"

    @property
    def prefect_auth(self) -> str:
        """The basic-auth string of the stack's Prefect server (`bid:<secret>`, made once,
        kept in `<dir>/prefect-auth` with mode 0600): its API answers nothing without it but
        the health probes, and the UI asks for it."""
        path = self.root / "prefect-auth"
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError:
            pass
        self.root.mkdir(parents=True, exist_ok=True)
        text = f"bid:{secrets.token_urlsafe(24)}"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        return text

    def env(self) -> dict[str, str]:
        """The environment of every `bid` process of this stack."""
        return {
            "BID_DATABASE_URL": self.database_url("bid"),
            "BID_DATA_DIR": str(self.root / "data"),
            "BID_OUTPUT_DIR": self.config.output_location,
            "BID_FLOW_DISPATCH": "tasks",
            "BID_AUTOSTART": "0",
            "BID_THIN": "0",
            "PREFECT_API_URL": self.api_url,
            "PREFECT_API_AUTH_STRING": self.prefect_auth,
            "PREFECT_UI_URL": f"http://127.0.0.1:{self.config.ui_port}",
            "PREFECT_HOME": str(self.root / "prefect-home"),
            # task parameters and results, shared by whoever schedules and runs the tasks
            "PREFECT_LOCAL_STORAGE_PATH": str(self.root / "prefect-storage"),
            "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
            # task runs of the task workers run outside flow runs: their logs stay local
            "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
            # the stack's server takes no CSRF tokens (its API is behind the password, JSON
            # only): its clients need not ask for one before every first write
            "PREFECT_CLIENT_CSRF_SUPPORT_ENABLED": "false",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            **self.config.extra_env,
        }

    def _process_env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("BID_", "PREFECT_"))}
        return {**base, **self.env(), **extra}

    # --- state on disk

    @property
    def state_file(self) -> Path:
        return self.root / "stack.json"

    def _load(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
            self.pids = {k: int(v) for k, v in data.get("pids", {}).items()}

    def _save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = {"config": {**asdict(self.config), "root": str(self.root)}, "pids": self.pids}
        self.state_file.write_text(json.dumps(data, indent=2), encoding="utf-8")
        lines = [f"export {key}={shlex_quote(value)}" for key, value in self.env().items()]
        env_file = self.root / "stack.env"  # it holds the Prefect password: private
        descriptor = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        env_file.chmod(0o600)

    # --- PostgreSQL

    def _pg(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(pg_bin_dir() / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def start_postgres(self) -> None:
        if not (self.pg_data / "PG_VERSION").exists():
            self.pg_socket.mkdir(parents=True, exist_ok=True)
            if self._as_postgres:
                shutil.chown(self.pg_socket, "postgres")
            self._pg("initdb", "-D", str(self.pg_data), "-U", PG_USER, "--auth=trust", "-E", "UTF8")
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={self.config.pg_port}",
                f"-c unix_socket_directories={self.pg_socket}",
                "-c max_connections=300",
            ]
        )
        self._pg(
            "pg_ctl", "-D", str(self.pg_data), "-o", options, "-w", "-l",
            str(self.pg_socket / "postgres.log"), "start",
        )  # fmt: skip
        for name in DATABASES:
            exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
            if "1" not in exists:
                self._psql(f"CREATE DATABASE {name}")

    def _psql(self, sql: str) -> str:
        done = self._pg(
            "psql", "-h", "127.0.0.1", "-p", str(self.config.pg_port), "-U", PG_USER,
            "-d", "postgres", "-tAc", sql,
        )  # fmt: skip
        return done.stdout

    def stop_postgres(self, mode: str = "fast") -> None:
        if (self.pg_data / "postmaster.pid").exists():
            self._pg("pg_ctl", "-D", str(self.pg_data), "-m", mode, "-w", "stop", check=False)

    def restart_postgres(self) -> None:
        self.stop_postgres("fast")
        self.start_postgres()

    # --- the other processes

    def _commands(self) -> dict[str, tuple[list[str], dict[str, str]]]:
        port = str(self.config.ui_port)
        prefect_db = self.database_url("prefect").replace("postgresql://", "postgresql+asyncpg://")
        commands: dict[str, tuple[list[str], dict[str, str]]] = {
            "prefect": (
                [*PREFECT_SERVER, "start", "--host", "127.0.0.1", "--port", port,
                 "--analytics-off"],
                {
                    "PREFECT_API_DATABASE_CONNECTION_URL": prefect_db,
                    "PREFECT_SERVER_API_HOST": "127.0.0.1",
                    "PREFECT_SERVER_API_PORT": port,
                    "PREFECT_UI_API_URL": self.api_url,
                    "PREFECT_API_URL": "",
                    # behind its password, and no CORS grant but to its own UI
                    "PREFECT_SERVER_API_AUTH_STRING": self.prefect_auth,
                    "PREFECT_SERVER_CORS_ALLOWED_ORIGINS": f"http://127.0.0.1:{port}",
                    "PREFECT_SERVER_CSRF_PROTECTION_ENABLED": "false",  # see env()
                    **SERVER_TUNING,  # task run states written in batches
                },
            ),
        }  # fmt: skip
        if self.config.flows:
            commands["flows"] = ([*BID, "serve-flows"], {})
        for number in range(1, self.config.workers + 1):
            commands[f"worker-{number}"] = ([*BID, "task-worker"], {})
        secret = self.config.extra_env.get("SLACK_SIGNING_SECRET") or os.environ.get(
            "SLACK_SIGNING_SECRET"
        )
        if self.config.slack and secret:
            commands["slack"] = (
                [*BID, "serve", "--host", "127.0.0.1", "--port", str(self.config.slack_port)],
                {},
            )
        return commands

    def start(self, name: str) -> int:
        """Start one process of the stack (detached, its log in logs/<name>.log)."""
        argv, extra = self._commands()[name]
        env = self._process_env(**extra)
        if env.get("PREFECT_API_URL") == "":
            env.pop("PREFECT_API_URL")
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                argv,
                env=env,
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pids[name] = process.pid
        self._save()
        if name == "prefect":
            wait(lambda: healthy(f"{self.api_url}/health"), 240, "the Prefect server")
        return process.pid

    def stop(self, name: str, sig: int = signal.SIGTERM, grace: float = 30.0) -> None:
        """Stop one process (and what it started); SIGKILL after `grace` seconds."""
        pid = self.pids.get(name)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + grace
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self.pids.pop(name, None)
        self._save()

    def kill(self, name: str) -> None:
        """SIGKILL one process at once (a crash)."""
        self.stop(name, signal.SIGKILL, grace=5.0)

    # --- the whole stack

    def up(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.config.output.startswith(("s3://", "memory://", "gs://", "az://")):
            Path(self.config.output_location).mkdir(parents=True, exist_ok=True)
        self.start_postgres()
        self._save()
        # the bid database is migrated before any worker opens it
        migrated = subprocess.run(
            [*BID, "list", "--json"],
            env=self._process_env(),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if migrated.returncode:
            raise RuntimeError(f"the bid database could not be opened: {migrated.stderr}")
        for name in self._commands():
            self.start(name)
        self.wait_ready()

    def _log_says(self, name: str, text: str) -> bool:
        with contextlib.suppress(OSError):
            return text in (self.logs / f"{name}.log").read_text(errors="replace")
        return False

    def _deployments(self) -> int:
        """How many deployments the stack's Prefect server holds (0 when it does not say)."""
        request = urllib.request.Request(
            f"{self.api_url}/deployments/count", data=b"{}", method="POST"
        )
        request.add_header("Content-Type", "application/json")
        token = base64.b64encode(self.prefect_auth.encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=2) as reply:
                return int(json.loads(reply.read()))
        except (OSError, ValueError):
            return 0

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Until every process takes work: the task workers have loaded what they run (they
        say so in their log), the served flows' deployments are all on the server. A stack
        that is "up" answers its first bid as fast as its hundredth."""
        commands = self._commands()
        for name in commands:
            if name.startswith("worker-"):
                wait(lambda n=name: self._log_says(n, "task worker for"), timeout, name)
        if "slack" in commands:  # it listens once it has loaded what a click needs
            port = self.config.slack_port
            wait(lambda: listening("127.0.0.1", port), timeout, "the Slack app")
        if "flows" in commands:

            def served() -> bool:
                with contextlib.suppress(OSError):
                    log = (self.logs / "flows.log").read_text(errors="replace")
                    match = re.search(r"serving (\d+) deployments", log)
                    return match is not None and self._deployments() >= int(match.group(1))
                return False

            wait(served, timeout, "the served flows' deployments")

    def down(self, grace: float = 30.0) -> None:
        for name in reversed(list(self.pids)):
            self.stop(name, grace=grace)
        self.stop_postgres()
        self.pids.clear()
        self._save()

    def status(self) -> dict[str, bool]:
        report = {name: alive(pid) for name, pid in self.pids.items()}
        report["postgres"] = (self.pg_data / "postmaster.pid").exists()
        report["prefect api"] = healthy(f"{self.api_url}/health")
        return report


def listening(host: str, port: int) -> bool:
    """Something accepts connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a stopped child that nobody reaped yet is not alive
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state != "Z"


def shlex_quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


def _config_from(args: argparse.Namespace) -> StackConfig:
    root = Path(args.dir).resolve()
    with contextlib.suppress(OSError, ValueError):
        saved = json.loads((root / "stack.json").read_text(encoding="utf-8"))["config"]
        saved["root"] = root
        return StackConfig(**saved)
    return StackConfig(
        root=root,
        workers=args.workers,
        ui_port=args.ui_port,
        slack_port=args.slack_port,
        pg_port=args.pg_port,
        output=args.output or "",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy/stack.py", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--dir", required=True, help="where the stack keeps its data and logs")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ui-port", type=int, default=4200)
    parser.add_argument("--slack-port", type=int, default=3000)
    parser.add_argument("--pg-port", type=int, default=5433)
    parser.add_argument("--output", help="shared output folder or fsspec URL (s3://...)")
    args = parser.parse_args(argv)
    stack = Stack(_config_from(args))
    if args.action == "up":
        stack.up()
        print(f"stack up: Prefect UI http://127.0.0.1:{stack.config.ui_port}")
        print(f"settings for bid commands: source {stack.root / 'stack.env'}")
    elif args.action == "down":
        stack.down()
        print("stack down")
    else:
        report = stack.status()
        for name, ok in report.items():
            print(f"{name:12} {'up' if ok else 'DOWN'}")
        return 0 if all(report.values()) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
