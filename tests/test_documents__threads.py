"""Threads of one process build .docx files one at a time (orchestrator/documents/renderer.py,
`docx_template.DOCX_LOCK`).

python-docx parses every part with one lxml parser shared by the process, and lxml does not
support one parser parsing in two threads at once: a task worker carrying eight bids at a
time died of a segmentation fault in lxml, with the eight bids it carried.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from orchestrator.bid.facts import get_opportunity
from orchestrator.context import Context
from orchestrator.documents import docx_template
from orchestrator.store.db import reading
from tests.factories import new_bid


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_threads_build_docx_files_one_at_a_time(
    real_ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = new_bid(real_ctx, 2)
    inside = [0]
    most = [0]
    count = threading.Lock()
    real_render = docx_template.PreparedDocx.render

    def render(self: Any, *args: Any, **kwargs: Any) -> bytes:
        with count:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.02)  # long enough for another thread to come in, were it let in
        try:
            return real_render(self, *args, **kwargs)
        finally:
            with count:
                inside[0] -= 1

    monkeypatch.setattr(docx_template.PreparedDocx, "render", render)

    def plan(n: int) -> Path:
        with reading(real_ctx.engine) as session:
            opportunity = get_opportunity(session, ref)
            produced = real_ctx.documents.current_documents(session, opportunity, tmp_path / str(n))
        [plan] = produced.documents  # before bid production: the Bid Control Plan only
        return plan.path

    with ThreadPoolExecutor(max_workers=4) as pool:
        paths = list(pool.map(plan, range(8)))
    assert most[0] == 1
    assert all(p.stat().st_size > 0 for p in paths)
    assert len({p.read_bytes() for p in paths}) == 1  # the same plan, whole, eight times
