"""How a CLI command runs a pipeline command in this process: read the files the user named
(with the user's own rights) into the command, dispatch it for the person running `bid`, and
give back its result as JSON (a dict) for the command's printer or `--json`."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from orchestrator.context import Context
from orchestrator.core.commands import MAX_UPLOAD_BYTES, Command, FileUpload
from orchestrator.errors import InputError
from orchestrator.text import did_you_mean

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


def command(kind: type[C], /, **fields: Any) -> C:
    """A command from the CLI's values; a value its model refuses is one line, exit 2."""
    try:
        return kind(**fields)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] in ("enum", "literal_error"):  # a typo of one of the allowed values
            allowed = re.findall(r"'([^']*)'", str((first.get("ctx") or {}).get("expected", "")))
            message += did_you_mean(first.get("input", ""), allowed)
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


def copy_out(get_context: Callable[[], Context], result: dict[str, Any], out: Path) -> None:
    """Copy the files a command produced in the bid's output folder to the user's folder
    `out` (with the user's own rights, keeping their place under the bid's folder), and name
    the copies in `result` — what `--out` asks for."""
    import shutil

    ref = result["opportunity"]
    folder = get_context().output_dir_for(ref).resolve()
    for document in result.get("documents") or ():
        source = Path(document["path"])
        if "://" in document["path"] or not source.is_file():
            raise InputError(
                f"cannot copy {document['path']} to --out (not a local file); "
                "read it from the bid's output folder",
                field="out",
            )
        try:
            place = source.resolve().relative_to(folder)
        except ValueError:
            place = Path(source.name)
        target = out / place
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        except OSError as exc:
            raise InputError(
                f"cannot write the copy ({exc.strerror or exc})", file=str(target)
            ) from None
        document["path"] = str(target)
