"""How a CLI command runs a pipeline command in this process: read the files the user named
(with the user's own rights) into the command, dispatch it for the person running `bid`, and
give back its result as JSON (a dict) for the command's printer or `--json`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from orchestrator.context import Context
from orchestrator.core.commands import MAX_UPLOAD_BYTES, Command, FileUpload
from orchestrator.errors import InputError

C = TypeVar("C", bound=Command)


def upload(file: Path) -> FileUpload:
    """The file the user named, read here with the user's own rights and sent as contents."""
    try:
        size = file.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise InputError(f"is larger than {MAX_UPLOAD_BYTES:,} bytes", file=str(file))
        content = file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", file=str(file)) from None
    return FileUpload.of(file.name, content)


def command(kind: type[C], **fields: Any) -> C:
    """A command from the CLI's values; a value its model refuses is one line, exit 2."""
    try:
        return kind(**fields)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InputError(message, field=where.replace("_", "-") or None) from None


def run(
    get_context: Callable[[], Context], sent: Command, typed: Path | None = None
) -> dict[str, Any]:
    """Dispatch `sent` for the person running `bid`; its result as JSON. Problems in the
    file it carries name the file as `typed` on the command line."""
    from orchestrator.cli.identity import current_person
    from orchestrator.pipeline import dispatch, renamed

    ctx = get_context()
    try:
        result = dispatch(ctx, sent, current_person(ctx))
    except InputError as error:
        if typed is None:
            raise
        raise renamed(error, typed.name, str(typed)) from None
    return result.as_json()
