"""Concurrent renders of one file (five `bid docs` at once) each replace it whole: a unique
temporary name per writer, no FileNotFoundError, no half file, no temporary left behind."""

from __future__ import annotations

import threading
from pathlib import Path

from orchestrator.documents.files import atomic_write

WRITERS = 8


def test_concurrent_writers_of_one_file_all_succeed(tmp_path: Path) -> None:
    target = tmp_path / "qrf" / "qrf-DE-telekom.csv"
    everyone_inside = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with atomic_write(target) as tmp:
                tmp.write_text(f"writer {n}\n" * 1000)
                everyone_inside.wait(timeout=30)  # all temporaries exist before any replace
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    lines = set(target.read_text().splitlines())
    assert len(lines) == 1 and lines <= {f"writer {n}" for n in range(WRITERS)}
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "proposal.docx"
    target.write_text("approved version")
    try:
        with atomic_write(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("renderer crashed")
    except RuntimeError:
        pass
    assert target.read_text() == "approved version"
    assert [p.name for p in tmp_path.iterdir()] == ["proposal.docx"]
