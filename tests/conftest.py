"""Shared fixtures: a bid context on SQLite and on a real PostgreSQL server, a fixed clock,
and a recording fake of the document port.

`ctx` is parametrised over both databases, so every test that uses it runs on SQLite and on
PostgreSQL. PostgreSQL comes from `BID_TEST_POSTGRES_URL`, or is started here from the
machine's binaries; with neither, the PostgreSQL cases skip with a reason — unless
`BID_REQUIRE_POSTGRES=1` (set by .ci/run), which turns that into a failure.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Prefect runs offline and quietly in tests, in a home of its own (before anything imports it).
# Under pytest-xdist each worker has its own home (the controller's is inherited otherwise).
os.environ["PREFECT_HOME"] = (
    tempfile.mkdtemp(prefix=f"bid-test-prefect-{os.environ['PYTEST_XDIST_WORKER']}-")
    if os.environ.get("PYTEST_XDIST_WORKER")
    else os.environ.get("PREFECT_HOME") or tempfile.mkdtemp(prefix="bid-test-prefect-")
)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
# a loaded 2-core machine needs more than Prefect's default 20 s to start a temporary server
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ["BID_AUTOSTART"] = "0"  # no test starts a background `bid server` unless it asks

import pytest
from sqlmodel import Session, select

from orchestrator.config import Settings, load_settings
from orchestrator.context import Context
from orchestrator.ports import ProducedDocuments, RenderedDocument
from orchestrator.store.models import Site
from orchestrator.wiring import open_context
from tests.support.postgres import PostgresServer, find_bin_dir

REPO = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@dataclass
class FixedClock:
    """A clock that only moves when a test moves it."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)


@dataclass
class RecordingDocuments:
    """A document port that writes small files and records each call (unit tests)."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    order_problems: list[str] = field(default_factory=list)
    refreshed: list[tuple[str, str]] = field(default_factory=list)
    """(bid, state) each time the documents that follow the bid were rendered again."""

    def _write(self, out_dir: Path, kind: str, name: str, content: str) -> RenderedDocument:
        out_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(content.encode()).hexdigest()
        path = out_dir / f"{name}.txt"
        path.write_text(content)
        return RenderedDocument(kind, name, path, digest)

    def _sites(self, session: Session, opportunity_id: int | None) -> str:
        sites = session.exec(select(Site).where(Site.opportunity_id == opportunity_id)).all()
        return ";".join(sorted(f"{s.site_id}:{s.country}:{s.bandwidth_mbps}" for s in sites))

    def quote_requests(self, session, opportunity, out_dir):  # type: ignore[no-untyped-def]
        self.calls.append(("quote_requests", opportunity.ref))
        qrf = self._write(out_dir, "qrf", "qrf", self._sites(session, opportunity.id))
        return ProducedDocuments([qrf])

    def bid_documents(self, session, opportunity, out_dir, version=None):  # type: ignore[no-untyped-def]
        self.calls.append(("bid_documents", opportunity.ref))
        proposal = self._write(
            out_dir,
            "proposal",
            "proposal",
            f"{opportunity.ref}|{self._sites(session, opportunity.id)}",
        )
        return ProducedDocuments([proposal], proposal_hash=proposal.content_hash)

    def submission_package(self, session, opportunity, out_dir, version=None):  # type: ignore[no-untyped-def]
        self.calls.append(("submission_package", opportunity.ref))
        letter = self._write(out_dir, "submission_letter", "submission", opportunity.ref)
        return ProducedDocuments([letter])

    def order_sheet(self, session, opportunity, out_dir):  # type: ignore[no-untyped-def]
        self.calls.append(("order_sheet", opportunity.ref))
        sheet = self._write(
            out_dir, "order_sheet", "order-sheet", self._sites(session, opportunity.id)
        )
        return ProducedDocuments([sheet], problems=list(self.order_problems))

    def current_documents(self, session, opportunity, out_dir, version=None):  # type: ignore[no-untyped-def]
        self.refreshed.append((opportunity.ref, opportunity.state.value))
        plan = self._write(out_dir, "control_plan", "control-plan", opportunity.state.value)
        return ProducedDocuments([plan])

    def to_pdf(self, documents):  # type: ignore[no-untyped-def]
        return []


# --- PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str | None]:
    """A superuser URL of a running PostgreSQL, or None when none can be had here."""
    external = os.environ.get("BID_TEST_POSTGRES_URL")
    if external:
        yield external.replace("postgresql://", "postgresql+psycopg://", 1)
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        yield None
        return
    server = PostgresServer(bin_dir)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


def _create_database(admin_url: str) -> str:
    import psycopg

    name = f"bid_{uuid.uuid4().hex[:12]}"
    conninfo = admin_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return conninfo.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bid.db'}"
    admin = request.getfixturevalue("postgres_admin_url")
    if admin is None:
        if os.environ.get("BID_REQUIRE_POSTGRES") == "1":
            pytest.fail(
                "BID_REQUIRE_POSTGRES=1 but no PostgreSQL binaries or BID_TEST_POSTGRES_URL"
            )
        pytest.skip("no PostgreSQL here (install postgresql or set BID_TEST_POSTGRES_URL)")
    return _create_database(admin)


# --- contexts -----------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    env = {
        "BID_DATABASE_URL": database_url,
        "BID_DATA_DIR": str(tmp_path / ".bid"),
        "BID_OUTPUT_DIR": str(tmp_path / "out"),
        "BID_RULES_DIR": str(REPO / "rules"),
        "BID_TEMPLATES_DIR": str(REPO / "templates"),
        "BID_AUTOSTART": "0",
    }
    return load_settings(env, cwd=tmp_path)


@pytest.fixture
def documents() -> RecordingDocuments:
    return RecordingDocuments()


@pytest.fixture
def ctx(settings: Settings, clock: FixedClock, documents: RecordingDocuments) -> Iterator[Context]:
    """A context over a fresh database (SQLite and PostgreSQL) with recording documents."""
    context = open_context(settings, clock=clock, documents=documents)
    yield context
    context.engine.dispose()


@pytest.fixture
def real_ctx(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    """A context with the real document renderer (docxtpl)."""
    context = open_context(settings, clock=clock)
    yield context
    context.engine.dispose()


@dataclass
class CliResult:
    code: int
    out: str
    err: str


RunCli = Callable[..., CliResult]
"""`run_cli("status", "OPP-0001")`: run `bid ...` in-process; exit code, stdout, stderr."""


@pytest.fixture
def run_cli(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[RunCli]:
    """Run `bid ...` in-process against the test's database; returns code, stdout, stderr."""
    from orchestrator import config
    from orchestrator.cli import app as cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BID_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BID_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BID_OUTPUT_DIR", str(settings.output_dir))
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("BID_TOKEN", raising=False)
    monkeypatch.setenv("BID_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("BID_FLOW_RUNNER", "inline")

    def run(*args: str) -> CliResult:
        config.get_settings.cache_clear()
        cli._CONTEXT.clear()
        capsys.readouterr()
        code = cli.main(list(args))
        captured = capsys.readouterr()
        for context in cli._CONTEXT:
            context.engine.dispose()
        return CliResult(code, captured.out, captured.err)

    yield run
    config.get_settings.cache_clear()
    cli._CONTEXT.clear()
