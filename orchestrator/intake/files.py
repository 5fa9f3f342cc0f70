"""Reading a file a user hands in: size, encoding and (for YAML) shape, before any parsing.

Every refusal is one `InputError` naming the file (and the line where there is one), never
a traceback: a binary file, a file that is not UTF-8, a CSV field past the size limit, a
YAML document nested too deep, with duplicate keys, an impossible date, or aliases that
expand into more than a document could need (the "billion laughs").
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from orchestrator.config import LIMITS
from orchestrator.errors import InputError

MAX_YAML_BYTES = LIMITS.yaml_bytes
MAX_CSV_BYTES = LIMITS.upload_bytes
MAX_YAML_DEPTH = 32
MAX_YAML_ALIASES = 100
MAX_YAML_NODES = 50_000
"""Nodes after expanding aliases: a real opportunity has a few hundred."""
MAX_CSV_FIELD = 4_096
"""Characters in one CSV cell (an address line, a name); longer is not a field but garbage."""


def read_text(path: Path, *, max_bytes: int) -> str:
    """The file's text (UTF-8, a BOM allowed); `InputError` for unreadable, binary,
    oversized or non-UTF-8 files."""
    name = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", file=name) from None
    if len(data) > max_bytes:
        raise InputError(
            f"is larger than {max_bytes:,} bytes (the limit of bytes per file)", file=name
        )
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise InputError("is a binary file, not text (a NUL byte)", file=name, row=line)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8",
            file=name,
            row=line,
        ) from None


def csv_rows(
    path: Path, *, max_bytes: int = MAX_CSV_BYTES, max_field: int = MAX_CSV_FIELD
) -> Iterator[tuple[int, list[str]]]:
    """(row, cells) of a CSV file, the header being row 1; blank lines are skipped (as
    `csv.DictReader` does). `InputError` naming the row on malformed CSV; cells longer than
    `max_field` characters are malformed (an answer library's cells hold whole answers)."""
    name = str(path)
    text = read_text(path, max_bytes=max_bytes)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    row = 0
    previous = csv.field_size_limit(max_field)
    try:
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InputError(f"malformed CSV: {exc}", file=name, row=row + 1) from None
            if not cells:
                continue
            row += 1
            yield row, cells
    finally:
        csv.field_size_limit(previous)


# --- YAML --------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing duplicate keys and naming impossible dates."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class says so
                continue
            if first is not None:
                raise ConstructorError(
                    None,
                    None,
                    f"duplicate key '{key}' (first on line {first})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> datetime.date:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:
            raise ConstructorError(
                None, None, f"'{node.value}' is not a date ({exc})", node.start_mark
            ) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _check_shape(text: str, name: str) -> None:
    """Depth, aliases and expanded size, from the event stream (no recursion, no expansion)."""
    sizes: dict[str, int] = {}
    frames: list[list[Any]] = [[None, 0]]  # [anchor, nodes]
    aliases = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                raise InputError(
                    f"more than {MAX_YAML_ALIASES} YAML aliases (*name)", file=name, row=line
                )
            frames[-1][1] += sizes.get(str(event.anchor), 1)
        elif isinstance(event, yaml.ScalarEvent):
            frames[-1][1] += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            frames.append([event.anchor, 1])
            if len(frames) - 1 > MAX_YAML_DEPTH:
                raise InputError(f"nested deeper than {MAX_YAML_DEPTH} levels", file=name, row=line)
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, nodes = frames.pop()
            if anchor:
                sizes[anchor] = nodes
            frames[-1][1] += nodes
        if frames[0][1] + sum(frame[1] for frame in frames[1:]) > MAX_YAML_NODES:
            raise InputError(
                f"expands to more than {MAX_YAML_NODES:,} values (YAML aliases?)",
                file=name,
                row=line,
            )


def load_yaml(path: Path, *, max_bytes: int = MAX_YAML_BYTES) -> tuple[Any, yaml.Node | None]:
    """The file's single YAML document and its node tree (for line numbers)."""
    name = str(path)
    text = read_text(path, max_bytes=max_bytes)
    try:
        _check_shape(text, name)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(
            f"malformed YAML: {problem}", file=name, row=mark.line + 1 if mark else None
        ) from None
    return data, root
