"""Printing for people: user text is shown as written, never read as Rich markup.

Titles, names, e-mails, reasons and file names come from users. Printed through Rich, a
title containing `[/]` would stop the command (MarkupError) and `[bold]` would restyle the
terminal. Every value a user typed goes through `esc` inside a markup string, or into a
table as `cell` (plain `Text`); control characters are shown as escapes (`text.visible`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from orchestrator.text import visible


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
