"""A prepared template writes what docxtpl writes (orchestrator/documents/docx_template.py).

Every document a won bid has (QRFs, proposal, Bid Control Plan, submission letter, order
sheet) is rendered from the contexts the renderer really built, once by docxtpl and once
through the prepared template: the packages hold the same parts, byte for byte.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from orchestrator.bid.progress import services
from orchestrator.context import Context
from orchestrator.dispatch import drain
from orchestrator.documents import docx_template, renderer
from orchestrator.documents.docx_template import DOCX_LOCK, prepare, render_with_docxtpl
from tests.factories import PEOPLE, carry_to_governance, grant_all, new_bid, submit

Rendered = tuple[str, dict[str, Any], dict[str, Path]]


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return {name: package.read(name) for name in package.namelist()}


@pytest.fixture
def rendered(real_ctx: Context, monkeypatch: pytest.MonkeyPatch) -> list[Rendered]:
    """(template, context as rendered, pictures) of every .docx of a won bid."""
    seen: list[Rendered] = []
    real = renderer.DocxDocuments.render_docx

    def render_docx(
        self: Any, template: str, context: dict[str, Any], path: Path, **kw: Any
    ) -> Any:
        document = real(self, template, context, path, **kw)
        rendering = {**context, **(kw.get("unhashed") or {}), "content_hash": document.content_hash}
        seen.append((template, rendering, kw.get("images") or {}))
        return document

    monkeypatch.setattr(renderer.DocxDocuments, "render_docx", render_docx)
    ref = new_bid(real_ctx, 4)
    for step in (
        lambda: carry_to_governance(real_ctx, ref),
        lambda: grant_all(real_ctx, ref),
        lambda: services.run_to_wait(real_ctx, ref),
        lambda: submit(real_ctx, ref),
        lambda: services.record_result(
            real_ctx, ref, won=True, reason="best", by=PEOPLE["bid_manager"]
        ),
        lambda: services.run_to_wait(real_ctx, ref),
    ):
        step()
        drain(real_ctx, notify=False)  # the documents that follow the bid: the plan, ...
    return seen


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_prepared_template_writes_the_parts_docxtpl_writes(
    real_ctx: Context, rendered: list[Rendered]
) -> None:
    templates = {template for template, _, _ in rendered}
    assert templates >= {
        "qrf.docx",
        "proposal.docx",
        "control_plan.docx",
        "submission_letter.docx",
        "order_sheet.docx",
    }
    env = docx_template.CompilingOnce(autoescape=True)
    folder = real_ctx.settings.templates_dir
    compared = 0
    for template, context, images in rendered:
        data = (folder / template).read_bytes()
        with DOCX_LOCK:
            prepared = prepare(data, env, images)
            assert prepared is not None, template
            fast = _parts(prepared.render(context))
            slow = _parts(render_with_docxtpl(data, context, env, images))
        assert fast.keys() == slow.keys(), template
        assert any(name.startswith("word/media/") for name in fast) == bool(images), template
        for name in slow:
            assert fast[name] == slow[name], f"{template}: {name} differs"
        compared += 1
    assert compared == len(rendered) >= 10
    logos = [images for template, _, images in rendered if template == "proposal.docx"]
    assert logos and all(images for images in logos)  # the proposal places its logo


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_same_content_gives_the_same_file_and_a_change_shows(
    real_ctx: Context, rendered: list[Rendered]
) -> None:
    plans = [context for template, context, _ in rendered if template == "control_plan.docx"]
    env = docx_template.CompilingOnce(autoescape=True)
    data = (real_ctx.settings.templates_dir / "control_plan.docx").read_bytes()
    with DOCX_LOCK:
        prepared = prepare(data, env)
        assert prepared is not None
        first, again = prepared.render(plans[0]), prepared.render(plans[0])
        last = prepared.render(plans[-1])
    assert first == again  # no time stamps in the package: a rerun writes the same bytes
    assert last != first
    body = _parts(last)["word/document.xml"].decode()
    assert plans[0]["state"] != plans[-1]["state"]
    assert f"step: {plans[-1]['state']}" in body
    footer = _parts(last)["word/footer1.xml"].decode()
    assert "{{" not in footer and "{%" not in footer  # the footer's tags were rendered


def test_a_template_with_a_header_is_left_to_docxtpl(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "{{ title }}"
    document.add_paragraph("{{ title }}")
    out = io.BytesIO()
    document.save(out)
    env = docx_template.CompilingOnce(autoescape=True)
    with DOCX_LOCK:
        assert prepare(out.getvalue(), env) is None
        written = render_with_docxtpl(out.getvalue(), {"title": "Managed WAN"}, env)
    parts = _parts(written)
    assert "Managed WAN" in parts["word/document.xml"].decode()
    assert any("Managed WAN" in parts[n].decode() for n in parts if "header" in n)
