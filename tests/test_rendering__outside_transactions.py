"""Rendering holds no write lock: while a render is held open (a renderer waiting on an event),
`bid status` answers and a Slack approval is recorded — on SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from orchestrator.bid.reports.queries import status
from orchestrator.bid.trail.rendering import render_documents
from orchestrator.context import Context
from orchestrator.doors.slack import SlackAsgi, SlackDoor, build_door
from orchestrator.ports import ProducedDocuments
from orchestrator.store.db import reading
from orchestrator.store.models import Approval, Document, Opportunity
from tests.conftest import RecordingDocuments
from tests.support.slack_api import (
    SLACK_USERS,
    FakeSlackApi,
    bid_in_governance,
    block_actions,
    form_body,
    sent_buttons,
    signed_post,
    slack_context,
)


@dataclasses.dataclass
class HeldDocuments(RecordingDocuments):
    """Renders like the recording port, but holds `bid_documents` until released."""

    started: threading.Event = dataclasses.field(default_factory=threading.Event)
    release: threading.Event = dataclasses.field(default_factory=threading.Event)

    def bid_documents(
        self, session: Session, opportunity: Opportunity, out_dir: Path, version: Any = None
    ) -> Any:
        produced = super().bid_documents(session, opportunity, out_dir, version)  # type: ignore[no-untyped-call]
        self.started.set()
        if not self.release.wait(timeout=60):
            raise TimeoutError("the test never released the render")
        return produced


@pytest.fixture
def slack_api() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(users=dict(SLACK_USERS)) as api:
        yield api


@pytest.fixture
def door(ctx: Context, slack_api: FakeSlackApi) -> Iterator[SlackDoor]:
    made = build_door(slack_context(ctx, slack_api))
    yield made
    made.close()


def test_status_and_a_slack_approval_go_through_while_a_render_is_held(
    ctx: Context, slack_api: FakeSlackApi, door: SlackDoor
) -> None:
    from orchestrator.slack.notify import SlackNotifier, slack_client

    slack_ctx = slack_context(ctx, slack_api)
    ref = bid_in_governance(slack_ctx)
    SlackNotifier(slack_client(slack_ctx.settings)).deliver_pending(slack_ctx)
    held = HeldDocuments()
    rendered: list[ProducedDocuments] = []
    render = threading.Thread(
        target=lambda: rendered.append(
            render_documents(dataclasses.replace(ctx, _documents=held), ref)
        )
    )
    render.start()
    try:
        assert held.started.wait(timeout=30), "the render never started"

        assert status(ctx, ref).state == "governance_review"  # a reader is not held up

        button = next(
            b
            for b in sent_buttons(slack_api, "UFIN")
            if b["action_id"] == "approval_approve"
            and json.loads(b["value"])["area"] == "financial"
        )
        click = form_body(block_actions("UFIN", button["action_id"], button["value"]))
        assert signed_post(SlackAsgi(door), click).status == 200
        assert door.wait_idle(timeout=10), "the approval waited for the render"
        with reading(ctx.engine) as session:
            financial = session.exec(select(Approval).where(Approval.area == "financial")).one()
        assert financial.status == "granted"
        assert render.is_alive() and not rendered  # the render was still held throughout
    finally:
        held.release.set()
        render.join(timeout=30)
    (produced,) = rendered
    with reading(ctx.engine) as session:
        kinds = {d.kind for d in session.exec(select(Document)).all()}
    assert "proposal" in kinds and produced.proposal_hash
