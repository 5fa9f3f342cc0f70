"""Slack points at the workspace, against the local Slack Web API (tests/support/slack_api.py):
messages link to the bid's workspace page (never a server path or an empty run page); once
an approval or a go/no-go is decided — here in the workspace — the Slack message's buttons
give way to who decided what (chat.update); a move nobody must act on is not sent, nor told
to the person who made it; the App Home tab lists "my approvals" and "my bids"."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from orchestrator.bid.progress import services
from orchestrator.context import Context
from orchestrator.doors.slack import SlackAsgi, build_door
from orchestrator.runtime.runner import InlineRunner
from orchestrator.slack.notify import SlackNotifier, slack_client
from orchestrator.store.models import OutboxMessage
from orchestrator.web.app import make_web_app
from tests.factories import PEOPLE
from tests.support.slack_api import (
    SLACK_USERS,
    FakeSlackApi,
    bid_in_governance,
    bid_in_qualification,
    serving,
    signature_headers,
    slack_context,
    slack_user,
)
from tests.test_web__workspace import sign_in

WORKSPACE = "https://bids.example.com"


@pytest.fixture
def slack_api() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(users=dict(SLACK_USERS)) as api:
        yield api


@pytest.fixture
def slack_ctx(ctx: Context, slack_api: FakeSlackApi) -> Context:
    linked = slack_context(ctx, slack_api)
    settings = dataclasses.replace(linked.settings, workspace_url=WORKSPACE)
    return dataclasses.replace(linked, settings=settings)


def _deliver(ctx: Context) -> None:
    SlackNotifier(slack_client(ctx.settings)).deliver_pending(ctx)


def _blocks(call: Any) -> list[dict[str, Any]]:
    blocks = call.args.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


def _posted_to(api: FakeSlackApi, email: str) -> list[Any]:
    return [
        c
        for c in api.calls("chat.postMessage", ok_only=True)
        if c.args["channel"] == slack_user(email)
    ]


def test_every_message_links_to_the_bids_page_and_names_no_server_path(
    slack_ctx: Context, slack_api: FakeSlackApi
) -> None:
    ref = bid_in_governance(slack_ctx)
    _deliver(slack_ctx)
    posted = slack_api.calls("chat.postMessage", ok_only=True)
    assert posted
    output = str(slack_ctx.settings.output_dir)
    for call in posted:
        text = json.dumps(_blocks(call))
        assert f"<{WORKSPACE}/bids/{ref}|Open {ref} in the bid workspace>" in text
        assert "Prefect flow run" not in text and output not in text
    approvals = [c for c in posted if any(b.get("type") == "actions" for b in _blocks(c))]
    previews = json.dumps([_blocks(c) for c in approvals])
    assert f"{WORKSPACE}/bids/{ref}/preview/" in previews


def test_a_decision_in_the_workspace_updates_the_slack_message(
    slack_ctx: Context, slack_api: FakeSlackApi
) -> None:
    ref = bid_in_governance(slack_ctx)
    _deliver(slack_ctx)
    with Session(slack_ctx.engine) as session:
        finance_row = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.event == "approval_requested",
                OutboxMessage.recipient_email == PEOPLE["finance"],
            )
        ).one()
    assert finance_row.slack_ts and finance_row.slack_channel == slack_user(PEOPLE["finance"])
    assert finance_row.settled_at is None

    web = TestClient(make_web_app(lambda: slack_ctx, runner=InlineRunner()))
    token = sign_in(web, slack_ctx, PEOPLE["finance"])
    inbox = web.get("/approvals").text
    version = inbox.split('name="version" value="')[1].split('"')[0]
    web.post(
        f"/approvals/{ref}/financial",
        data={"csrf": token, "verdict": "approve", "version": version},
    )
    updates = [
        c
        for c in slack_api.calls("chat.update", ok_only=True)
        if c.args["ts"] == finance_row.slack_ts
    ]
    assert len(updates) == 1, slack_api.calls("chat.update")
    blocks = _blocks(updates[0])
    assert not any(b.get("type") == "actions" for b in blocks)  # no button left to click
    assert "financial approved* by" in json.dumps(blocks) and PEOPLE["finance"] in json.dumps(
        blocks
    )
    assert updates[0].args["channel"] == slack_user(PEOPLE["finance"])

    # a rejection, with its reason; each message updated once only
    token = sign_in(web, slack_ctx, PEOPLE["legal"])
    inbox = web.get("/approvals").text
    version = inbox.split('name="version" value="')[1].split('"')[0]
    web.post(
        f"/approvals/{ref}/legal",
        data={"csrf": token, "verdict": "reject", "version": version, "reason": "Clause <12>"},
    )
    _deliver(slack_ctx)
    texts = [json.dumps(_blocks(c)) for c in slack_api.calls("chat.update", ok_only=True)]
    assert any("legal rejected* by" in t and "Clause &amp;lt;12&amp;gt;" not in t for t in texts)
    assert any("Clause &lt;12&gt;" in t for t in texts)
    ts_updated = [c.args["ts"] for c in slack_api.calls("chat.update", ok_only=True)]
    assert len(ts_updated) == len(set(ts_updated))
    with Session(slack_ctx.engine) as session:
        settled = session.exec(
            select(OutboxMessage).where(col(OutboxMessage.settled_at).is_not(None))
        ).all()
    assert {row.slack_ts for row in settled} == set(ts_updated)


def test_a_go_no_go_message_is_updated_after_the_decision(
    slack_ctx: Context, slack_api: FakeSlackApi
) -> None:
    ref = bid_in_qualification(slack_ctx)
    _deliver(slack_ctx)
    asked = [c for c in _posted_to(slack_api, PEOPLE["bid_manager"]) if "go_no_go" in str(c.args)]
    assert asked
    assert slack_api.calls("chat.update") == []
    services.decide(slack_ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
    _deliver(slack_ctx)
    updated = {c.args["ts"]: json.dumps(_blocks(c)) for c in slack_api.calls("chat.update")}
    assert asked[0].args and any("Decided: Bid* by" in text for text in updated.values())


def test_a_move_that_concerns_nobody_is_not_sent_nor_told_its_maker(slack_ctx: Context) -> None:
    ref = bid_in_governance(slack_ctx)
    with Session(slack_ctx.engine) as session:
        moves = session.exec(select(OutboxMessage).where(OutboxMessage.event == "transition")).all()
    keys = {row.key.split(":")[2] for row in moves}
    assert "decide_bid" not in keys  # into kick-off, which the bid leaves by itself
    assert "qualify" in keys and "start_production" in keys
    services.withdraw(
        slack_ctx, ref, reason="customer cancelled", category="other", by=PEOPLE["bid_manager"]
    )
    with Session(slack_ctx.engine) as session:
        told = session.exec(
            select(OutboxMessage.recipient_email).where(
                col(OutboxMessage.key).startswith("transition:"),
                col(OutboxMessage.key).contains(":withdraw:"),
            )
        ).all()
    assert told and PEOPLE["bid_manager"] not in told


def _event(user: str) -> str:
    return json.dumps(
        {
            "token": "legacy",
            "team_id": "T0001",
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": f"Ev{time.time_ns()}",
            "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"},
        }
    )


def test_the_app_home_lists_my_approvals_and_my_bids(
    slack_ctx: Context, slack_api: FakeSlackApi
) -> None:
    ref = bid_in_governance(slack_ctx)
    door = build_door(slack_ctx)
    with serving(SlackAsgi(door)) as base, httpx.Client(timeout=30) as http:
        for user in (slack_user(PEOPLE["finance"]), slack_user(PEOPLE["bid_manager"]), "UNOBODY"):
            body = _event(user)
            headers = {"Content-Type": "application/json", **signature_headers(body)}
            reply = http.post(f"{base}/slack/events", content=body, headers=headers)
            assert reply.status_code == 200, reply.text
        assert door.wait_idle(timeout=60)
    published = {
        c.args["user_id"]: json.dumps(c.args["view"]) for c in slack_api.calls("views.publish")
    }
    finance = published[slack_user(PEOPLE["finance"])]
    assert '"type": "home"' in finance and "My approvals" in finance
    assert f"<{WORKSPACE}/bids/{ref}|{ref}>" in finance and "*financial*" in finance
    manager = published[slack_user(PEOPLE["bid_manager"])]
    assert "Nothing waits for you." in manager  # no approval power of their own
    assert f"<{WORKSPACE}/bids/{ref}|{ref}>" in manager and "governance review" in manager
    assert "not linked to a person" in published["UNOBODY"]


def test_decided_messages_are_claimed_together_and_one_failing_holds_none_back(
    slack_ctx: Context, slack_api: FakeSlackApi
) -> None:
    """The approvals' messages of a bid decided at once are claimed by one statement; when
    updating one fails outright, the others are given back and updated by the next delivery."""
    from orchestrator.slack.notify import settle_decided
    from tests.factories import carry_to_governance, grant_all, record_statements

    ref = bid_in_qualification(slack_ctx)
    carry_to_governance(slack_ctx, ref)
    _deliver(slack_ctx)
    grant_all(slack_ctx, ref)
    settled_before = _settled(slack_ctx)
    sent = record_statements(slack_ctx.engine)
    client = slack_client(slack_ctx.settings)

    class Refusing:
        def chat_update(self, **kwargs: Any) -> Any:
            raise RuntimeError("the update could not be built")  # not a Slack hiccup

    with pytest.raises(RuntimeError):
        settle_decided(slack_ctx, Refusing())  # type: ignore[arg-type]
    statements = [" ".join(s.split()[:4]) for s in sent]
    claims = [s for s in statements if s.startswith("UPDATE outboxmessage SET settled_at")]
    assert len(claims) == 2  # all claimed by one statement; then the others given back
    assert _settled(slack_ctx) == settled_before + 1  # the one that failed stays claimed
    before = len(slack_api.calls("chat.update", ok_only=True))
    updated = settle_decided(slack_ctx, client)
    assert updated >= 2  # the ones given back, updated now
    assert len(slack_api.calls("chat.update", ok_only=True)) == before + updated


def _settled(ctx: Context) -> int:
    with Session(ctx.engine) as session:
        rows = session.exec(select(OutboxMessage).where(col(OutboxMessage.settled_at).is_not(None)))
        return len(rows.all())
