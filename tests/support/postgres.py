"""A throwaway PostgreSQL server on loopback for the test suite (real server, real SQL).

Uses the machine's PostgreSQL binaries (`initdb`, `pg_ctl`); as root, runs them as the
`postgres` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def find_bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """initdb + pg_ctl start in a temporary directory; `url` is a superuser URL to `postgres`."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="bid-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user = "bid"
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> str:
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8")
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={self.port}",
                f"-c unix_socket_directories={self.root}",
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-w",
            "-l",
            str(self.root / "log"),
            "start",
        )
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def main() -> None:
    """`python -m tests.support.postgres start|stop DIR`: a server for .ci/run's whole run."""
    import json
    import sys

    action, state_file = sys.argv[1], Path(sys.argv[2])
    if action == "start":
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise SystemExit("no PostgreSQL binaries (initdb) found")
        server = PostgresServer(bin_dir)
        url = server.start()
        state_file.write_text(json.dumps({"root": str(server.root), "bin": str(bin_dir)}))
        print(url)
    else:
        state = json.loads(state_file.read_text())
        server = PostgresServer(Path(state["bin"]))
        shutil.rmtree(server.root, ignore_errors=True)
        server.root = Path(state["root"])
        server.data = server.root / "data"
        server.stop()


if __name__ == "__main__":
    main()
