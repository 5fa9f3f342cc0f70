"""What the renderer last wrote where, shared by every process of an installation.

A document's content hash is known before it is rendered; a file that already holds that
content (and was not touched since) is not rendered again. In production mode the moves
of one bid are rendered by several processes (two task workers, the Slack app, a command),
so what one process wrote is recorded where the others look: one small JSON file per
output folder under the data folder (never in the customer's output folder). A stamp
holds the content stamp and the file's modification time and size: a file edited or
replaced by hand no longer matches and is rendered again. A lost update (two processes
writing one folder's stamps at once) costs one render more, never a stale file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

Stamp = tuple[str, int, int]
"""(content stamp, mtime_ns, size) of a file as its renderer wrote it."""


def _file_stamp(path: Path, content: str) -> Stamp | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (content, st.st_mtime_ns, st.st_size)


class RenderStamps:
    """Stamps kept in memory, and under `folder` when one is given (shared by processes)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self._held: dict[Path, Stamp] = {}
        self._indexes: dict[Path, tuple[tuple[int, int], dict[str, list[object]]]] = {}
        """Each index file as last parsed, by its (mtime_ns, size) then."""

    def _index(self, directory: Path) -> Path | None:
        if self.folder is None:
            return None
        key = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:24]
        return self.folder / f"{key}.json"

    def _read(self, index: Path) -> dict[str, list[object]]:
        """The folder's stamps, parsed again only when the index file changed since this
        process last read or wrote it (every render looks at it several times)."""
        try:
            st = index.stat()
        except OSError:
            return {}
        seen = (st.st_mtime_ns, st.st_size)
        held = self._indexes.get(index)
        if held is not None and held[0] == seen:
            return dict(held[1])
        try:
            data = json.loads(index.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        if len(self._indexes) >= 1000:  # a long-lived worker, thousands of bids: start afresh
            self._indexes.clear()
        self._indexes[index] = (seen, data)
        return dict(data)

    def unchanged(self, path: Path, content: str) -> bool:
        """`path` holds what a renderer wrote for `content`, untouched since."""
        now = _file_stamp(path, content)
        if now is None:
            return False
        if self._held.get(path) == now:
            return True
        index = self._index(path.parent)
        if index is None:
            return False
        entry = self._read(index).get(path.name)
        if isinstance(entry, list) and len(entry) == 3 and tuple(entry) == now:
            self._held[path] = now
            return True
        return False

    def remember(self, path: Path, content: str) -> None:
        """A renderer just wrote `content` to `path`."""
        now = _file_stamp(path, content)
        if now is None:
            return
        self._held[path] = now
        index = self._index(path.parent)
        if index is None:
            return
        with contextlib.suppress(OSError):  # a stamp not kept costs one render, no more
            index.parent.mkdir(parents=True, exist_ok=True)
            data = self._read(index)
            data[path.name] = list(now)
            tmp = index.with_name(f"{index.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, index)
