"""Rule files read once and again only when they change.

A rules table is asked for many times a move (every move syncs the bid's milestones, prices
the deal, checks the exit criteria); parsing its YAML each time was most of a move's CPU.
Loaders cache the parsed table under the file's stamp: an edited file is read again at its
next use, without a restart.
"""

from __future__ import annotations

from pathlib import Path


def file_stamp(path: Path) -> tuple[int, int]:
    """What changes when the file does: its modification time (ns) and size; (0, 0) when it
    cannot be read (the loader then says so, naming the file)."""
    try:
        st = path.stat()
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)
