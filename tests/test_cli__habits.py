"""The habits people expect of a command line: commands grouped in `--help`, shell completion
installable, colour on a terminal and none with NO_COLOR, "did you mean" for a mistyped
command or value, dates refused in plain words with an example, a hint to `bid people add`,
and an outbox readable at 80 columns whose `--json` carries the Block Kit blocks."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer

from orchestrator.cli import app as cli
from orchestrator.context import Context
from tests.conftest import RunCli
from tests.factories import new_bid
from tests.support.prefect_server import REPO

PANELS = (
    "Bids",
    "Production",
    "Governance",
    "Documents",
    "Funnel",
    "Accounts",
    "People",
    "Service",
)
ROOT: Any = typer.main.get_command(cli.app)
assert isinstance(ROOT, typer.core.TyperGroup)


def _bid(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli.app", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), "BID_FLOW_RUNNER": "inline", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_top_level_command_sits_in_one_of_the_help_panels(run_cli: RunCli) -> None:
    placed = {
        name: getattr(command, "rich_help_panel", None) for name, command in ROOT.commands.items()
    }
    assert {name: panel for name, panel in placed.items() if panel not in PANELS} == {}
    assert set(placed.values()) == set(PANELS)
    assert placed["server"] == placed["serve-flows"] == placed["task-worker"] == "Service"
    shown = run_cli("--help").out
    assert all(f"─ {panel} " in shown for panel in PANELS)
    assert "─ Commands " not in shown


def test_shell_completion_is_shown_installed_and_completes_command_names(tmp_path: Path) -> None:
    shown = _bid("--show-completion", "bash", cwd=tmp_path)
    assert shown.returncode == 0 and "_BID_COMPLETE" in shown.stdout
    home = tmp_path / "home"
    home.mkdir()
    installed = _bid("--install-completion", "bash", cwd=tmp_path, HOME=str(home))
    assert installed.returncode == 0, installed.stderr
    assert "_BID_COMPLETE" in (home / ".bash_completions" / "bid.sh").read_text()
    completed = _bid(
        cwd=tmp_path, _BID_COMPLETE="complete_bash", COMP_WORDS="bid sta", COMP_CWORD="1"
    )
    assert completed.stdout.split() == ["status"]


def _inherited() -> dict[str, str]:
    """This environment without the colour switches (the test sets them itself)."""
    return {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}


def _on_a_terminal(tmp_path: Path, *args: str, **env: str) -> bytes:
    """What `bid ARGS` writes when its stdout and stderr are a terminal."""
    main, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli.app", *args],
        cwd=tmp_path,
        stdout=terminal,
        stderr=terminal,
        env={**_inherited(), "PYTHONPATH": str(REPO), "BID_FLOW_RUNNER": "inline", **env},
    )
    process.wait(timeout=120)
    os.close(terminal)
    written = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal's other end closed: all read
            break
        if not chunk:
            break
        written += chunk
    os.close(main)
    return written


def test_colour_on_a_terminal_and_none_with_no_color(tmp_path: Path) -> None:
    coloured = _on_a_terminal(tmp_path, "list", "--state", "nope", TERM="xterm")
    plain = _on_a_terminal(tmp_path, "list", "--state", "nope", TERM="xterm", NO_COLOR="1")
    assert b"\x1b[31merror: field 'state'" in coloured
    assert b"error: field 'state'" in plain and b"\x1b[" not in plain


def test_did_you_mean_for_commands_options_and_values(run_cli: RunCli) -> None:
    command = run_cli("stauts", "OPP-0001")
    assert command.code == 2 and "Did you mean 'status'?" in command.err
    option = run_cli("status", "OPP-0001", "--jsn")
    assert option.code == 2 and "--json" in option.err
    area = run_cli("approve", "OPP-0001", "--area", "tecnical")
    assert area.code == 2 and "did you mean 'technical'?" in area.err
    assert "Value error" not in area.err
    outcome = run_cli("decide", "OPP-0001", "--outcome", "no-bid", "--reason", "x")
    assert outcome.code == 2 and "did you mean 'no_bid'?" in outcome.err
    state = run_cli("list", "--state", "qualificaton")
    assert state.code == 2 and "did you mean 'qualification'?" in state.err
    far = run_cli("approve", "OPP-0001", "--area", "zzz")
    assert far.code == 2 and "did you mean" not in far.err
    for refused in (command, option, area, outcome, state, far):
        assert "Traceback" not in refused.err


def test_dates_are_refused_in_plain_words_with_an_example(run_cli: RunCli, ctx: Context) -> None:
    ref = new_bid(ctx)
    for typed, says in (
        ("31/12/2027", "is not a date written YYYY-MM-DD"),
        ("2027-02-30", "not a day of the calendar"),
    ):
        done = run_cli(
            "withdraw", ref, "--reason", "x", "--category", "postponed", "--wake-up", typed
        )
        assert done.code == 2, done.err
        assert says in done.err and f"'{typed}'" in done.err
        assert re.search(r"e\.g\. \d{4}-\d{2}-\d{2}", done.err)
        assert "%Y" not in done.err and "Traceback" not in done.err


def test_an_unknown_person_is_answered_with_the_command_that_adds_them(
    run_cli: RunCli, ctx: Context
) -> None:
    ref = new_bid(ctx)
    done = run_cli("advance", ref, "--by", "new.colleague@example.com")
    assert done.code == 2
    assert "bid people add new.colleague@example.com --name" in done.err


def test_the_outbox_reads_at_80_columns_and_its_json_carries_the_blocks(
    run_cli: RunCli, ctx: Context
) -> None:
    from orchestrator.bid.progress import services

    ref = new_bid(ctx)
    services.run_to_wait(ctx, ref)  # the go/no-go request goes to the deciders
    shown = run_cli("outbox")
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert lines[0].startswith("Outbox: ") and "pending" in lines[0]
    assert max(len(line) for line in lines) <= 80
    assert any(ref in line and "pending" in line for line in lines)
    data = json.loads(run_cli("outbox", "--json").out)
    assert data and all(isinstance(message["blocks"], list) for message in data)
    blocks = [block for message in data for block in message["blocks"]]
    assert blocks and all("type" in block for block in blocks)
    assert any(ref in json.dumps(message["blocks"]) for message in data)
