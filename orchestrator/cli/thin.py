"""The `bid` entry point: send the command to this folder's JSON API when its service runs.

When `bid server` runs for the folder (`<data dir>/server.json`), the pipeline's commands and
the hot queries (`status`, `list`) are parsed here, sent to the service's JSON API as JSON
with the caller's token (files as their contents, read here with the caller's own rights),
and their results printed here by the same renderer the in-process CLI uses: no Python
start-up of the CLI, the database layer or Prefect per command. Every other command, any
line this small parser does not recognise (help, a usage mistake: the full CLI explains it),
no service, a service of another database, or BID_THIN=0 — runs in this process.

This module imports almost nothing, so a forwarded command costs little more than Python's
own start. `SHAPES` must match the command models in `orchestrator.core.commands` (a test checks).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Shape:
    """How a command looks on the command line."""

    name: str
    positional: tuple[str, ...]
    options: dict[str, str] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    required: tuple[str, ...] = ()


SHAPES: dict[tuple[str, ...], Shape] = {
    ("opportunity", "create"): Shape(
        "opportunity.create", ("file",), flags={"--dry-run": "dry_run"}, files=("file",)
    ),
    ("sites", "import"): Shape(
        "sites.import",
        ("opportunity", "file"),
        {"--sheet": "sheet"},
        {"--dry-run": "dry_run"},
        files=("file",),
    ),
    ("advance",): Shape("advance", ("opportunity",), {"--by": "by"}),
    ("decide",): Shape(
        "decide",
        ("opportunity",),
        {"--outcome": "outcome", "--by": "by", "--reason": "reason", "--category": "category"},
        required=("outcome", "reason"),
    ),
    ("approve",): Shape(
        "approve",
        ("opportunity",),
        {
            "--area": "area",
            "--by": "by",
            "--reason": "reason",
            "--version": "version",
            "--request-id": "request_id",
            "--fingerprint": "fingerprint",
            "--override-duties": "override_duties",
        },
        {"--reject": "reject"},
        required=("area",),
    ),
    ("strategy",): Shape("strategy", ("opportunity", "text"), {"--by": "by"}),
}
"""The pipeline's commands the thin client sends to the JSON API."""

IN_PROCESS_OPTIONS = frozenset({"--problems"})
"""Options of those commands the thin client does not parse, so that a line with one runs in
this process: `--problems FILE.csv` writes the caller's own file from the findings."""

QUERIES: dict[tuple[str, ...], tuple[str, ...]] = {("status",): ("opportunity",), ("list",): ()}


@dataclass
class Parsed:
    path: tuple[str, ...]
    values: dict[str, Any]
    as_json: bool
    typed_files: dict[str, str] = field(default_factory=dict)


def parse(argv: list[str]) -> Parsed | None:
    """The command line as a command's fields; None for anything this parser leaves to the
    full CLI (unknown words, help, a missing value)."""
    for path in (*SHAPES, *QUERIES):
        if tuple(argv[: len(path)]) == path:
            break
    else:
        return None
    shape = SHAPES.get(path)
    positional = shape.positional if shape else QUERIES[path]
    options = dict(shape.options) if shape else {}
    flags = dict(shape.flags) if shape else {}
    if path == ("list",):
        options["--state"] = "state"
    values: dict[str, Any] = {}
    args: list[str] = []
    as_json = False
    words = argv[len(path) :]
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--json":
            as_json = True
        elif word in flags:
            values[flags[word]] = True
        elif word.startswith("--"):
            name, eq, inline = word.partition("=")
            if name not in options:
                return None
            if eq:
                values[options[name]] = inline
            elif i + 1 < len(words):
                i += 1
                values[options[name]] = words[i]
            else:
                return None
        elif word.startswith("-") and word != "-":
            return None
        else:
            args.append(word)
        i += 1
    if len(args) != len(positional):
        return None
    values.update(zip(positional, args, strict=True))
    if shape and any(name not in values for name in shape.required):
        return None
    parsed = Parsed(path, values, as_json)
    for name in shape.files if shape else ():
        file = Path(values[name])
        try:
            content = file.read_bytes()
        except OSError:
            return None  # the full CLI says why, naming the file
        parsed.typed_files[file.name] = values[name]
        values[name] = {
            "filename": file.name,
            "content_base64": base64.b64encode(content).decode("ascii"),
        }
    return parsed


def _request(
    url: str, token: str | None, body: dict[str, Any] | None, service_id: str | None = None
) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    if service_id:  # a service of another folder refuses (409) instead of running it
        request.add_header("X-Bid-Service", service_id)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=None) as reply:
        return json.loads(reply.read())


def _forward(argv: list[str]) -> int | None:
    """Run `argv` through this folder's JSON API; None when it runs in this process."""
    from orchestrator.config import load_settings
    from orchestrator.runtime import service
    from orchestrator.runtime.credentials import caller_token

    settings = load_settings()
    from orchestrator.runtime.prefect_home import service_id

    info = service.read_info(settings)
    if info is None or info.database_url != settings.database_url:
        return None
    identity = service_id(settings)
    if identity is None or info.service_id != identity:
        return None
    parsed = parse(argv)
    if parsed is None:
        return None
    token = caller_token(settings)
    base = info.api_url
    try:
        if parsed.path == ("status",):
            ref = urllib.parse.quote(parsed.values["opportunity"], safe="")
            answer = _request(f"{base}/bids/{ref}", token, None, identity)
        elif parsed.path == ("list",):
            state = parsed.values.get("state")
            query = f"?{urllib.parse.urlencode({'state': state})}" if state else ""
            answer = _request(f"{base}/bids{query}", token, None, identity)
        else:
            name = SHAPES[parsed.path].name
            answer = _request(f"{base}/commands/{name}", token, parsed.values, identity)
    except urllib.error.HTTPError as error:
        if error.code == 409 and error.headers.get("X-Bid-Service-Mismatch"):
            return None  # another folder's service on the recorded port: run it here
        return _refused(error, parsed)
    except (urllib.error.URLError, OSError):
        return None  # it stopped meanwhile: run the command here
    _print(parsed, answer)
    return 0


def _print(parsed: Parsed, answer: Any) -> None:
    from orchestrator.cli import render
    from orchestrator.text import visible

    if parsed.as_json:
        sys.stdout.write(json.dumps(answer, indent=2, default=str) + "\n")
        return
    if parsed.path == ("status",):
        lines = render.status_lines(answer)
    elif parsed.path == ("list",):
        width = shutil.get_terminal_size((80, 24)).columns if sys.stdout.isatty() else 80
        lines = render.list_lines(answer, width)
    else:
        for line in render.note_lines(answer):
            sys.stderr.write(visible(line) + "\n")
        lines = render.result_lines(answer)
    sys.stdout.write("".join(visible(line) + "\n" for line in lines))


def _red(text: str) -> str:
    """Red on a terminal, as the full CLI's errors; plain with NO_COLOR or when redirected."""
    if os.environ.get("NO_COLOR") or not sys.stderr.isatty():
        return text
    return f"\x1b[31m{text}\x1b[0m"


def _refused(error: urllib.error.HTTPError, parsed: Parsed) -> int:
    """The API's one-line reason, as the in-process CLI prints it; exit 2 (1 for a fault)."""
    from orchestrator.text import one_line

    try:
        body = json.loads(error.read())
        lines = [str(line) for line in body.get("lines") or [body.get("error") or error.reason]]
    except (ValueError, OSError, AttributeError):
        lines = [str(error.reason)]
    if error.code == 401:
        lines = [f"the bid service at {error.url.split('/api/')[0]} refused: {lines[0]}"]
    from orchestrator.cli.render import with_hint

    for line in lines:
        for name, typed in parsed.typed_files.items():
            if line.startswith(name):
                line = typed + line[len(name) :]
        sys.stderr.write(_red(one_line(f"error: {with_hint(line)}")) + "\n")
    return 1 if error.code >= 500 else 2


LOCAL_ONLY = frozenset(
    {"server", "ui", "serve", "serve-flows", "demo", "login", "--help", "-h", "--version"}
)
"""Commands that always run in this process (they start services or need the terminal)."""


def main() -> int:
    argv = sys.argv[1:]
    if argv == ["--version"]:
        from orchestrator import __version__

        sys.stdout.write(f"bid {__version__}\n")
        return 0
    if argv and argv[0] not in LOCAL_ONLY and os.environ.get("BID_THIN", "1") != "0":
        code = _forward(argv)
        if code is not None:
            return code
    from orchestrator.cli.app import main as run_here

    return run_here(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
