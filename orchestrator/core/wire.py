"""The wire format every command and result is built from: files as contents
(`FileUpload`), the `Command` and `Result` bases, and a bid's state after a move (`Moved`).

Pure: pydantic and the standard library. `orchestrator.core.commands` re-exports all of it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_UPLOAD_BYTES = 50_000_000
"""The largest file a command carries (the intake checks its own, smaller limits per kind)."""

MAX_TEXT = 4_000
"""Free text (reasons, strategies) a command accepts, in characters."""

REF_PATTERN = r"^[A-Za-z0-9-]{1,32}$"
"""A bid reference as people type it (`OPP-0001`, `1`)."""


class FileUpload(BaseModel):
    """A file the caller sends: its name (no folder) and its bytes, base64-encoded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    filename: str = Field(min_length=1, max_length=255, description="The file's name, no folder")
    content_base64: str = Field(description="The file's bytes, base64 (standard alphabet)")

    @field_validator("filename")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if "/" in value or "\\" in value or value in (".", "..") or "\x00" in value:
            raise ValueError("a file name without folders")
        return value

    @field_validator("content_base64")
    @classmethod
    def _size(cls, value: str) -> str:
        if len(value) > MAX_UPLOAD_BYTES * 4 // 3 + 4:
            raise ValueError(f"files are limited to {MAX_UPLOAD_BYTES:,} bytes")
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not valid base64") from None
        return value

    def content(self) -> bytes:
        return base64.b64decode(self.content_base64)

    @classmethod
    def of(cls, filename: str, content: bytes) -> FileUpload:
        return cls(filename=filename, content_base64=base64.b64encode(content).decode("ascii"))


class Command(BaseModel):
    """A request to change a bid. `name` is its name on the API and in the audit of doors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ClassVar[str]
    positional: ClassVar[tuple[str, ...]] = ()
    """The fields the CLI takes as arguments (the rest are `--options`)."""
    cli: ClassVar[tuple[str, ...]]
    """The CLI command path (`("opportunity", "create")`)."""


Ref = Field(pattern=REF_PATTERN, description="The bid, e.g. OPP-0001")
By = Field(
    default=None,
    max_length=320,
    description="Record it for this person (e-mail); only an admin or recorder names someone else",
)


# --- results ----------------------------------------------------------------------------------


class Result(BaseModel):
    """What a command did (the CLI renders the human answer from these fields)."""

    model_config = ConfigDict(extra="forbid")

    command: str
    opportunity: str | None = None
    message: str = ""
    notes: list[str] = Field(default_factory=list)
    """Things the person should know (a warning, an existing account kept as it was)."""

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class CarriedOn(BaseModel):
    """What carrying the bid on after an answer did: it `continued` (where to, or which run
    was scheduled), is `waiting` (a guard's reason), or `stopped` (kept on the bid's trail;
    `bid advance` runs it again). The answer itself is recorded in every case."""

    continued: str | None = None
    waiting: str | None = None
    stopped: str | None = None


class Moved(Result):
    """A bid's state after a command that may move it."""

    from_state: str
    state: str
    moved: bool
    recorded: bool = True
    """False when the command changed nothing because the answer was already given."""
    waiting_for: str | None = None
    documents: list[str] = Field(default_factory=list)
    carried_on: CarriedOn | None = None
    warnings: list[str] = Field(default_factory=list)
