"""A document another process already rendered is not rendered again
(orchestrator/documents/stamps.py): the stamps are shared under the data folder, and a file
changed by hand since is rendered again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.context import Context
from orchestrator.documents.stamps import RenderStamps
from orchestrator.store.db import reading
from orchestrator.wiring import docx_documents
from tests.factories import new_bid


def test_a_stamp_written_by_one_process_is_seen_by_another(tmp_path: Path) -> None:
    shared = tmp_path / "stamps"
    doc = tmp_path / "out" / "plan.docx"
    doc.parent.mkdir()
    doc.write_bytes(b"rendered")
    RenderStamps(shared).remember(doc, "hash-1")

    other = RenderStamps(shared)  # another process: nothing in its memory
    assert other.unchanged(doc, "hash-1")
    assert not other.unchanged(doc, "hash-2")  # other content: render it
    assert not RenderStamps(None).unchanged(doc, "hash-1")  # no shared folder: memory only

    doc.write_bytes(b"edited by hand")  # changed since: rendered again
    assert not RenderStamps(shared).unchanged(doc, "hash-1")
    doc.unlink()
    assert not RenderStamps(shared).unchanged(doc, "hash-1")


def test_an_unreadable_stamps_file_costs_a_render_not_an_error(tmp_path: Path) -> None:
    shared = tmp_path / "stamps"
    doc = tmp_path / "plan.docx"
    doc.write_bytes(b"rendered")
    stamps = RenderStamps(shared)
    stamps.remember(doc, "h")
    for index in shared.iterdir():
        index.write_text("{not json")
    assert not RenderStamps(shared).unchanged(doc, "h")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_second_renderer_of_an_installation_leaves_the_first_ones_file(
    real_ctx: Context, tmp_path: Path
) -> None:
    from orchestrator.bid.facts import get_opportunity

    ref = new_bid(real_ctx)
    out = tmp_path / "bid"
    first = docx_documents(real_ctx.settings, real_ctx.clock)
    second = docx_documents(real_ctx.settings, real_ctx.clock)  # another process's renderer
    with reading(real_ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        written = first.current_documents(session, opportunity, out)
        (plan,) = written.documents
        before = os.stat(plan.path).st_mtime_ns
        again = second.current_documents(session, opportunity, out)
    assert os.stat(plan.path).st_mtime_ns == before  # not written again
    assert again.documents[0].content_hash == plan.content_hash
    assert (real_ctx.settings.data_dir / "render-stamps").is_dir()


def test_a_folders_stamps_are_parsed_again_only_when_another_process_wrote_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json as json_module

    from orchestrator.documents import stamps as stamps_module

    parsed = [0]
    real_loads = json_module.loads

    def counting(text: str) -> object:
        parsed[0] += 1
        return real_loads(text)

    monkeypatch.setattr(f"{stamps_module.__name__}.json.loads", counting)
    here, other = RenderStamps(tmp_path / "stamps"), RenderStamps(tmp_path / "stamps")
    out = tmp_path / "out"
    out.mkdir()
    plan = out / "plan.docx"
    plan.write_bytes(b"plan v1")
    here.remember(plan, "v1")
    other._held.clear()
    for _ in range(5):
        assert other.unchanged(plan, "v1")  # the other process reads the index once
        other._held.clear()
    assert parsed[0] <= 2
    plan.write_bytes(b"plan version 2")  # a new file, a new stamp written by `here`
    here.remember(plan, "v2")
    assert other.unchanged(plan, "v2") and not other.unchanged(plan, "v1")
