"""A dispatcher in a process of its own, for the test that kills it between its claim and
the effect it claimed (tests/test_effects__outbox.py).

    python -m tests.support.effects_child NOW COUNT_FILE [hold]

Drains the effects outbox of the database named by `BID_DATABASE_URL` at the fixed time
NOW (ISO). Each render appends one line to COUNT_FILE, so the test counts the renders of
every process. With `hold`, it prints `claimed <key>` once it holds an effect and waits
there, before running it, for the test to kill it.
"""

from __future__ import annotations

import hashlib
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator.config import load_settings
from orchestrator.dispatch import drain
from orchestrator.ports import ProducedDocuments, RenderedDocument
from orchestrator.store.effects import ClaimedEffect
from orchestrator.wiring import open_context


class CountingDocuments:
    """Renders the plan as a small file and counts every render in a shared file."""

    def __init__(self, count_file: Path) -> None:
        self.count_file = count_file

    def current_documents(
        self, session: Any, opportunity: Any, out_dir: Path, version: Any = None
    ) -> Any:
        with self.count_file.open("a") as counted:
            counted.write(f"{opportunity.ref}\n")
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "control-plan.txt"
        path.write_text(opportunity.state.value)
        digest = hashlib.sha256(opportunity.state.value.encode()).hexdigest()
        return ProducedDocuments([RenderedDocument("control_plan", "control-plan", path, digest)])


def hold(effect: ClaimedEffect) -> None:
    print(f"claimed {effect.key}", flush=True)
    time.sleep(600)


def main(argv: list[str]) -> None:
    now = datetime.fromisoformat(argv[0])
    ctx = open_context(
        load_settings(),
        clock=lambda: now,
        documents=CountingDocuments(Path(argv[1])),  # type: ignore[arg-type]
    )
    report = drain(ctx, notify=False, after_claim=hold if argv[2:] == ["hold"] else None)
    print(f"done {len(report.done)} failed {len(report.failed)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
