"""A mistyped command, a missing argument, an unknown option: Click's usage line and one error
line, exit code 2, never a traceback. Every command of the `bid` app is tried (discovered from
the Typer app, so a new command is covered the day it is added)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from orchestrator.cli import app as cli
from orchestrator.context import Context
from tests.conftest import CliResult, RunCli
from tests.factories import new_bid


def _leaves(group: typer.core.TyperGroup, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, typer.core.TyperGroup):
            yield from _leaves(command, (*path, name))
        else:
            yield (*path, name)


def _groups(group: typer.core.TyperGroup, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Groups that need a subcommand (`bid server` runs the service without one)."""
    for name, command in sorted(group.commands.items()):
        if isinstance(command, typer.core.TyperGroup):
            if not command.invoke_without_command:
                yield (*path, name)
            yield from _groups(command, (*path, name))


ROOT = typer.main.get_command(cli.app)
assert isinstance(ROOT, typer.core.TyperGroup)
COMMANDS = list(_leaves(ROOT))
GROUPS = list(_groups(ROOT))


def _command(path: tuple[str, ...]) -> typer.core.TyperCommand:
    command = ROOT
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command  # type: ignore[return-value]


def _needs_something(path: tuple[str, ...]) -> bool:
    return any(param.required for param in _command(path).params)


@pytest.fixture
def parse_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[RunCli]:
    """`bid ...` in-process on a throwaway SQLite folder (parse errors never open it)."""
    from orchestrator import config

    monkeypatch.chdir(tmp_path)
    for name in ("BID_DATABASE_URL", "SLACK_BOT_TOKEN", "BID_TOKEN", "PREFECT_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BID_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("BID_FLOW_RUNNER", "inline")

    def run(*args: str) -> CliResult:
        config.get_settings.cache_clear()
        cli._CONTEXT.clear()
        capsys.readouterr()
        code = cli.main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    yield run
    config.get_settings.cache_clear()
    cli._CONTEXT.clear()


def _usage_and_one_error(result: CliResult, path: tuple[str, ...]) -> str:
    assert result.code == 2, (path, result)
    assert "Traceback" not in result.out + result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 2, lines
    usage, error = lines
    assert usage.startswith(f"Usage: bid {' '.join(path)}".rstrip()), usage
    assert error.startswith("error: "), error
    return error


def test_every_command_is_discovered() -> None:
    assert len(COMMANDS) >= 30
    assert ("people", "grant") in COMMANDS and ("advance",) in COMMANDS


@pytest.mark.parametrize("path", [p for p in COMMANDS if _needs_something(p)], ids=" ".join)
def test_a_command_without_its_arguments_prints_usage_and_one_error(
    parse_only: RunCli, path: tuple[str, ...]
) -> None:
    error = _usage_and_one_error(parse_only(*path), path)
    assert "Missing" in error


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_an_unknown_option_prints_usage_and_one_error(
    parse_only: RunCli, path: tuple[str, ...]
) -> None:
    error = _usage_and_one_error(parse_only(*path, "--frobnicate"), path)
    assert "--frobnicate" in error


@pytest.mark.parametrize("path", GROUPS, ids=" ".join)
def test_a_group_without_a_subcommand_shows_its_help_and_exits_2(
    parse_only: RunCli, path: tuple[str, ...]
) -> None:
    result = parse_only(*path)
    assert result.code == 2
    assert "Traceback" not in result.out + result.err
    assert "Usage" in result.out + result.err


def test_a_mistyped_command_and_a_bad_choice(parse_only: RunCli) -> None:
    error = _usage_and_one_error(parse_only("frobnicate"), ())
    assert "No such command 'frobnicate'" in error
    error = _usage_and_one_error(parse_only("approve", "1", "--area", "bogus"), ("approve",))
    assert "'bogus' is not one of" in error


def test_a_refused_transition_prints_its_reason_not_a_traceback(
    run_cli: RunCli, ctx: Context
) -> None:
    ref = new_bid(ctx)
    result = run_cli("result", ref, "--won", "--reason", "cheapest")
    assert result.code == 2
    assert "Traceback" not in result.out + result.err
    (line,) = result.err.strip().splitlines()
    assert line.startswith("error: ") and "pre_qualification" in line


def test_an_id_past_any_integer_column_names_nothing(run_cli: RunCli) -> None:
    result = run_cli("status", "99999999999999999999")
    assert result.code == 2
    assert result.err.strip() == "error: no opportunity 99999999999999999999"


def test_a_task_worker_the_prefect_server_refuses_stops_in_one_line(
    run_cli: RunCli, ctx: Context, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`bid task-worker` against a Prefect that refuses it (another folder's, behind its
    password) printed Prefect's nested exception groups; now one line, exit 2."""
    import prefect.task_worker

    from orchestrator.runtime import prefect_env

    target = prefect_env.PrefectTarget(
        prefect_env.PrefectMode.LOCAL, tmp_path, "http://127.0.0.1:4200/api", False
    )
    monkeypatch.setattr(prefect_env, "configure", lambda settings: target)

    def refused(*args: object, **kwargs: object) -> None:
        inner = Exception("Unable to authenticate to the subscription. Reason: Auth required")
        raise ExceptionGroup("unhandled errors in a TaskGroup", [ExceptionGroup("x", [inner])])

    monkeypatch.setattr(prefect.task_worker, "serve", refused)
    result = run_cli("task-worker")
    assert result.code == 2, result
    assert result.err.strip().splitlines() == [
        "task worker for http://127.0.0.1:4200/api: carry-bid (Ctrl-C stops)",
        "error: the task worker for http://127.0.0.1:4200/api stopped: Unable to authenticate "
        "to the subscription. Reason: Auth required",
    ]
    assert "Traceback" not in result.err
