"""A long-lived process (the Slack app, a task worker) loads at start what every bid's steps
need on first use (orchestrator/runtime/runner.py `warm_up`): the first bid is carried on
as fast as the hundredth, and no two threads import the same library at once. The .docx
templates are prepared then too."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from orchestrator.bid.progress.services import record_result, run_to_wait
from orchestrator.context import Context
from orchestrator.dispatch import drain
from orchestrator.runtime.runner import warm_up
from orchestrator.store.db import reading
from orchestrator.store.models import Document
from tests.factories import PEOPLE, carry_to_governance, grant_all, new_bid, submit

REPO = Path(__file__).resolve().parent.parent
LIBRARIES = ("holidays", "slack_sdk", "orchestrator.decisions.engine", "docxtpl")

SCRIPT = """
import json, sys
from orchestrator.config import load_settings
from orchestrator.runtime.runner import warm_up
from orchestrator.wiring import open_context

env = {{"BID_DATABASE_URL": "sqlite:///{folder}/bid.db", "BID_DATA_DIR": "{folder}/.bid",
       "BID_OUTPUT_DIR": "{folder}/out", "BID_RULES_DIR": "{repo}/rules",
       "BID_TEMPLATES_DIR": "{repo}/templates", "BID_AUTOSTART": "0", "BID_FLOW_RUNNER": "inline"}}
ctx = open_context(load_settings(env))
libraries = {libraries!r}
before = [name for name in libraries if name in sys.modules]
warm_up(ctx)
print(json.dumps({{"before": before, "after": [n for n in libraries if n in sys.modules]}}))
"""


def test_warm_up_loads_what_the_first_bid_would_otherwise_wait_for(tmp_path: Path) -> None:
    script = SCRIPT.format(folder=tmp_path, repo=REPO, libraries=LIBRARIES)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(loaded["before"]) < set(LIBRARIES)  # opening a context loads them not all
    assert loaded["after"] == list(LIBRARIES)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_after_warm_up_no_document_of_a_bid_prepares_its_template_again(
    real_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every .docx a bid's steps render (QRFs, proposal with its logo, plan, letter, order
    sheet) was prepared by `warm_up`, with the same pictures: a bid carried from its
    creation to the contract prepares none again."""
    from orchestrator.documents import renderer

    assert isinstance(real_ctx.documents, renderer.DocxDocuments)
    prepared: list[str] = []
    real_prepare = renderer.prepare  # type: ignore[attr-defined]  # what the renderer calls

    def counting(data: bytes, *args: Any, **kwargs: Any) -> Any:
        prepared.append(hashlib.sha256(data).hexdigest())
        return real_prepare(data, *args, **kwargs)

    monkeypatch.setattr(renderer, "prepare", counting)
    warm_up(real_ctx)
    assert len(prepared) == len(renderer.DOCX_TEMPLATES) == len(set(prepared))
    prepared.clear()

    ref = new_bid(real_ctx, 3)
    carry_to_governance(real_ctx, ref)
    grant_all(real_ctx, ref)
    run_to_wait(real_ctx, ref)
    submit(real_ctx, ref)
    record_result(real_ctx, ref, won=True, reason="best", by=PEOPLE["bid_manager"])
    run_to_wait(real_ctx, ref)
    drain(real_ctx, notify=False)
    with reading(real_ctx.engine) as session:
        kinds = set(session.exec(select(Document.kind)).all())
    assert {"qrf", "proposal", "control_plan", "submission_letter", "order_sheet"} <= kinds
    assert prepared == []
