"""What an import found, of two kinds: a *problem* (the file is malformed: not a number, an
unknown country, a duplicate id) refuses the whole file; an *exception* (plausible, but a
person must decide: more bandwidth than the access carries, a quote far from the list price)
is imported and becomes a design task, which blocks the design freeze until it is resolved.

Which kind a rule's finding is, the rule says (`kind: problem|exception` in rules/). Every
import reports its findings the same way: the first `SHOWN` on screen with the count of the
rest, all of them in a `--problems FILE.csv` (one row each: `FINDING_COLUMNS`), and with
`--json` the list and its counts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from orchestrator.errors import InputError, InputErrors, RuleLoadError

Kind = Literal["problem", "exception"]
KINDS: tuple[Kind, ...] = ("problem", "exception")
FINDING_COLUMNS = ("file", "row", "field", "value", "kind", "rule", "message")
"""The columns of a `--problems` CSV, in order."""
SHOWN = 20
"""Findings printed on screen; the rest are counted and written with --problems."""
FORMAT_RULE = "format"
"""The rule of a problem found by the intake's own column checks (not a file in rules/)."""


@dataclass(frozen=True)
class Finding:
    """One thing an import found in one row and field."""

    file: str
    row: int | None
    field: str | None
    value: str
    kind: Kind
    rule: str
    message: str
    site_id: str | None = None
    owner_role: str | None = None
    """Who decides an exception (solution consultant, sales support)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "row": self.row,
            "field": self.field,
            "value": self.value,
            "kind": self.kind,
            "rule": self.rule,
            "message": self.message,
            "site_id": self.site_id,
            "owner_role": self.owner_role,
        }

    def line(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{', '.join(where)}: {self.kind}: {self.message}"


class Problem(InputError):
    """A problem that knows the value it found and the rule it broke (for --problems)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
        value: str = "",
        rule: str = FORMAT_RULE,
    ) -> None:
        super().__init__(message, file=file, row=row, field=field)
        self.value = value
        self.rule = rule


def problem_finding(error: InputError, file: str | None = None) -> Finding:
    """A refusing problem as a finding row."""
    return Finding(
        file=error.file or file or "",
        row=error.row,
        field=error.field,
        value=str(getattr(error, "value", "") or ""),
        kind="problem",
        rule=str(getattr(error, "rule", FORMAT_RULE)),
        message=error.detail,
    )


def findings_of(error: InputError) -> list[Finding]:
    """Every finding of a refusal: its problems (one for a single `InputError`), then the
    exceptions the refused file held (`InputErrors.also`)."""
    if isinstance(error, InputErrors):
        found = [problem_finding(problem, error.file) for problem in error.problems]
        return found + [f for f in error.also if isinstance(f, Finding)]
    return [problem_finding(error)]


def counts(findings: Sequence[Finding]) -> dict[str, int]:
    """How many findings of each kind: the `counts` of an import's JSON."""
    return {
        "problems": sum(1 for f in findings if f.kind == "problem"),
        "exceptions": sum(1 for f in findings if f.kind == "exception"),
    }


def findings_csv(findings: Iterable[Finding]) -> str:
    """The `--problems` file's text: a header, then one row per finding."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FINDING_COLUMNS)
    for f in findings:
        writer.writerow(
            [
                f.file,
                "" if f.row is None else f.row,
                f.field or "",
                f.value,
                f.kind,
                f.rule,
                f.message,
            ]
        )
    return out.getvalue()


def shown_lines(findings: Sequence[Finding], problems_file: str | None) -> list[str]:
    """The first `SHOWN` findings, one line each, then how many more and where they are."""
    lines = [f.line() for f in findings[:SHOWN]]
    rest = len(findings) - SHOWN
    if rest > 0:
        where = (
            f"all {len(findings):,} in {problems_file}"
            if problems_file
            else "write them all with --problems FILE.csv"
        )
        lines.append(f"… and {rest:,} more ({where})")
    return lines


def parse_kind(value: object, where: str) -> Kind:
    """A rule's `kind`: problem or exception (`RuleLoadError` naming `where` otherwise)."""
    if value not in KINDS:
        raise RuleLoadError(f"{where}: kind must be problem or exception, not {value!r}")
    return "problem" if value == "problem" else "exception"
