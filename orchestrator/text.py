"""User text, made harmless where it goes out: spreadsheet cells and terminals.

Intake refuses control characters, so new text never carries them; these functions protect
the outputs anyway (older rows, text that came in through other doors). They change how a
value is shown, never what is stored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
"""A cell starting with one of these is a formula (or DDE call) to Excel, LibreOffice and
Google Sheets (OWASP *CSV injection*; the full-width forms too)."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def spreadsheet_cell(value: object) -> object:
    """A CSV/xlsx cell that a spreadsheet shows as written, never evaluates.

    Text that would start a formula gets a leading apostrophe (the spreadsheet convention for
    "this is text"); numbers, and text that is a plain number like "-12.5", pass unchanged.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_TRIGGERS):
        return value
    if _NUMBER.match(value):
        return value
    return "'" + value


def has_control_characters(value: str, *, newlines: bool = False) -> bool:
    """True when `value` holds a control character (NUL, ESC, ...); tabs pass, and line
    breaks (\\n) when `newlines` allows them."""
    pattern = _CONTROL if newlines else _CONTROL_OR_NEWLINE
    return pattern.search(value.replace("\t", " ")) is not None


def visible(value: object) -> str:
    """The text with every control character but line breaks and tabs shown as an escape
    (`\\x1b`), so stored text cannot drive the terminal it is printed on."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", str(value))


def one_line(value: object) -> str:
    """`visible`, and line breaks shown as `\\n` too: an error message stays one line."""
    return visible(value).replace("\n", "\\n")


def fold_name(value: str) -> str:
    """A name folded for comparison: accents dropped (Unicode NFKD without its combining
    marks), case folded, runs of white space made one. 'Société  Générale' and
    'SOCIETE GENERALE' fold to the same key, so they are one account."""
    decomposed = unicodedata.normalize("NFKD", value)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """`; did you mean 'bid'?` when `value` is close to one of `choices` (a typo of an enum
    value, a state, a command), else an empty string: appended to a refusal's one line."""
    import difflib

    options = list(choices)
    text = str(value).strip()
    folded = {option.lower(): option for option in options}
    if text.lower() in folded:
        return f"; did you mean '{folded[text.lower()]}'?"
    close = difflib.get_close_matches(text.lower(), list(folded), n=1, cutoff=0.6)
    return f"; did you mean '{folded[close[0]]}'?" if close else ""
