"""The handler table: which function handles which typed command, and what every handler
shares (the caller of the command being handled, files as contents, a moved bid as a result).

A handler is `handler(ctx, command, actor, runner) -> Result`: `actor` is the person the
command is recorded for (the caller, or with `by` the person an admin or recorder records
for); `caller()` is the person who sent it (a `Person`, set by `dispatch` in a context
variable), for the commands whose permission is the sender's own (people and grants, an
override of the duties) and never `by`'s. Handlers commit
through the bid's services; `orchestrator.pipeline.dispatch` drains the effects after them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.bid.facts import StepResult
from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.errors import InputError, InputErrors, NotFound
from orchestrator.intake.findings import Finding, Problem
from orchestrator.runtime.runner import FlowRunner
from orchestrator.store.models import Person

C = TypeVar("C", bound=c.Command)
Handler = Callable[[Context, Any, str, FlowRunner], c.Result]

HANDLERS: dict[type[c.Command], Handler] = {}
"""Every registered handler, by the type of command it handles."""

CALLER: ContextVar[Person | None] = ContextVar("pipeline_caller", default=None)
"""The person who sent the command being handled (an override is theirs, not `by`'s; an
admin's command is the admin's own); set by `dispatch` around the handler."""


def handles(kind: type[C]) -> Callable[[Callable[[Context, C, str, FlowRunner], c.Result]], Any]:
    """Register the decorated function as the handler of commands of type `kind`."""

    def register(handler: Callable[[Context, C, str, FlowRunner], c.Result]) -> Any:
        HANDLERS[kind] = handler
        return handler

    return register


def handled() -> frozenset[str]:
    """The names of the commands with a handler."""
    return frozenset(kind.name for kind in HANDLERS)


def caller() -> Person:
    """The person who sent the command being handled (never `by`: a grant, a token or an
    override of the duties is checked against the sender's own rights)."""
    sender = CALLER.get()
    if sender is None:  # pragma: no cover - only `dispatch` calls handlers
        raise RuntimeError("a handler runs inside dispatch only")
    return sender


# --- files as contents ------------------------------------------------------------------------


@contextmanager
def uploaded(upload: c.FileUpload) -> Iterator[Path]:
    """The upload as a file in a private temporary folder (mode 0700), removed afterwards;
    problems found in it name the file as the caller called it."""
    with tempfile.TemporaryDirectory(prefix="bid-upload-") as folder:
        path = Path(folder) / upload.filename
        path.write_bytes(upload.content())
        try:
            yield path
        except InputError as error:
            raise renamed(error, str(path), upload.filename) from None


def renamed(error: InputError, path: str, name: str) -> InputError:
    """`error` with the file `path` called `name` (the door shows the name its user knows)."""
    if isinstance(error, InputErrors):
        problems = [renamed(problem, path, name) for problem in error.problems]
        again = InputErrors(
            _rename(error.file, path, name) or name, problems, outcome=error.outcome
        )
        again.also = tuple(
            replace(f, file=name) if isinstance(f, Finding) and f.file == path else f
            for f in error.also
        )
        return again
    if type(error) in (InputError, NotFound) and error.file:
        return type(error)(
            error.detail, file=_rename(error.file, path, name), row=error.row, field=error.field
        )
    if isinstance(error, Problem) and error.file:
        return Problem(
            error.detail,
            file=_rename(error.file, path, name),
            row=error.row,
            field=error.field,
            value=error.value,
            rule=error.rule,
        )
    return error


def findings_out(found: Iterable[Finding], path: Path, name: str) -> list[c.FindingOut]:
    """An import's findings for its result, naming the file as the caller called it."""
    return [
        c.FindingOut(**{**f.as_json(), "file": _rename(f.file, str(path), name) or name})
        for f in found
    ]


def _rename(file: str | None, path: str, name: str) -> str | None:
    return name if file == path else file


# --- results ----------------------------------------------------------------------------------


def moved(name: str, step: StepResult) -> c.Moved:
    """A service's answer to a change of a bid (`StepResult`) as the command's result."""
    return c.Moved(
        command=name,
        opportunity=step.ref,
        message=step.message,
        from_state=step.from_state.value,
        state=step.to_state.value,
        moved=step.moved,
        recorded=step.recorded,
        waiting_for=step.waiting_for,
        documents=list(step.documents),
    )
