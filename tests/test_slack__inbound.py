"""Approvers answer in Slack: signed, deduplicated, authorised — against the real HTTP app.

The app runs under uvicorn on a free port; Slack's Web API is the local fake; requests are
signed (or mis-signed) like Slack signs them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from orchestrator.bid.producing.quotes import import_quotes
from orchestrator.bid.progress import services
from orchestrator.context import Context
from orchestrator.doors.slack import SlackAsgi, SlackDoor, build_door
from orchestrator.slack.notify import SlackNotifier, slack_client
from orchestrator.store.models import Approval, AuditEvent, OutboxMessage, Person
from tests.factories import PEOPLE, quote_file
from tests.support.slack_api import (
    SLACK_USERS,
    FakeSlackApi,
    bid_in_governance,
    bid_in_qualification,
    block_actions,
    post_signed,
    sent_buttons,
    serving,
    slack_context,
    slack_user,
    view_submission,
)


@dataclass
class RunningApp:
    url: str
    door: SlackDoor
    http: httpx.Client

    def post(self, payload: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return post_signed(self.http, self.url, payload, **kwargs)

    def click(self, user: str, button: dict[str, Any], **kwargs: Any) -> httpx.Response:
        response = self.post(block_actions(user, button["action_id"], button["value"], **kwargs))
        assert response.status_code == 200, response.text
        return response

    def settle(self) -> None:
        assert self.door.wait_idle(timeout=60), "Slack interactions still running"


@pytest.fixture
def slack_api() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(users=dict(SLACK_USERS)) as api:
        yield api


@pytest.fixture
def slack_ctx(ctx: Context, slack_api: FakeSlackApi) -> Context:
    return slack_context(ctx, slack_api)


@pytest.fixture
def app(slack_ctx: Context) -> Iterator[RunningApp]:
    door = build_door(slack_ctx)
    with serving(SlackAsgi(door)) as base, httpx.Client(timeout=30) as http:
        yield RunningApp(f"{base}/slack/events", door, http)


def _deliver(ctx: Context) -> None:
    SlackNotifier(slack_client(ctx.settings)).deliver_pending(ctx)


def _button(
    api: FakeSlackApi, email: str, action_id: str, area: str | None = None
) -> dict[str, Any]:
    for button in sent_buttons(api, slack_user(email)):
        if button["action_id"] == action_id and (
            area is None or json.loads(button["value"]).get("area") == area
        ):
            return button
    raise AssertionError(f"no {action_id} button was sent to {email}")


def _events(ctx: Context, trigger: str) -> list[AuditEvent]:
    with Session(ctx.engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.trigger == trigger)).all())


def _approval(ctx: Context, area: str) -> Approval:
    with Session(ctx.engine) as session:
        return session.exec(
            select(Approval).where(Approval.area == area).order_by(col(Approval.id).desc())
        ).first()  # type: ignore[return-value]


def _state(ctx: Context, ref: str) -> str:
    with Session(ctx.engine) as session:
        return services.get_opportunity(session, ref).state


def _ephemerals(api: FakeSlackApi, user: str) -> list[str]:
    return [c.args["text"] for c in api.calls("chat.postEphemeral") if c.args["user"] == user]


# --- signatures ------------------------------------------------------------------------------


def test_a_wrongly_signed_click_gets_401_and_changes_nothing(
    slack_ctx: Context, slack_api: FakeSlackApi, app: RunningApp
) -> None:
    bid_in_governance(slack_ctx)
    _deliver(slack_ctx)
    button = _button(slack_api, PEOPLE["finance"], "approval_approve", "financial")
    before = len(slack_api.calls())
    response = app.post(
        block_actions("UFIN", button["action_id"], button["value"]), secret="forged"
    )
    assert response.status_code == 401
    unsigned = app.http.post(app.url, content="payload=%7B%7D")
    assert unsigned.status_code == 401
    app.settle()
    assert _approval(slack_ctx, "financial").status == "requested"
    assert _events(slack_ctx, "approval_granted") == []
    assert len(slack_api.calls()) == before


def test_a_stale_timestamp_gets_401(
    slack_ctx: Context, slack_api: FakeSlackApi, app: RunningApp
) -> None:
    bid_in_governance(slack_ctx)
    _deliver(slack_ctx)
    button = _button(slack_api, PEOPLE["finance"], "approval_approve", "financial")
    stale = int(time.time()) - 6 * 60
    response = app.post(
        block_actions("UFIN", button["action_id"], button["value"]), timestamp=stale
    )
    assert response.status_code == 401
    app.settle()
    assert _approval(slack_ctx, "financial").status == "requested"


def test_health_and_unknown_paths(app: RunningApp) -> None:
    base = app.url.removesuffix("/slack/events")
    assert app.http.get(f"{base}/healthz").text == "ok"
    assert app.http.get(f"{base}/nothing").status_code == 404


# --- approvals ---------------------------------------------------------------------------------


def test_an_approval_click_is_acked_then_recorded_and_the_bid_continues(
    slack_ctx: Context, slack_api: FakeSlackApi, app: RunningApp
) -> None:
    ref = bid_in_governance(slack_ctx, cost_share=0.9)  # under the floor: management too
    _deliver(slack_ctx)
    areas = {
        "technical": PEOPLE["operations"],
        "financial": PEOPLE["finance"],
        "legal": PEOPLE["legal"],
        "management": PEOPLE["management"],
    }
    for area, email in areas.items():
        started = time.perf_counter()
        response = app.click(slack_user(email), _button(slack_api, email, "approval_approve", area))
        assert time.perf_counter() - started < 3
        assert response.text == ""
        app.settle()
        assert _approval(slack_ctx, area).status == "granted"
        assert f"{area} granted by {email}" in _ephemerals(slack_api, slack_user(email))[-1]
    # the last grant let the runner carry the bid to submission, where it waits for bid submit
    assert _state(slack_ctx, ref) == "submission"
    grants = _events(slack_ctx, "approval_granted")
    assert sorted(e.inputs["area"] for e in grants) == sorted(areas)
    assert {e.actor for e in grants} == set(areas.values())
    with Session(slack_ctx.engine) as session:
        person = session.exec(select(Person).where(Person.email == PEOPLE["legal"])).one()
        assert person.slack_user_id == "ULEGAL"
        unsent = session.exec(select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None)))
        assert unsent.all() == []  # the door delivered what the decisions queued


def test_the_ack_does_not_wait_for_the_decision(
    slack_ctx: Context, slack_api: FakeSlackApi, app: RunningApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    bid_in_governance(slack_ctx)
    _deliver(slack_ctx)
    release = threading.Event()
    record = services.approve

    def slow_approve(*args: Any, **kwargs: Any) -> services.StepResult:
        assert release.wait(timeout=30)
        return record(*args, **kwargs)

    monkeypatch.setattr(services, "approve", slow_approve)
    app.click("UFIN", _button(slack_api, PEOPLE["finance"], "approval_approve", "financial"))
    assert _approval(slack_ctx, "financial").status == "requested"  # acked, not yet recorded
    release.set()
    app.settle()
    assert _approval(slack_ctx, "financial").status == "granted"


def test_a_duplicate_delivery_records_one_decision(
    slack_ctx: Context, slack_api: FakeSlackApi, app: RunningApp
) -> None:
    bid_in_governance(slack_ctx)
    _deliver(slack_ctx)
    button = _button(slack_api, PEOPLE["finance"], "approval_approve", "financial")
    payload = block_actions("UFIN", button["action_id"], button["value"])
    assert app.post(payload).status_code == 200
    assert app.post(payload, retry_num=1).status_code == 200  # Slack's retry
    assert app.post(payload, retry_num=2).status_code == 200
    app.settle()
    assert len(_events(slack_ctx, "approval_granted")) == 1
    assert len(_ephemerals(slack_api, "UFIN")) == 1
    # a double click (a new action) is answered, and records nothing more
    app.click("UFIN", button)
    app.settle()
    assert len(_events(slack_ctx, "approval_granted")) == 1
    assert "already" in _ephemerals(slack_api, "UFIN")[-1]


def test_an_unauthorised_clicker_is_refused_ephemerally_and_audited(
    slack_ctx: Context, slack_api: FakeSlackApi, app: RunningApp
) -> None:
    ref = bid_in_governance(slack_ctx)
    _deliver(slack_ctx)
    legal = _button(slack_api, PEOPLE["legal"], "approval_approve", "legal")
    payload = block_actions("UFIN", legal["action_id"], legal["value"])  # finance clicks legal's
    app.post(payload)
    app.post(payload, retry_num=1)  # a duplicate delivery adds no second refusal
    app.settle()
    assert _approval(slack_ctx, "legal").status == "requested"
    refusals = _events(slack_ctx, "approve_refused")
    assert [(e.actor, e.opportunity_id) for e in refusals] == [(PEOPLE["finance"], 1)]
    assert "may not decide the legal approval" in (refusals[0].reason or "")
    (text,) = _ephemerals(slack_api, "UFIN")
    assert ref in text and "may not decide the legal approval" in text


def test_an_unknown_slack_user_is_refused(
    slack_ctx: Context, slack_api: FakeSlackApi, app: RunningApp
) -> None:
    bid_in_governance(slack_ctx)
    _deliver(slack_ctx)
    button = _button(slack_api, PEOPLE["finance"], "approval_approve", "financial")
    app.click("UNOBODY", button)
    app.settle()
    assert _approval(slack_ctx, "financial").status == "requested"
    (text,) = _ephemerals(slack_api, "UNOBODY")
    assert "not linked to a person" in text


def test_a_click_on_an_outdated_proposal_version_is_refused_with_a_pointer(
    slack_ctx: Context, slack_api: FakeSlackApi, app: RunningApp
) -> None:
    ref = bid_in_governance(slack_ctx)
    _deliver(slack_ctx)
    button = _button(slack_api, PEOPLE["finance"], "approval_approve", "financial")
    old = json.loads(button["value"])["hash"]
    new = "f" * 64
    with Session(slack_ctx.engine) as session:  # the pricing changed: a new proposal version
        opportunity = services.get_opportunity(session, ref)
        opportunity.proposal_hash = new
        session.add(opportunity)
        session.commit()
    app.click("UFIN", button)
    app.settle()
    assert _approval(slack_ctx, "financial").status == "requested"
    (text,) = _ephemerals(slack_api, "UFIN")
    assert f"`{old[:12]}`" in text and f"current version is `{new[:12]}`" in text
    (refusal,) = _events(slack_ctx, "approve_refused")
    assert "outdated proposal version" in (refusal.reason or "")


def _last_button(api: FakeSlackApi, email: str, action_id: str, area: str) -> dict[str, Any]:
    return [
        b
        for b in sent_buttons(api, slack_user(email))
        if b["action_id"] == action_id and json.loads(b["value"]).get("area") == area
    ][-1]


def _margins_shown(api: FakeSlackApi, user: str) -> list[str]:
    """The "Margin vs floor" field of every approval message posted to `user`, in order."""
    shown = []
    for call in api.calls("chat.postMessage", ok_only=True):
        if call.args.get("channel") != user:
            continue
        blocks = call.args.get("blocks") or []
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        for block in blocks:
            for field in block.get("fields") or []:
                if field["text"].startswith("*Margin vs floor*"):
                    shown.append(field["text"].split("\n", 1)[1])
    return shown


def test_an_old_button_does_not_decide_the_request_that_replaced_it(
    slack_ctx: Context, slack_api: FakeSlackApi, app: RunningApp, tmp_path: Path
) -> None:
    """Issue 23: a dearer quote dropped the margin under the floor, the financial approval
    was asked again, and a click on the old message (showing the old margin) granted the new
    request. The button names its request and the summary it showed: the click is refused
    and the approver is sent the current request, whose button then decides it."""
    ref = bid_in_governance(slack_ctx)
    _deliver(slack_ctx)
    old = _button(slack_api, PEOPLE["finance"], "approval_approve", "financial")
    app.click("UFIN", old)
    app.settle()
    first = _approval(slack_ctx, "financial")
    assert first.status == "granted"

    dearer = quote_file(slack_ctx, ref, tmp_path / "dearer.csv", cost_share=0.98)
    import_quotes(slack_ctx, ref, dearer, actor=PEOPLE["sales_support"])
    _deliver(slack_ctx)
    again = _approval(slack_ctx, "financial")
    assert again.status == "requested" and again.id != first.id
    assert again.proposal_hash == json.loads(old["value"])["hash"]  # the version is the same
    old_margin, *_ = _margins_shown(slack_api, "UFIN")

    app.click("UFIN", old)  # the message that showed the old margin
    app.settle()
    assert _approval(slack_ctx, "financial").status == "requested"
    assert json.loads(old["value"])["req"] == first.id
    assert again.summary_fingerprint != first.summary_fingerprint  # what was shown is not
    assert len(_events(slack_ctx, "approval_granted")) == 1
    refusal = _events(slack_ctx, "approve_refused")[-1]
    assert "replaced by a later one" in (refusal.reason or "")
    answer = _ephemerals(slack_api, "UFIN")[-1]
    assert "replaced by a later one" in answer and "sent to you now" in answer
    current = _last_button(slack_api, PEOPLE["finance"], "approval_approve", "financial")
    value = json.loads(current["value"])
    assert (value["req"], value["fp"]) == (again.id, again.summary_fingerprint)
    new_margin = _margins_shown(slack_api, "UFIN")[-1]
    assert new_margin != old_margin and "below the floor" in new_margin

    app.click("UFIN", current)
    app.settle()
    assert _approval(slack_ctx, "financial").status == "granted"
    granted = _events(slack_ctx, "approval_granted")
    assert [e.inputs["request"] for e in granted] == [first.id, again.id]


def test_a_request_still_open_when_the_deal_changed_is_replaced_too(
    slack_ctx: Context, slack_api: FakeSlackApi, app: RunningApp, tmp_path: Path
) -> None:
    """Nobody clicked yet; a dearer quote changes the margin shown: the open request is
    replaced by one showing the new deal, and the old message's button decides nothing."""
    ref = bid_in_governance(slack_ctx)
    _deliver(slack_ctx)
    old = _button(slack_api, PEOPLE["finance"], "approval_approve", "financial")
    dearer = quote_file(slack_ctx, ref, tmp_path / "dearer.csv", cost_share=0.6)
    import_quotes(slack_ctx, ref, dearer, actor=PEOPLE["sales_support"])
    _deliver(slack_ctx)
    with Session(slack_ctx.engine) as session:
        financial = session.exec(
            select(Approval).where(Approval.area == "financial").order_by(col(Approval.id))
        ).all()
    assert [a.status for a in financial] == ["invalidated", "requested"]
    app.click("UFIN", old)
    app.settle()
    assert _approval(slack_ctx, "financial").status == "requested"
    assert "replaced by a later one" in _ephemerals(slack_api, "UFIN")[-1]
    current = _last_button(slack_api, PEOPLE["finance"], "approval_approve", "financial")
    app.click("UFIN", current)
    app.settle()
    assert _approval(slack_ctx, "financial").status == "granted"


def test_a_button_whose_summary_was_altered_is_refused(
    slack_ctx: Context, slack_api: FakeSlackApi, app: RunningApp
) -> None:
    bid_in_governance(slack_ctx)
    _deliver(slack_ctx)
    button = _button(slack_api, PEOPLE["finance"], "approval_approve", "financial")
    forged = {**json.loads(button["value"]), "fp": "0" * 64}
    app.click("UFIN", {**button, "value": json.dumps(forged)})
    app.settle()
    assert _approval(slack_ctx, "financial").status == "requested"
    assert "is not the one requested" in _ephemerals(slack_api, "UFIN")[-1]


def test_twenty_concurrent_clicks_on_one_area_record_exactly_one_grant(
    slack_ctx: Context, slack_api: FakeSlackApi, app: RunningApp
) -> None:
    bid_in_governance(slack_ctx)
    _deliver(slack_ctx)
    button = _button(slack_api, PEOPLE["operations"], "approval_approve", "technical")
    clickers = ["UOPS", "USC"] * 10  # both hold a technical approver role; USC froze the design
    payloads = [block_actions(user, button["action_id"], button["value"]) for user in clickers]
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda p: app.post(p).status_code, payloads))
    assert statuses == [200] * 20
    app.settle()
    grants = _events(slack_ctx, "approval_granted")
    assert len(grants) == 1 and grants[0].inputs["area"] == "technical"
    with Session(slack_ctx.engine) as session:
        technical = session.exec(select(Approval).where(Approval.area == "technical")).all()
    assert [a.status for a in technical] == ["granted"]
    answers = _ephemerals(slack_api, "UOPS") + _ephemerals(slack_api, "USC")
    assert len(answers) == 20
    assert sum("granted by" in a for a in answers) == 1
    # the solution consultant froze the design: every one of their clicks is refused by the
    # duties table, whichever click came first
    refused = _events(slack_ctx, "approve_refused")
    assert [e.actor for e in refused] == [PEOPLE["solution_consultant"]] * 10
    assert all("duties.yaml: freezer_not_technical_approver" in (e.reason or "") for e in refused)
    assert all("freezer_not_technical_approver" in a for a in _ephemerals(slack_api, "USC"))


def test_reject_opens_a_modal_and_its_submission_records_the_rejection(
    slack_ctx: Context, slack_api: FakeSlackApi, app: RunningApp
) -> None:
    ref = bid_in_governance(slack_ctx)
    _deliver(slack_ctx)
    app.click("ULEGAL", _button(slack_api, PEOPLE["legal"], "approval_reject", "legal"))
    (opened,) = slack_api.wait_for("views.open")
    view = opened.args["view"]
    assert opened.args["trigger_id"].startswith("trigger.")
    assert view["callback_id"] == "approval_reject_modal"
    assert _approval(slack_ctx, "legal").status == "requested"  # nothing until submitted

    answer = {"reason": {"reason": {"type": "plain_text_input", "value": "liability cap"}}}
    submitted = view_submission("ULEGAL", view["callback_id"], view["private_metadata"], answer)
    response = app.post(submitted)
    assert response.status_code == 200 and response.text == ""
    app.post(submitted, retry_num=1)
    app.settle()
    rejected = _approval(slack_ctx, "legal")
    assert (rejected.status, rejected.reason) == ("rejected", "liability cap")
    assert _state(slack_ctx, ref) == "bid_production"
    assert len(_events(slack_ctx, "approval_rejected")) == 1
    assert "legal rejected by legal@example.com" in _ephemerals(slack_api, "ULEGAL")[-1]


# --- go / no-go --------------------------------------------------------------------------------


def test_go_no_go_buttons_open_a_modal_and_the_decision_moves_the_bid_on(
    slack_ctx: Context, slack_api: FakeSlackApi, app: RunningApp
) -> None:
    ref = bid_in_qualification(slack_ctx)
    _deliver(slack_ctx)
    app.click("UBM", _button(slack_api, PEOPLE["bid_manager"], "go_no_go_bid"))
    (opened,) = slack_api.wait_for("views.open")
    view = opened.args["view"]
    answer = {"reason": {"reason": {"type": "plain_text_input", "value": "strong fit"}}}
    app.post(view_submission("UBM", view["callback_id"], view["private_metadata"], answer))
    app.settle()
    # decided, then carried on until bid production waits for its QRFs and quotes
    assert _state(slack_ctx, ref) == "bid_production"
    with Session(slack_ctx.engine) as session:
        from orchestrator.store.models import DecisionRecord

        decided = session.exec(
            select(DecisionRecord).where(col(DecisionRecord.human_outcome).is_not(None))
        ).one()
    assert (decided.human_outcome, decided.reason) == ("bid", "strong fit")


def test_a_no_bid_needs_a_category_in_the_modal(
    slack_ctx: Context, slack_api: FakeSlackApi, app: RunningApp
) -> None:
    ref = bid_in_qualification(slack_ctx)
    _deliver(slack_ctx)
    app.click("UBOSS", _button(slack_api, PEOPLE["management"], "go_no_go_no_bid"))
    (opened,) = slack_api.wait_for("views.open")
    view = opened.args["view"]
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == ["reason", "category"]
    reason = {"reason": {"reason": {"type": "plain_text_input", "value": "no capacity"}}}
    missing = app.post(
        view_submission("UBOSS", view["callback_id"], view["private_metadata"], reason)
    )
    assert missing.json() == {
        "response_action": "errors",
        "errors": {"category": "choose a reason category"},
    }
    chosen: dict[str, dict[str, Any]] = {
        **reason,
        "category": {
            "category": {"type": "static_select", "selected_option": {"value": "capacity"}}
        },
    }
    app.post(view_submission("UBOSS", view["callback_id"], view["private_metadata"], chosen))
    app.settle()
    assert _state(slack_ctx, ref) == "no_bid"


def test_a_go_no_go_by_someone_without_the_role_is_refused(
    slack_ctx: Context, slack_api: FakeSlackApi, app: RunningApp
) -> None:
    ref = bid_in_qualification(slack_ctx)
    _deliver(slack_ctx)
    button = _button(slack_api, PEOPLE["bid_manager"], "go_no_go_bid")
    app.click("USS", button)
    (opened,) = slack_api.wait_for("views.open")
    view = opened.args["view"]
    answer = {"reason": {"reason": {"type": "plain_text_input", "value": "I like it"}}}
    app.post(view_submission("USS", view["callback_id"], view["private_metadata"], answer))
    app.settle()
    assert _state(slack_ctx, ref) == "qualification"
    assert [e.actor for e in _events(slack_ctx, "decide_refused")] == [PEOPLE["sales_support"]]
    assert "may not take the go/no-go" in _ephemerals(slack_api, "USS")[-1]


# --- the command ------------------------------------------------------------------------------


def test_bid_serve_refuses_to_start_without_a_signing_secret(run_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    result = run_cli("serve", "--port", "0")
    assert result.code == 2
    assert result.err.strip() == (
        "error: SLACK_SIGNING_SECRET is not set; bid serve verifies every Slack request with it"
    )
