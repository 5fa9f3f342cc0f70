"""Writing documents to disk: the content hash, atomic replace, and CSV files.

A content hash is the SHA-256 of a template and of the plain context rendered into it: the
same inputs give the same hash. Every file is written to a temporary sibling of its own (a
unique name per writer) and then replaced, so a crash never leaves half a file behind and
two processes rendering the same bid never take each other's temporary file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orchestrator.ports import RenderedDocument
from orchestrator.text import spreadsheet_cell


def content_hash(template_digest: str, context: Any) -> str:
    """SHA-256 of a template and the inputs rendered into it: the version people sign."""
    payload = json.dumps(context, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{template_digest}\n{payload}".encode()).hexdigest()


@contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """Write to a temporary sibling, then replace: a crash never leaves half a file.

    The temporary name is unique per writer, so concurrent renders of one file (two
    `bid docs` at once, a flow run beside the CLI) each replace the file whole; the last
    one wins and none fails.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_csv(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], path: Path, *, kind: str, name: str
) -> RenderedDocument:
    """Rows as a UTF-8 CSV; its hash is the SHA-256 of the text written.

    Text cells are neutralised for spreadsheets (`text.spreadsheet_cell`): a postcode
    `=1+1` is written `'=1+1`. Site ids cannot start a formula (intake allows letters,
    digits and `._-`, starting with a letter or digit), so they are written as stored and
    a QRF read back by `bid quotes import` names the same sites.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: spreadsheet_cell(value) for key, value in row.items()} for row in rows)
    text = buffer.getvalue()
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()
    return RenderedDocument(kind=kind, name=name, path=path, content_hash=digest)
