"""Printing for people: user text is shown as written, never read as Rich markup.

Titles, names, e-mails, reasons and file names come from users. Printed through Rich, a
title containing `[/]` would stop the command (MarkupError) and `[bold]` would restyle the
terminal. Every value a user typed goes through `esc` inside a markup string, or into a
table as `cell` (plain `Text`); control characters are shown as escapes (`text.visible`).

Every command builds one result dict; `emit` prints it as JSON (`--json`) or hands it to the
command's printer for people, so the two outputs come from the same values.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from orchestrator.text import visible

if TYPE_CHECKING:
    from orchestrator.bid.facts import StepResult


def esc(value: object) -> str:
    """A user value to put inside a Rich markup string: shown literally."""
    return escape(visible("" if value is None else value))


def cell(value: object) -> Text:
    """A table cell shown literally (no markup, no control characters)."""
    return Text(visible("" if value is None else value))


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A Rich table whose title (markup allowed: escape user parts) and cells are safe."""
    result = Table(title=title, title_justify="left")
    for column in columns:
        result.add_column(column)
    for row in rows:
        result.add_row(*(cell(value) for value in row))
    return result


# --- a command's result, for machines (--json) and people ------------------------------------

Result = Mapping[str, Any]
"""What a command did, as plain values with snake_case keys: the one source of its output."""


def emit(result: Result, as_json: bool, human: Callable[[Result], None]) -> None:
    """Print a command's result: as JSON on stdout with `--json`, else through `human`.

    The human printer reads the same dict the JSON is made of, so the two cannot drift; with
    `--json` nothing else is printed (warnings travel inside the dict, not on stderr).
    """
    if as_json:
        print_json(result)
    else:
        human(result)


def print_json(data: Any) -> None:
    """JSON on stdout: enums as their value, dates and paths as their text (`str`)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=_plain) + "\n")


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def step_result(result: StepResult) -> dict[str, Any]:
    """A service's answer to a change of a bid (`StepResult`) as a command's result."""
    return {
        "opportunity": result.ref,
        "from_state": result.from_state.value,
        "state": result.to_state.value,
        "moved": result.moved,
        "recorded": result.recorded,
        "message": result.message,
        "waiting_for": result.waiting_for,
        "documents": list(result.documents),
    }


def print_warnings(result: Result) -> None:
    """The result's `warnings`, one line each on stderr (for people; JSON carries them)."""
    for warning in result.get("warnings") or ():
        _err_console.print(f"warning: {esc(warning)}", soft_wrap=True, highlight=False)


def say(text: str) -> None:
    """One line for people on stdout; user text inside is shown literally."""
    _console.print(esc(text), highlight=False, soft_wrap=True)


_console = Console(highlight=False)
_err_console = Console(stderr=True, highlight=False)
