"""The one exception tree of the bid orchestrator.

    BidError                      anything the user can cause; the CLI prints one line, exit 2
    ├── InputError                a file, row or field the user gave is wrong
    │   ├── InputErrors           several problems in one file, one line each; nothing taken
    │   └── NotFound              an id that names nothing
    ├── RuleError                 a decision table could not be loaded or evaluated
    │   ├── RuleLoadError         a file in rules/ is malformed (names the file)
    │   └── RuleInputError        the facts handed to a table miss or mistype a field
    ├── TransitionRefused         a guard refused a lifecycle move (names guard and reason)
    ├── DecisionRefused           a person may not take this go/no-go decision
    ├── ApprovalError             an approval is not allowed or is out of date
    ├── DesignFreezeRefused       the solution design may not be frozen (state, person)
    ├── ChangeRefused             rules/changes.yaml refuses this change in this phase
    ├── UnsourcedSites            sites nobody quotes and no fallback partner (bid qrf)
    ├── NotPermitted              the acting person may not do this (no role, not an admin)
    │   └── NotAuthenticated      no credential, or an unknown or revoked one
    ├── NotificationError         a message could not be delivered (kept in the outbox)
    ├── PdfUnavailable            no PDF: LibreOffice is missing or could not convert
    └── RuntimeUnavailable        where automated work runs cannot be reached or used
        ├── PrefectUnavailable    Prefect cannot be reached, and a server of our own is unsafe
        └── DeploymentMissing     the server has no deployment to hand the work to

Faults of the machine, not of the user — a full disk, a read-only or forbidden folder, a
database that stopped answering — are not `BidError`s: `fault_line` turns them into one line
(exit 1) saying what was recorded and what was not. Anything else that escapes is a bug and
shows a traceback.
"""

from __future__ import annotations

import errno


class BidError(Exception):
    """Base of every error the user can cause or fix; printed as one line."""


class InputError(BidError):
    """A file, row or field supplied by the user is invalid.

    The message names the file, the row (1-based, header is row 1) and the field.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.field = field
        self.detail = message
        where = []
        if file is not None:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")


class InputErrors(InputError):
    """Several problems in one file; each is one line naming its row and field.

    The first line sums up; at most `MAX_LINES` problems follow, then how many more.
    """

    MAX_LINES = 20
    hint = ""
    """Said after "... and N more": where the whole list is (an import's --problems)."""
    also: tuple[object, ...] = ()
    """What the refused file held besides its problems (an import's exceptions), reported
    with them in --problems and --json."""

    def __init__(
        self, file: str, problems: list[InputError], *, outcome: str = "nothing imported"
    ) -> None:
        self.problems = problems
        self.outcome = outcome
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"{first.detail}{more}; {outcome}", file=file, row=first.row, field=first.field
        )

    def lines(self) -> list[str]:
        """A summary line, then one line per problem."""
        if len(self.problems) == 1:
            return [str(self)]
        summary = f"{self.file}: {len(self.problems)} problems; {self.outcome}"
        shown = [str(problem) for problem in self.problems[: self.MAX_LINES]]
        if len(self.problems) > self.MAX_LINES:
            shown.append(f"... and {len(self.problems) - self.MAX_LINES} more{self.hint}")
        return [summary, *shown]


class NotFound(InputError):
    """An opportunity, person or other id that names nothing."""


class RuleError(BidError):
    """A decision table failed to load or evaluate."""


class RuleLoadError(RuleError):
    """A decision file in rules/ is malformed; the message names the file."""


class RuleInputError(RuleError):
    """The facts given to a decision table miss a field or have a wrong type."""


class TransitionRefused(BidError):
    """A lifecycle transition was refused by a named guard, or is not allowed from this state."""

    def __init__(self, message: str, *, guard: str | None = None) -> None:
        self.guard = guard
        super().__init__(message)


class DecisionRefused(BidError):
    """A go/no-go decision was refused: wrong person, or a hard rule forbids it."""


class ApprovalError(BidError):
    """A governance approval is not allowed, not needed, or bound to an outdated proposal."""


class DesignFreezeRefused(BidError):
    """The solution design may not be frozen now, or not by this person."""


class ChangeRefused(BidError):
    """A change to quotes, prices, sites or terms is refused in the bid's phase
    (rules/changes.yaml); nothing was written."""


class UnsourcedSites(BidError):
    """Some sites have no provider and the catalogue has no fallback partner: the QRFs for
    the other sites were written, the unsourced ones listed (unsourced.csv)."""


class NotPermitted(BidError):
    """The acting person may not do this: no role on the bid, or not an admin."""


class NotAuthenticated(NotPermitted):
    """Who is acting is unknown: no credential, or an unknown or revoked token."""


class NotificationError(BidError):
    """A message could not be delivered; it stays in the outbox to be sent later."""


class PdfUnavailable(BidError):
    """A PDF could not be written: LibreOffice (soffice) is not installed or failed."""


class RuntimeUnavailable(BidError):
    """The place automated work runs (Prefect, the local service) cannot be used now."""


class PrefectUnavailable(RuntimeUnavailable):
    """Prefect cannot be reached, and starting a server of our own would be unsafe."""


class DeploymentMissing(RuntimeUnavailable):
    """BID_FLOW_DISPATCH=deployment, but the server has no such deployment."""


# --- faults of the machine -------------------------------------------------------------------

_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_READ_ONLY = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
_KEPT = (
    "what the command committed before stays recorded (bid history shows it), its unfinished "
    "step was not recorded"
)


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it was raised from or during, outermost first (no cycles)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen) and len(seen) < 20:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def fault_line(exc: BaseException) -> str | None:
    """One line for a fault of the machine (full disk, read-only or forbidden folder, a lost
    database connection), saying what was recorded and what was not; None for anything else
    (a bug: let it show its traceback). The doors print it and exit 1."""
    for cause in _causes(exc):
        if isinstance(cause, OSError) and cause.errno in _DISK_FULL | _READ_ONLY:
            where = f" {cause.filename}" if cause.filename else ""
            if cause.errno in _DISK_FULL:
                written = where or " a file"
                return f"the disk is full (writing{written}): {_KEPT}; free space and run it again"
            return (
                f"cannot write{where or ' a file'} ({cause.strerror or 'read-only'}): {_KEPT}; "
                "make the folder writable (or choose another with BID_OUTPUT_DIR) and run it again"
            )
        if _is_database_fault(cause):
            detail = " ".join(str(getattr(cause, "orig", None) or cause).split())[:160]
            if "disk is full" in detail or "disk I/O error" in detail:
                return (
                    f"the disk is full (the database: {detail}): {_KEPT}; free space and run "
                    "it again"
                )
            return (
                f"the database stopped answering ({detail}): the change in progress was rolled "
                f"back; {_KEPT}; run it again once the database is back"
            )
    return None


def _is_database_fault(exc: BaseException) -> bool:
    """SQLAlchemy's OperationalError or InterfaceError (a connection lost, a server gone, a
    disk full under SQLite), known by class name so this module imports no database library."""
    names = {klass.__name__ for klass in type(exc).__mro__}
    module = type(exc).__module__
    return bool({"OperationalError", "InterfaceError"} & names) and module.startswith(
        ("sqlalchemy", "sqlite3", "psycopg")
    )
