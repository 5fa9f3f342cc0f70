"""Real Prefect servers and `bid` processes for the integration tests.

- `BidProject`: a project folder (database, data dir, output) and the environment of its
  `bid` subprocesses.
- `BidUi`: `bid ui --port <free>` as a subprocess, stopped with SIGINT like Ctrl-C.
- `flow_runs`: the server's flow runs (name, tags, state) through its REST API.
- `PausingDocuments`: a document port for `BID_DOCUMENTS_FACTORY` that writes the first
  QRF and then waits, so a test can kill the worker in the middle of bid production.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlmodel import Session, select

from orchestrator.config import Settings
from orchestrator.ports import DealVersion, ProducedDocuments, RenderedDocument
from orchestrator.store.models import Opportunity, Site

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], T | None], timeout: float, what: str, every: float = 0.2) -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class BidProject:
    """A project folder whose `bid` subprocesses share one database and Prefect home."""

    root: Path
    ui_port: int

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BID_"))}
        env.update(
            {
                "BID_DATABASE_URL": f"sqlite:///{self.root / 'bid.db'}",
                "BID_DATA_DIR": str(self.root / ".bid"),
                "BID_OUTPUT_DIR": str(self.root / "out"),
                "BID_RULES_DIR": str(REPO / "rules"),
                "BID_TEMPLATES_DIR": str(REPO / "templates"),
                "BID_UI_PORT": str(self.ui_port),
                "PYTHONPATH": str(REPO),
                "DO_NOT_TRACK": "1",
                "BID_AUTOSTART": "0",
            }
        )
        return env

    def settings(self) -> Settings:
        """The settings a `bid` command of this project reads."""
        from orchestrator.config import load_settings

        return load_settings(self.env, cwd=self.root)

    @property
    def prefect_home(self) -> Path:
        return self.root / ".bid" / "prefect"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}/api"

    def bid(self, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        """Run `bid ARGS` to completion in this project."""
        return subprocess.run(
            [PYTHON, "-m", "orchestrator.cli.app", *args],
            cwd=self.root,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """Start `bid ARGS` in the background, in its own process group."""
        log = (self.root / f"{args[0]}-{time.monotonic_ns()}.log").open("w")
        return subprocess.Popen(
            [PYTHON, "-m", "orchestrator.cli.app", *args],
            cwd=self.root,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


class BidUi:
    """`bid ui` on a free port over a project's Prefect home."""

    def __init__(self, project: BidProject) -> None:
        self.project = project
        self.process: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 120) -> BidUi:
        # the tests start (and kill) their own workers: the service serves no flows itself
        self.process = self.project.start(
            "server", "--port", str(self.project.ui_port), "--no-flows"
        )
        wait_for(self._up, timeout, "bid ui to answer")
        return self

    def _up(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            logs = "\n".join(p.read_text()[-3000:] for p in self.project.root.glob("ui-*.log"))
            raise AssertionError(f"bid ui exited with {self.process.returncode}:\n{logs}")
        return self.healthy()

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.project.api_url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, timeout: float = 30) -> int | None:
        """Ctrl-C: SIGINT to `bid ui`, which forwards it to the server and waits."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise


def api(method: str, url: str, timeout: float = 60, **kwargs: Any) -> httpx.Response:
    """A request to the Prefect API, retried while the server answers 503 (SQLite busy)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = httpx.request(method, url, timeout=10, **kwargs)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        else:
            if reply.status_code != 503 or time.monotonic() > deadline:
                return reply
        time.sleep(0.3)


def flow_runs(api_url: str, tags: list[str] | None = None) -> list[dict[str, Any]]:
    """Flow runs on the server, newest first (all of `tags` when given)."""
    body: dict[str, Any] = {"limit": 200, "sort": "EXPECTED_START_TIME_DESC"}
    if tags:
        body["flow_runs"] = {"tags": {"all_": tags}}
    reply = api("POST", f"{api_url}/flow_runs/filter", json=body)
    reply.raise_for_status()
    runs: list[dict[str, Any]] = reply.json()
    return runs


def kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL a process and everything it started (a worker and its flow-run children)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


# --- a document port that pauses in the middle of bid production --------------------------------

PAUSE_ENV = "BID_TEST_PAUSE_AFTER_FIRST_QRF"
"""Seconds to wait after writing the first QRF (read by `PausingDocuments`, tests only)."""


@dataclass
class PausingDocuments:
    """Deterministic files per country (QRFs) and a proposal; may pause after the first QRF."""

    pause_s: float = 0.0

    def _write(self, out_dir: Path, kind: str, name: str, content: str) -> RenderedDocument:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{name}.txt"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(content, encoding="utf-8")
        tmp.replace(path)
        return RenderedDocument(kind, name, path, hashlib.sha256(content.encode()).hexdigest())

    def quote_requests(
        self, session: Session, opportunity: Opportunity, out_dir: Path
    ) -> ProducedDocuments:
        produced = self.bid_documents(session, opportunity, out_dir)
        return ProducedDocuments([d for d in produced.documents if d.kind == "qrf"])

    def bid_documents(
        self,
        session: Session,
        opportunity: Opportunity,
        out_dir: Path,
        version: DealVersion | None = None,
    ) -> ProducedDocuments:
        sites = session.exec(select(Site).where(Site.opportunity_id == opportunity.id)).all()
        countries = sorted({site.country for site in sites})
        written = []
        for number, country in enumerate(countries):
            lines = sorted(f"{s.site_id}:{s.bandwidth_mbps}" for s in sites if s.country == country)
            written.append(self._write(out_dir, "qrf", f"qrf-{country}", "\n".join(lines)))
            if number == 0 and self.pause_s:
                time.sleep(self.pause_s)
        proposal = self._write(out_dir, "proposal", "proposal", ";".join(countries))
        written.append(proposal)
        return ProducedDocuments(written, proposal_hash=proposal.content_hash)

    def submission_package(
        self,
        session: Session,
        opportunity: Opportunity,
        out_dir: Path,
        version: DealVersion | None = None,
    ) -> ProducedDocuments:
        return ProducedDocuments([self._write(out_dir, "submission_letter", "letter", "x")])

    def order_sheet(
        self, session: Session, opportunity: Opportunity, out_dir: Path
    ) -> ProducedDocuments:
        return ProducedDocuments([self._write(out_dir, "order_sheet", "order-sheet", "x")])

    def current_documents(
        self,
        session: Session,
        opportunity: Opportunity,
        out_dir: Path,
        version: DealVersion | None = None,
    ) -> ProducedDocuments:
        state = opportunity.state.value
        return ProducedDocuments([self._write(out_dir, "control_plan", "control-plan", state)])

    def to_pdf(self, documents: list[RenderedDocument]) -> list[RenderedDocument]:
        return []


def pausing_documents(settings: Settings) -> PausingDocuments:
    """`BID_DOCUMENTS_FACTORY=tests.support.prefect_server:pausing_documents`."""
    return PausingDocuments(float(os.environ.get(PAUSE_ENV, "0")))
