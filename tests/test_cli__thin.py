"""The thin client parses the pipeline's commands exactly as the command models and the full
CLI define them, and leaves everything else to the full CLI."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import typer

from orchestrator.cli import thin
from orchestrator.cli.app import app
from orchestrator.core.commands import COMMANDS


def _click_command(path: tuple[str, ...]) -> Any:
    """The command as the CLI's Click (typer bundles its own Click, so no isinstance)."""
    command: Any = typer.main.get_command(app)
    for word in path:
        command = command.commands[word]
    return command


@pytest.mark.parametrize("path", list(thin.SHAPES), ids=" ".join)
def test_each_shape_matches_its_command_model_and_the_full_cli(path: tuple[str, ...]) -> None:
    shape = thin.SHAPES[path]
    model = COMMANDS[shape.name]
    assert model.cli == path
    assert shape.positional == model.positional
    named = {**shape.options, **shape.flags}
    assert set(named.values()) | set(shape.positional) == set(model.model_fields)
    required = {n for n, f in model.model_fields.items() if f.is_required()}
    assert set(shape.required) == required - set(shape.positional)
    assert set(shape.files) == {n for n in model.model_fields if n == "file"}
    # the full CLI takes the same arguments and options (and --json)
    params = _click_command(path).params
    arguments = tuple(p.name for p in params if p.param_type_name == "argument")
    options = {o for p in params if p.param_type_name == "option" for o in p.opts}
    assert arguments == shape.positional
    assert options - thin.IN_PROCESS_OPTIONS == set(named) | {"--json"}


def test_a_command_line_becomes_the_commands_fields(tmp_path: Path) -> None:
    parsed = thin.parse(["approve", "OPP-0001", "--area=financial", "--reject", "--reason", "x"])
    assert parsed is not None and not parsed.as_json
    assert parsed.values == {
        "opportunity": "OPP-0001",
        "area": "financial",
        "reject": True,
        "reason": "x",
    }
    sites = tmp_path / "sites.csv"
    sites.write_bytes(b"site_id\nS1\n")
    parsed = thin.parse(["sites", "import", "7", str(sites), "--json"])
    assert parsed is not None and parsed.as_json
    assert parsed.values["file"]["filename"] == "sites.csv"
    assert base64.b64decode(parsed.values["file"]["content_base64"]) == b"site_id\nS1\n"
    assert parsed.typed_files == {"sites.csv": str(sites)}
    dry = thin.parse(["sites", "import", "7", str(sites), "--dry-run", "--sheet", "Sites"])
    assert dry is not None and (dry.values["dry_run"], dry.values["sheet"]) == (True, "Sites")
    # --problems writes the caller's file: the line runs in process
    assert thin.parse(["sites", "import", "7", str(sites), "--problems", "p.csv"]) is None


@pytest.mark.parametrize(
    "argv",
    [
        ["decide", "OPP-1", "--help"],
        ["decide", "OPP-1", "--reason", "x"],  # --outcome missing: the full CLI says so
        ["approve", "OPP-1", "--area"],
        ["advance"],
        ["advance", "OPP-1", "OPP-2"],
        ["advance", "OPP-1", "--colour", "red"],
        ["sites", "import", "OPP-1", "/nonexistent/sites.csv"],
        ["people", "grant", "a@example.com", "--role", "admin"],
        ["history", "OPP-1"],
    ],
)
def test_anything_else_is_left_to_the_full_cli(argv: list[str]) -> None:
    assert thin.parse(argv) is None
