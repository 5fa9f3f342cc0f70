"""Faults of the machine end in one line (issue 23): a full disk, a read-only output folder, a
database that is gone — exit 1, what was recorded and what was not, never a traceback. And
what `bid` writes is its OS user's only; `bid login` never takes the token as an argument."""

from __future__ import annotations

import errno
import io
import os
import stat
import types
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from orchestrator.cli import app as cli
from orchestrator.context import Context
from orchestrator.errors import fault_line
from tests.conftest import RunCli
from tests.factories import new_bid
from tests.support.dump import dump


def _failing_files(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    """Every document write fails with `code` (as the kernel says it on a full disk or a
    read-only mount), where the renderer writes: its temporary file's creation."""
    from orchestrator.documents import files

    def mkstemp(**kwargs: object) -> tuple[int, str]:
        raise OSError(code, os.strerror(code), str(kwargs.get("dir")))

    monkeypatch.setattr(files, "tempfile", types.SimpleNamespace(mkstemp=mkstemp))


def _one_line(result: object, code: int) -> str:
    err = result.err  # type: ignore[attr-defined]
    assert result.code == code, err  # type: ignore[attr-defined]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return str(lines[0])


@pytest.mark.parametrize(
    ("code", "says"),
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EROFS, "Read-only file system"),
        (errno.EACCES, "Permission denied"),
    ],
)
def test_a_document_write_the_machine_refuses_ends_in_one_line(
    run_cli: RunCli,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    says: str,
) -> None:
    ref = new_bid(ctx)
    assert run_cli("whoami").code == 0  # the folder's admin exists before the fault
    before = dump(ctx.engine)
    _failing_files(monkeypatch, code)
    line = _one_line(run_cli("docs", ref), 1)
    assert says in line
    assert "unfinished step was not recorded" in line and "bid history" in line
    assert dump(ctx.engine) == before  # no document row for a file that was never written


def test_a_database_that_goes_away_mid_command_ends_in_one_line(
    run_cli: RunCli, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.orm import Session

    ref = new_bid(ctx)
    assert run_cli("whoami").code == 0
    before = dump(ctx.engine)
    real = Session.execute
    calls = {"n": 0}

    def execute(self: Session, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] > 2:  # the command got going, then the server went away
            raise OperationalError(
                "SELECT", {}, Exception("server closed the connection unexpectedly")
            )
        return real(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Session, "execute", execute)
    line = _one_line(run_cli("advance", ref), 1)
    monkeypatch.setattr(Session, "execute", real)
    assert line.startswith("error: the database stopped answering (server closed the connection")
    assert "rolled back" in line and "bid history" in line
    assert dump(ctx.engine) == before


def test_fault_line_reads_the_cause_chain_and_leaves_bugs_alone() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/out/x.docx")
        except OSError as disk:
            raise RuntimeError("rendering failed") from disk
    except RuntimeError as wrapped:
        line = fault_line(wrapped)
    assert line is not None and line.startswith("the disk is full (writing /out/x.docx)")
    sqlite_full = OperationalError("INSERT", {}, Exception("database or disk is full"))
    assert (fault_line(sqlite_full) or "").startswith("the disk is full (the database:")
    assert fault_line(KeyError("x")) is None
    assert fault_line(OSError(errno.ENOENT, "No such file")) is None


# --- what bid writes is its OS user's only ------------------------------------------------------


def test_the_database_and_the_folders_are_this_users_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from orchestrator import config

    folder = tmp_path / "project"
    (folder / "bid-output").mkdir(parents=True, mode=0o755)
    (folder / "bid-output").chmod(0o755)
    monkeypatch.chdir(folder)
    for name in ("BID_DATABASE_URL", "BID_DATA_DIR", "BID_OUTPUT_DIR", "BID_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BID_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("BID_FLOW_RUNNER", "inline")
    config.get_settings.cache_clear()
    cli._CONTEXT.clear()
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        assert cli.main(["whoami"]) == 0
    finally:
        for context in cli._CONTEXT:
            context.engine.dispose()
        cli._CONTEXT.clear()
        config.get_settings.cache_clear()

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(folder / "bid.db") == 0o600
    assert mode(folder / ".bid") == 0o700
    assert mode(folder / ".bid" / "admin.token") == 0o600
    assert mode(folder / "bid-output") == 0o700  # made before, tightened
    (folder / "bid.db").chmod(0o644)  # say, copied in from elsewhere
    config.get_settings.cache_clear()
    try:
        assert cli.main(["whoami"]) == 0
    finally:
        for context in cli._CONTEXT:
            context.engine.dispose()
        cli._CONTEXT.clear()
        config.get_settings.cache_clear()
    assert mode(folder / "bid.db") == 0o600
    current = os.umask(umask)
    assert current == umask  # main() gave the process its umask back


def test_login_refuses_a_token_on_the_command_line_and_reads_stdin(
    run_cli: RunCli, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_bid(ctx)
    token = run_cli("people", "token", "fin@example.com").out.strip()
    credentials = Path(os.environ["BID_CREDENTIALS_FILE"])
    line = _one_line(run_cli("login", "--token", token), 2)
    assert "process list" in line and "bid login < token-file" in line
    assert token not in line
    assert not credentials.exists()
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    taken = run_cli("login")
    assert taken.code == 0, taken.err
    assert "fin@example.com" in taken.out
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600


def test_a_shared_output_folder_elsewhere_keeps_its_mode(tmp_path: Path) -> None:
    from orchestrator.config import load_settings
    from orchestrator.runtime.credentials import keep_private

    project, share = tmp_path / "project", tmp_path / "share"
    for folder in (project / ".bid", share):
        folder.mkdir(parents=True)
        folder.chmod(0o755)
    (project / "bid.db").write_bytes(b"")
    (project / "bid.db").chmod(0o644)
    settings = load_settings({"BID_OUTPUT_DIR": str(share)}, cwd=project)
    changed = keep_private(settings)
    assert sorted(changed) == sorted([project / "bid.db", project / ".bid"])
    assert stat.S_IMODE(share.stat().st_mode) == 0o755  # a team's share: as its owner made it
    assert keep_private(settings) == []  # once private, nothing to change
