"""The typed commands of a bid's offer going out and pausing: the submission a person makes
(`bid submit`), and a bid put on hold and resumed (`bid hold`, `bid resume`).

Pure like `orchestrator.core.commands`, which re-exports them and lists them in `COMMANDS`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import Field

from orchestrator.core.wire import MAX_TEXT, By, CarriedOn, Command, Moved, Ref, Result

CHANNELS = ("portal", "email", "hand")
"""How an offer reaches the customer (`--channel`)."""


class SubmitOffer(Command):
    """Record that the offer went to the customer — how (`channel`), when (`at`, default
    now), by whom (`by`) and the customer's receipt or reference — after the last approval;
    the bid then waits for the customer's decision, whose clock starts at `at`."""

    name: ClassVar[str] = "submit"
    cli: ClassVar[tuple[str, ...]] = ("submit",)
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    channel: Literal["portal", "email", "hand"]
    reference: str = Field(min_length=1, max_length=MAX_TEXT)
    at: datetime | None = None
    by: str | None = By


class HoldBid(Command):
    """Put a bid on hold until a date, keeping everything in it: it does not move, its
    deadlines pause, its open quote requests are cancelled (each carrier told once)."""

    name: ClassVar[str] = "hold"
    cli: ClassVar[tuple[str, ...]] = ("hold",)
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    reason: str = Field(min_length=1, max_length=MAX_TEXT)
    until: date
    by: str | None = By


class ResumeBid(Command):
    """Take a bid off hold in the state it was in and carry it on."""

    name: ClassVar[str] = "resume"
    cli: ClassVar[tuple[str, ...]] = ("resume",)
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    by: str | None = By


# --- results ----------------------------------------------------------------------------------


class Submitted(Moved):
    """The offer sent: how, when and by whom, and the version the customer holds."""

    channel: str
    reference: str
    at: str
    by: str


class HoldChanged(Result):
    """A bid put on hold or resumed: where it stands, and what the hold did."""

    state: str
    on_hold: bool
    reason: str | None = None
    until: str | None = None
    cancelled_requests: list[str] = Field(default_factory=list)
    moved_milestones: int = 0
    carried_on: CarriedOn | None = None


SUBMISSION_COMMANDS: dict[type[Command], type[Result]] = {
    SubmitOffer: Submitted,
    HoldBid: HoldChanged,
    ResumeBid: HoldChanged,
}
"""The commands of this module and the result type of each."""
