"""Delivering the outbox to Slack: at most once per row, retried, claimed, or kept pending."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session, col, select

from orchestrator.context import Context
from orchestrator.slack.notify import (
    CLAIM_LEASE,
    OutboxOnlyNotifier,
    SlackNotifier,
    deliver,
    get_notifier,
    slack_client,
)
from orchestrator.store.models import OutboxMessage, Person
from tests.conftest import FixedClock, RunCli
from tests.factories import PEOPLE, record_statements
from tests.support.slack_api import (
    SLACK_USERS,
    FakeSlackApi,
    bid_in_governance,
    bid_in_qualification,
    sent_buttons,
    slack_context,
    slack_user,
)


@pytest.fixture
def slack_api() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(users=dict(SLACK_USERS)) as api:
        yield api


@pytest.fixture
def slack_ctx(ctx: Context, slack_api: FakeSlackApi) -> Context:
    return slack_context(ctx, slack_api)


def _notifier(ctx: Context, **kwargs: object) -> SlackNotifier:
    return SlackNotifier(slack_client(ctx.settings, backoff=0.01), **kwargs)  # type: ignore[arg-type]


def _rows(ctx: Context) -> list[OutboxMessage]:
    with Session(ctx.engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def test_without_a_token_messages_stay_in_the_outbox(ctx: Context, run_cli: RunCli) -> None:
    bid_in_qualification(ctx)
    assert isinstance(get_notifier(ctx), OutboxOnlyNotifier)
    report = deliver(ctx)
    queued = _rows(ctx)
    assert report.mode == "outbox" and report.sent == 0 and report.pending == len(queued) > 0

    notified = run_cli("notify")
    assert notified.code == 0
    assert f"{len(queued)} messages stay in the outbox" in notified.out

    listed = run_cli("outbox", "--json")
    assert listed.code == 0
    rows = json.loads(listed.out)
    assert [r["id"] for r in rows] == [m.id for m in queued]
    assert all(r["sent_at"] is None and r["attempts"] == 0 for r in rows)
    assert {r["event"] for r in rows} == {"transition", "go_no_go_requested"}


def test_delivery_marks_each_row_sent_and_a_second_delivery_sends_nothing(
    slack_ctx: Context, slack_api: FakeSlackApi
) -> None:
    bid_in_governance(slack_ctx)
    queued = _rows(slack_ctx)
    report = _notifier(slack_ctx).deliver_pending(slack_ctx)
    assert (report.sent, report.failed, report.pending) == (len(queued), 0, 0)
    posts = slack_api.calls("chat.postMessage", ok_only=True)
    assert len(posts) == len(queued)
    assert Counter(p.args["channel"] for p in posts) == Counter(
        slack_user(m.recipient_email or "") for m in queued
    )
    assert all(
        m.sent_at is not None and m.attempts == 1 and m.last_error is None for m in _rows(slack_ctx)
    )

    again = _notifier(slack_ctx).deliver_pending(slack_ctx)
    assert (again.sent, again.pending) == (0, 0)
    assert len(slack_api.calls("chat.postMessage")) == len(queued)


def test_an_unlinked_person_is_looked_up_by_email_once_per_run_and_never_linked(
    slack_ctx: Context, slack_api: FakeSlackApi
) -> None:
    """Where to send is looked up by e-mail; who clicked is never decided by it: the Slack id
    of a person is an identity field only an admin sets."""
    bid_in_governance(slack_ctx, link_slack=False)
    notifier = _notifier(slack_ctx)
    notifier.deliver_pending(slack_ctx)
    lookups = Counter(c.args["email"] for c in slack_api.calls("users.lookupByEmail"))
    assert set(lookups.values()) == {1}
    assert {c.args["channel"] for c in slack_api.calls("chat.postMessage")} >= {"UFIN", "UOPS"}
    with Session(slack_ctx.engine) as session:
        people = {p.email: p.slack_user_id for p in session.exec(select(Person)).all()}
    assert people[PEOPLE["finance"]] is None
    assert people[PEOPLE["operations"]] is None

    bid_in_qualification(slack_ctx, "major", link_slack=False)  # same run: no new look-ups
    notifier.deliver_pending(slack_ctx)
    assert len(slack_api.calls("users.lookupByEmail")) == sum(lookups.values())


def test_a_linked_person_is_messaged_at_the_admin_set_slack_id_without_look_up(
    slack_ctx: Context, slack_api: FakeSlackApi
) -> None:
    bid_in_governance(slack_ctx)
    _notifier(slack_ctx).deliver_pending(slack_ctx)
    assert slack_api.calls("users.lookupByEmail") == []
    assert "UFIN" in {c.args["channel"] for c in slack_api.calls("chat.postMessage")}


def test_approval_messages_carry_facts_and_buttons_bound_to_the_proposal_version(
    slack_ctx: Context, slack_api: FakeSlackApi
) -> None:
    ref = bid_in_governance(slack_ctx)
    _notifier(slack_ctx).deliver_pending(slack_ctx)
    with Session(slack_ctx.engine) as session:
        from orchestrator.bid.progress.services import get_opportunity
        from orchestrator.store.models import Approval

        version = get_opportunity(session, ref).proposal_hash
        request = session.exec(select(Approval).where(Approval.area == "financial")).one()
    buttons = sent_buttons(slack_api, "UFIN")
    assert [b["action_id"] for b in buttons] == ["approval_approve", "approval_reject"]
    assert json.loads(buttons[0]["value"]) == {
        "ref": ref,
        "area": "financial",
        "hash": version,
        "req": request.id,
        "fp": request.summary_fingerprint,
    }
    assert request.summary_fingerprint and len(request.summary_fingerprint) == 64
    message = next(
        c.args
        for c in slack_api.calls("chat.postMessage")
        if c.args["channel"] == "UFIN" and "approval is requested" in c.args["text"]
    )
    facts = next(b for b in message["blocks"] if "fields" in b)
    text = " ".join(f["text"] for f in facts["fields"])
    for fact in (
        ref,
        "Managed WAN for 40 warehouses",
        "Acme top",
        "governance review",
        "2027-01-06",
    ):
        assert fact in text
    go_no_go = [b["action_id"] for b in sent_buttons(slack_api, "UBM")]
    assert go_no_go[:3] == ["go_no_go_bid", "go_no_go_no_bid", "go_no_go_redefine"]


@pytest.mark.parametrize("status", [429, 500])
def test_transient_slack_errors_are_retried_and_the_message_sent_once(
    slack_ctx: Context, slack_api: FakeSlackApi, status: int
) -> None:
    bid_in_qualification(slack_ctx)
    queued = _rows(slack_ctx)
    slack_api.fail("chat.postMessage", status, times=2, retry_after=0)
    report = _notifier(slack_ctx).deliver_pending(slack_ctx)
    assert (report.sent, report.failed) == (len(queued), 0)
    attempts = slack_api.calls("chat.postMessage")
    assert [c.status for c in attempts[:3]] == [status, status, 200]
    assert len(slack_api.calls("chat.postMessage", ok_only=True)) == len(queued)
    assert all(m.attempts == 1 and m.sent_at for m in _rows(slack_ctx))


def test_a_failed_post_keeps_the_row_pending_with_its_error(
    slack_ctx: Context, slack_api: FakeSlackApi
) -> None:
    bid_in_qualification(slack_ctx)
    queued = _rows(slack_ctx)
    slack_api.fail("chat.postMessage", 500, times=2)
    notifier = SlackNotifier(slack_client(slack_ctx.settings, retries=1, backoff=0.01))
    report = notifier.deliver_pending(slack_ctx)
    assert (report.sent, report.failed, report.pending) == (len(queued) - 1, 1, 1)
    failed = _rows(slack_ctx)[0]
    assert failed.sent_at is None and failed.attempts == 1
    assert failed.last_error == "slack internal_error (HTTP 500)"

    later = notifier.deliver_pending(slack_ctx)
    assert (later.sent, later.pending) == (1, 0)
    assert _rows(slack_ctx)[0].attempts == 2 and _rows(slack_ctx)[0].last_error is None


def test_a_recipient_unknown_to_slack_stays_pending(
    slack_ctx: Context, slack_api: FakeSlackApi
) -> None:
    del slack_api.users["UBOSS"]
    bid_in_qualification(slack_ctx, link_slack=False)
    report = _notifier(slack_ctx).deliver_pending(slack_ctx)
    assert report.failed == 1 and report.pending == 1
    row = next(m for m in _rows(slack_ctx) if m.sent_at is None)
    assert row.recipient_email == PEOPLE["management"]
    assert row.last_error == "slack users_not_found (HTTP 200)"


def test_two_notifiers_at_once_send_each_message_once(
    slack_ctx: Context, slack_api: FakeSlackApi
) -> None:
    bid_in_governance(slack_ctx)
    queued = _rows(slack_ctx)
    start = threading.Barrier(3)
    reports = []

    def run() -> None:
        notifier = _notifier(slack_ctx)
        start.wait()
        reports.append(notifier.deliver_pending(slack_ctx))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(r.sent for r in reports) == len(queued)
    posts = [(c.args["channel"], c.args["text"]) for c in slack_api.calls("chat.postMessage")]
    assert len(posts) == len(queued) == len(set(posts))
    assert all(m.attempts == 1 for m in _rows(slack_ctx))


def test_a_claim_left_by_a_dead_notifier_is_taken_over_after_the_lease(
    slack_ctx: Context, slack_api: FakeSlackApi, clock: FixedClock
) -> None:
    bid_in_qualification(slack_ctx)
    first = _rows(slack_ctx)[0]
    notifier = _notifier(slack_ctx)
    assert first.id in notifier._claim(slack_ctx, [first])  # claimed, then the process died
    report = notifier.deliver_pending(slack_ctx)
    assert report.skipped == 1 and report.pending == 1
    clock.advance(seconds=CLAIM_LEASE.total_seconds() + 1)
    report = notifier.deliver_pending(slack_ctx)
    assert report.sent == 1 and report.pending == 0
    assert _rows(slack_ctx)[0].attempts == 2


def test_a_delivery_claims_its_messages_together_and_marks_each_once_posted(
    slack_ctx: Context, slack_api: FakeSlackApi
) -> None:
    """One transaction takes the messages a delivery is about to post (not one per message);
    each is still marked sent right after it is posted, so a crash repeats none."""
    bid_in_qualification(slack_ctx)
    queued = _rows(slack_ctx)
    assert len(queued) >= 3
    sent = record_statements(slack_ctx.engine)
    report = _notifier(slack_ctx).deliver_pending(slack_ctx)
    assert report.sent == len(queued)
    updates = [" ".join(u.split()[:4]) for u in sent]
    claims = [u for u in updates if u.startswith("UPDATE outboxmessage SET attempts")]
    marks = [u for u in updates if u.startswith("UPDATE outboxmessage SET sent_at")]
    assert len(claims) == 1  # every message never tried, taken by one statement
    assert len(marks) == len(queued)  # each marked sent right after it was posted
    assert all(m.attempts == 1 and m.sent_at is not None for m in _rows(slack_ctx))


def test_bid_notify_sends_pending_messages_once_a_token_is_set(
    ctx: Context, slack_api: FakeSlackApi, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    bid_in_qualification(ctx)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", slack_api.base_url)
    result = run_cli("notify", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert (
        report["mode"] == "slack" and report["sent"] == len(_rows(ctx)) and report["pending"] == 0
    )
    assert json.loads(run_cli("notify", "--json").out)["sent"] == 0


def test_a_delivery_that_stops_on_an_error_holds_back_none_of_the_messages_after_it(
    slack_ctx: Context, slack_api: FakeSlackApi
) -> None:
    """Messages are claimed ten at a time; when posting one fails with an error that is not
    Slack's (a bug), the ones claimed after it are given back, not left for the lease."""
    bid_in_qualification(slack_ctx)
    queued = _rows(slack_ctx)
    assert len(queued) >= 3

    class Broken(SlackNotifier):
        def _post(self, ctx: Context, row: OutboxMessage, facts: Any) -> tuple[str, str]:
            raise RuntimeError("the message could not be built")

    with pytest.raises(RuntimeError):
        Broken(slack_client(slack_ctx.settings, backoff=0.01)).deliver_pending(slack_ctx)
    report = _notifier(slack_ctx).deliver_pending(slack_ctx)
    assert report.sent == len(queued) - 1  # all but the one it failed on, at once
    assert report.skipped == 1  # that one waits for its lease, as before


def test_a_doors_drain_delivers_without_counting_what_is_left(slack_ctx: Context) -> None:
    """A door's drain does not print what is left unsent, so it does not count it (one read
    fewer at every drain); `bid slack deliver` still says how many are pending."""
    from orchestrator.dispatch import drain

    bid_in_qualification(slack_ctx)
    queued = _rows(slack_ctx)
    statements = record_statements(slack_ctx.engine)
    report = drain(slack_ctx, notifier=_notifier(slack_ctx))
    assert report.notified == len(queued) > 0
    assert not [s for s in statements if "count(" in s and "outboxmessage" in s]
    assert _notifier(slack_ctx).deliver_pending(slack_ctx).pending == 0
    assert _notifier(slack_ctx).deliver_pending(slack_ctx, count=False).pending is None
