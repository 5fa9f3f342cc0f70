"""The one exception tree of the bid orchestrator.

    BidError                      anything the user can cause; the CLI prints one line, exit 2
    ├── InputError                a file, row or field the user gave is wrong
    │   └── NotFound              an id that names nothing
    ├── RuleError                 a decision table could not be loaded or evaluated
    │   ├── RuleLoadError         a file in rules/ is malformed (names the file)
    │   └── RuleInputError        the facts handed to a table miss or mistype a field
    ├── TransitionRefused         a guard refused a lifecycle move (names guard and reason)
    ├── DecisionRefused           a person may not take this go/no-go decision
    ├── ApprovalError             an approval is not allowed or is out of date
    └── NotificationError         a message could not be delivered (kept in the outbox)

Anything else that escapes is a bug and shows a traceback.
"""

from __future__ import annotations


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


class NotificationError(BidError):
    """A message could not be delivered; it stays in the outbox to be sent later."""
