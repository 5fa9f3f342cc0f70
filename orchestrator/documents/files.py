"""Writing documents to disk: the content hash, atomic replace, and CSV files.

A content hash is the SHA-256 of a template and of the plain context rendered into it: the
same inputs give the same hash. Every file is written to a temporary sibling and then
replaced, so a crash never leaves half a file behind.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orchestrator.ports import RenderedDocument


def content_hash(template_digest: str, context: Any) -> str:
    """SHA-256 of a template and the inputs rendered into it: the version people sign."""
    payload = json.dumps(context, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{template_digest}\n{payload}".encode()).hexdigest()


@contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """Write to a temporary sibling, then replace: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_csv(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], path: Path, *, kind: str, name: str
) -> RenderedDocument:
    """Rows as a UTF-8 CSV; its hash is the SHA-256 of the text written."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    text = buffer.getvalue()
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()
    return RenderedDocument(kind=kind, name=name, path=path, content_hash=digest)
