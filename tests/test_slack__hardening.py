"""The Slack door refuses what it cannot read (400, one line naming the field, nothing
changed), maps a click to a person by the admin-set Slack id only, binds an approval to the
version the button shows, and never loses a click it acknowledged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from orchestrator.bid.team import people
from orchestrator.context import Context
from orchestrator.doors.slack import SeenRequests, SlackAsgi, SlackDoor, build_door
from orchestrator.slack.blocks import ButtonValue
from orchestrator.store.db import reading
from orchestrator.store.models import Approval, AuditEvent
from tests.factories import PEOPLE
from tests.support.dump import dump
from tests.support.slack_api import (
    SLACK_USERS,
    FakeSlackApi,
    admin_of,
    bid_in_governance,
    block_actions,
    form_body,
    sent_buttons,
    signed_post,
    slack_context,
)


@pytest.fixture
def slack_api() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(users=dict(SLACK_USERS)) as api:
        yield api


@pytest.fixture
def slack_ctx(ctx: Context, slack_api: FakeSlackApi) -> Context:
    return slack_context(ctx, slack_api)


@pytest.fixture
def door(slack_ctx: Context) -> Iterator[SlackDoor]:
    made = build_door(slack_ctx)
    yield made
    made.close()


def _deliver(ctx: Context) -> None:
    from orchestrator.slack.notify import SlackNotifier, slack_client

    SlackNotifier(slack_client(ctx.settings)).deliver_pending(ctx)


def _finance_button(api: FakeSlackApi) -> dict[str, str]:
    return next(
        b
        for b in sent_buttons(api, "UFIN")
        if b["action_id"] == "approval_approve" and json.loads(b["value"])["area"] == "financial"
    )


def _approval_status(ctx: Context, area: str) -> str:
    with reading(ctx.engine) as session:
        approvals = session.exec(select(Approval).where(Approval.area == area)).all()
        return approvals[-1].status


def _ephemerals(api: FakeSlackApi, user: str) -> list[str]:
    return [c.args["text"] for c in api.calls("chat.postEphemeral") if c.args["user"] == user]


def test_a_non_numeric_timestamp_is_a_400_not_a_500(
    slack_ctx: Context, door: SlackDoor, slack_api: FakeSlackApi
) -> None:
    bid_in_governance(slack_ctx)
    _deliver(slack_ctx)
    before = dump(slack_ctx.engine)
    body = form_body(block_actions("UFIN", "approval_approve", _finance_button(slack_api)["value"]))
    for stamp in ("soon", "", "1e9", "9" * 40):
        answer = signed_post(SlackAsgi(door), body, timestamp=stamp)
        assert 400 <= answer.status < 500, (stamp, answer)
        assert "\n" not in answer.text.strip()
    assert dump(slack_ctx.engine) == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ("not json", "payload"),
        ("[1, 2]", "payload"),
        ('{"type": 7}', "payload.type"),
        ('{"type": "block_actions"}', "payload.user.id"),
        ('{"type": "block_actions", "user": {"id": "UFIN"}, "actions": "x"}', "payload.actions"),
        ('{"type": "block_actions", "user": {"id": "UFIN"}, "actions": [7]}', "payload.actions"),
        (
            '{"type": "block_actions", "user": {"id": "UFIN"}, "actions": [{"action_id": 1}]}',
            "payload.actions[0].action_id",
        ),
        (
            '{"type": "block_actions", "user": {"id": "UFIN"}, '
            '"actions": [{"action_id": "approval_approve", "value": "{}"}]}',
            "payload.actions[0].value",
        ),
        (
            '{"type": "view_submission", "user": {"id": "UFIN"}, '
            '"view": {"callback_id": "approval_reject_modal", "id": "V1", "hash": "h", '
            '"private_metadata": "[]", "state": {"values": {}}}}',
            "payload.view.private_metadata",
        ),
        ("[" * 100_000 + "]" * 100_000, "payload"),
    ],
)
def test_a_malformed_signed_payload_is_a_400_naming_the_field(
    slack_ctx: Context, door: SlackDoor, payload: str, field: str
) -> None:
    before = dump(slack_ctx.engine)
    answer = signed_post(SlackAsgi(door), urlencode({"payload": payload}))
    assert answer.status == 400, answer
    assert answer.text.startswith(f"field '{field}': "), answer.text
    assert door.wait_idle(timeout=10)
    assert dump(slack_ctx.engine) == before


def test_an_approval_button_without_a_version_is_refused(
    slack_ctx: Context, door: SlackDoor, slack_api: FakeSlackApi
) -> None:
    ref = bid_in_governance(slack_ctx)
    _deliver(slack_ctx)
    before = dump(slack_ctx.engine)
    bare = ButtonValue(ref=ref, area="financial").encode()
    click = form_body(block_actions("UFIN", "approval_approve", bare))
    answer = signed_post(SlackAsgi(door), click)
    assert (answer.status, answer.text) == (
        400,
        "field 'payload.actions[0].value.hash': names no proposal version",
    )
    # and behind the HTTP check, the door itself refuses such a value
    door._approve("UFIN", "D0001", ButtonValue(ref, "financial"), reject=False, reason=None)
    assert "names no proposal version" in _ephemerals(slack_api, "UFIN")[-1]
    assert dump(slack_ctx.engine) == before
    assert _approval_status(slack_ctx, "financial") == "requested"


def test_a_click_is_mapped_by_the_admin_set_slack_id_only(
    slack_ctx: Context, door: SlackDoor, slack_api: FakeSlackApi
) -> None:
    bid_in_governance(slack_ctx, link_slack=False)  # Slack knows fin's e-mail; nobody linked it
    _deliver(slack_ctx)
    button = _finance_button(slack_api)
    answer = signed_post(
        SlackAsgi(door), form_body(block_actions("UFIN", button["action_id"], button["value"]))
    )
    assert answer.status == 200
    assert door.wait_idle(timeout=30)
    assert _approval_status(slack_ctx, "financial") == "requested"
    assert "not linked" in _ephemerals(slack_api, "UFIN")[-1]
    assert slack_api.calls("users.info") == []

    people.set_person(slack_ctx, PEOPLE["finance"], by=admin_of(slack_ctx), slack_user_id="UFIN")
    again = block_actions("UFIN", button["action_id"], button["value"])
    assert signed_post(SlackAsgi(door), form_body(again)).status == 200
    assert door.wait_idle(timeout=30)
    assert _approval_status(slack_ctx, "financial") == "granted"


def test_a_click_the_database_could_not_take_is_answered_and_taken_on_retry(
    slack_ctx: Context,
    door: SlackDoor,
    slack_api: FakeSlackApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bid_in_governance(slack_ctx)
    _deliver(slack_ctx)
    button = _finance_button(slack_api)
    click = form_body(block_actions("UFIN", button["action_id"], button["value"]))
    claim = SeenRequests._first_in_database
    failures = iter([OperationalError("INSERT", {}, Exception("database is locked"))])

    def busy_once(self: SeenRequests, key: str) -> bool:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return claim(self, key)

    monkeypatch.setattr(SeenRequests, "_first_in_database", busy_once)
    assert signed_post(SlackAsgi(door), click).status == 200
    assert door.wait_idle(timeout=30)
    assert "please click again" in _ephemerals(slack_api, "UFIN")[-1]
    assert _approval_status(slack_ctx, "financial") == "requested"
    assert signed_post(SlackAsgi(door), click).status == 200  # Slack's retry: same payload
    assert door.wait_idle(timeout=30)
    assert _approval_status(slack_ctx, "financial") == "granted"
    with reading(slack_ctx.engine) as session:
        grants = session.exec(
            select(AuditEvent).where(AuditEvent.trigger == "approval_granted")
        ).all()
    assert [e.actor for e in grants] == [PEOPLE["finance"]]
