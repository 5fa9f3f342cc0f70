"""Delivering the outbox: the Notifier port, Slack direct messages, and outbox-only mode.

The services commit notifications as outbox rows with the change that caused them (one row
per event and recipient, unique `key`). A notifier delivers pending rows afterwards:

* without `SLACK_BOT_TOKEN` (the embedded default) nothing is sent; rows stay pending and
  `bid outbox` shows them; `bid notify` sends them once a token is set;
* with a token, `SlackNotifier` posts each row as a direct message to its recipient (the
  Slack user found by e-mail once, then kept on the Person) with Block Kit built from the
  row's marker and the bid's current facts.

Each row is sent at most once: a notifier first *claims* it with a conditional UPDATE
(compare-and-set on `attempts` and `last_error` while `sent_at IS NULL`), so two notifiers
running at once never both post it, and marks `sent_at` right after the post succeeds. A
failure keeps the row pending with `attempts + 1` and `last_error`. A claim whose notifier
died is taken over after `CLAIM_LEASE`. Transient Slack errors (429 with Retry-After, 500/503,
dropped connections) are retried inside slack-sdk by its retry handlers.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import re
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from sqlalchemy import Engine, func, update
from sqlmodel import col, select

from orchestrator.config import Settings
from orchestrator.context import Context
from orchestrator.errors import NotificationError
from orchestrator.slack.blocks import BidFacts, message_blocks
from orchestrator.store.db import reading, transaction, write_one
from orchestrator.store.models import Account, Opportunity, OutboxMessage, Person

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 8
"""After this many failed attempts a row stays pending but `bid notify` skips it (see --all)."""
DEFAULT_RETRIES = 3
"""Retries per Slack call for each kind of transient error, inside slack-sdk."""
DEFAULT_BACKOFF = 0.5
"""Seconds; the retry waits are backoff * 2**attempt with jitter (429 waits Retry-After)."""
CLAIM_LEASE = timedelta(minutes=5)
"""A claim older than this belongs to a notifier that died; another one may take the row."""
CLAIM_BATCH = 10
"""Messages claimed in one transaction, just before they are posted: few enough that the
last is posted well inside the lease even when Slack is slow (10 s timeout each)."""
SLACK_TIMEOUT_SECONDS = 10

_CLAIM = re.compile(r"^sending: claim (?P<token>\S+) at (?P<at>\S+)$")


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    mode: str
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    pending: int | None = 0
    """Messages still unsent after it; None when not counted (a door's drain)."""
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "sent": self.sent,
            "failed": self.failed,
            "skipped": self.skipped,
            "pending": self.pending,
            "errors": list(self.errors),
        }


class Notifier(Protocol):
    """Delivers pending outbox rows and reports what it did."""

    def deliver_pending(
        self, ctx: Context, *, settle_for: int | None = None, count: bool = True
    ) -> DeliveryReport:
        """`count`: also count the messages left unsent (what `bid slack deliver` prints)."""
        ...


def count_pending(engine: Engine) -> int:
    with reading(engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(OutboxMessage)
                .where(col(OutboxMessage.sent_at).is_(None))
            ).one()
        )


class OutboxOnlyNotifier:
    """No Slack token: every message stays in the outbox (`bid outbox`), nothing is lost."""

    def deliver_pending(
        self, ctx: Context, *, settle_for: int | None = None, count: bool = True
    ) -> DeliveryReport:
        return DeliveryReport(mode="outbox", pending=count_pending(ctx.engine) if count else None)


# --- the Slack client -------------------------------------------------------------------------


def api_base_url(settings: Settings) -> str:
    """SLACK_API_URL with the trailing slash slack-sdk needs to join method names."""
    url = settings.slack_api_url
    return url if url.endswith("/") else url + "/"


def retry_handlers(
    retries: int = DEFAULT_RETRIES, backoff: float = DEFAULT_BACKOFF
) -> list[RetryHandler]:
    """slack-sdk's handlers for 429 (honours Retry-After), 500/503 and connection errors."""
    interval = BackoffRetryIntervalCalculator(backoff_factor=backoff)
    return [
        RateLimitErrorRetryHandler(max_retry_count=retries, interval_calculator=interval),
        ServerErrorRetryHandler(max_retry_count=retries, interval_calculator=interval),
        ConnectionErrorRetryHandler(max_retry_count=retries, interval_calculator=interval),
    ]


def slack_client(
    settings: Settings, *, retries: int = DEFAULT_RETRIES, backoff: float = DEFAULT_BACKOFF
) -> WebClient:
    """A WebClient on SLACK_API_URL with the bot token; `NotificationError` without a token."""
    if not settings.slack_bot_token:
        raise NotificationError("SLACK_BOT_TOKEN is not set; messages stay in the outbox")
    return WebClient(
        token=settings.slack_bot_token,
        base_url=api_base_url(settings),
        timeout=SLACK_TIMEOUT_SECONDS,
        retry_handlers=retry_handlers(retries, backoff),
    )


def describe_error(error: Exception) -> str:
    """One line for `last_error`: Slack's error code and HTTP status, or the exception."""
    if isinstance(error, SlackApiError):
        data = error.response.data if isinstance(error.response.data, dict) else {}
        return f"slack {data.get('error', 'error')} (HTTP {error.response.status_code})"
    return f"{type(error).__name__}: {error}"[:500]


TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    SlackClientError,
    OSError,
    http.client.HTTPException,
)
"""What a Slack call may raise once slack-sdk's own retries are spent."""
_DELIVERY_ERRORS: tuple[type[Exception], ...] = (NotificationError, *TRANSIENT_ERRORS)


# --- who is who on Slack ----------------------------------------------------------------------


def person_by_slack_id(engine: Engine, user_id: str) -> Person | None:
    with reading(engine) as session:
        return session.exec(select(Person).where(Person.slack_user_id == user_id)).first()


def person_by_email(engine: Engine, email: str) -> Person | None:
    with reading(engine) as session:
        return session.exec(select(Person).where(Person.email == email.strip().lower())).first()


def slack_user_for(engine: Engine, client: WebClient, email: str) -> str:
    """Where to send a person's messages: their admin-set Slack id, else Slack's user for
    the e-mail (looked up, never stored: a person's Slack id is an identity field, which
    only an admin sets, since inbound clicks are mapped to people by it)."""
    person = person_by_email(engine, email)
    if person is not None and person.slack_user_id:
        return person.slack_user_id
    answer = client.users_lookupByEmail(email=email)
    user_id = str((answer.get("user") or {}).get("id") or "")
    if not user_id:
        raise NotificationError(f"Slack knows no user with e-mail {email}")
    return user_id


# --- delivering --------------------------------------------------------------------------------


RUN_LOOKUP_TIMEOUT_S = 1.0
RUN_LINK_TTL_S = 30.0
"""How long a bid's looked-up run link is used again: a move notifies four to six people,
often in separate deliveries, and the link is one lookup for all of them."""
_RUN_LINKS: dict[tuple[str, str], tuple[float, str | None]] = {}


def _newest_run(api_url: str, kind: str, ref: str) -> str | None:
    """The id of the bid's newest flow or task run (`kind`: flow_runs, task_runs), signed in
    with PREFECT_API_AUTH_STRING when the server is behind a password (`bid server`, the
    production stack); None when there is none or the server does not answer."""
    body = json.dumps(
        {"limit": 1, "sort": "EXPECTED_START_TIME_DESC", kind: {"tags": {"all_": [f"opp:{ref}"]}}}
    ).encode()
    request = urllib.request.Request(
        f"{api_url}/{kind}/filter",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    auth = os.environ.get("PREFECT_API_AUTH_STRING")
    if auth:
        request.add_header("Authorization", f"Basic {base64.b64encode(auth.encode()).decode()}")
    try:
        with urllib.request.urlopen(request, timeout=RUN_LOOKUP_TIMEOUT_S) as reply:
            runs = json.loads(reply.read())
    except (OSError, ValueError):
        return None
    return str(runs[0]["id"]) if isinstance(runs, list) and runs else None


def _link_key(settings: Settings) -> tuple[str, str] | None:
    """(UI base, API base) of the Prefect that links point at; None without a UI."""
    ui_url = settings.prefect_ui_url
    if not ui_url:
        return None
    base = ui_url.rstrip("/")
    return base, (settings.prefect_api_url or f"{base}/api").rstrip("/")


def running_in(settings: Settings, ref: str, task_run_id: str) -> None:
    """The bid is being carried on in task run `task_run_id` here: the messages this process
    delivers for it meanwhile link that run, without asking the server which is newest."""
    key = _link_key(settings)
    if key is not None:
        _RUN_LINKS[(key[1], ref)] = (time.monotonic(), f"{key[0]}/runs/task-run/{task_run_id}")


def run_link(settings: Settings, ref: str, run_id: str | None = None) -> str | None:
    """A link to the bid's newest run in the Prefect UI (PREFECT_UI_URL, which `bid server`
    sets for its processes): its flow run, or in production mode (bids carried on by the
    task workers) its task run; None when no UI is known or it does not answer."""
    ui_url = settings.prefect_ui_url
    if not ui_url:
        return None
    base = ui_url.rstrip("/")
    if run_id is not None:
        return f"{base}/runs/flow-run/{run_id}"
    api_url = (settings.prefect_api_url or f"{base}/api").rstrip("/")
    now = time.monotonic()
    held = _RUN_LINKS.get((api_url, ref))
    if held is not None and now - held[0] < RUN_LINK_TTL_S:
        return held[1]
    link = None
    if settings.flow_dispatch != "tasks":
        found = _newest_run(api_url, "flow_runs", ref)
        link = f"{base}/runs/flow-run/{found}" if found is not None else None
    if link is None:
        found = _newest_run(api_url, "task_runs", ref)
        link = f"{base}/runs/task-run/{found}" if found is not None else None
    if len(_RUN_LINKS) > 1000:
        _RUN_LINKS.clear()
    _RUN_LINKS[(api_url, ref)] = (now, link)
    return link


def page_link(settings: Settings, ref: str) -> str | None:
    """The bid's page in the web workspace, when its address is known (BID_WORKSPACE_URL)."""
    if not settings.workspace_url:
        return None
    return f"{settings.workspace_url.rstrip('/')}/bids/{ref}"


def bid_facts(ctx: Context, opportunity_id: int | None, markers: list[Any]) -> BidFacts | None:
    """The bid's current facts for a message, with its Prefect run link when one is known."""
    if opportunity_id is None:
        return None
    with reading(ctx.engine) as session:
        opportunity = session.get(Opportunity, opportunity_id)
        if opportunity is None:
            return None
        account = session.get(Account, opportunity.account_id)
        page_url = page_link(ctx.settings, opportunity.ref)
        run_ids = [m.get("flow_run_id") for m in markers if isinstance(m, dict)]
        run_url = (
            None  # the workspace's page says more than a run page, which may show nothing
            if page_url
            else run_link(ctx.settings, opportunity.ref, next((r for r in run_ids if r), None))
        )
        return BidFacts(
            ref=opportunity.ref,
            title=opportunity.title,
            account=account.name if account else "",
            state=opportunity.state,
            deadline=opportunity.submission_deadline,
            run_url=run_url,
            page_url=page_url,
        )


def _claim_marker(token: str, at: datetime) -> str:
    return f"sending: claim {token} at {at.isoformat()}"


def _in_flight(row: OutboxMessage, now: datetime) -> bool:
    """True while another notifier's claim on the row is younger than the lease."""
    match = _CLAIM.match(row.last_error or "")
    if match is None:
        return False
    try:
        claimed_at = datetime.fromisoformat(match.group("at"))
    except ValueError:
        return False
    if claimed_at.tzinfo is None and now.tzinfo is not None:
        claimed_at = claimed_at.replace(tzinfo=now.tzinfo)
    return now - claimed_at < CLAIM_LEASE


USER_ID_TTL_S = 300.0
"""How long a notifier uses a person's Slack id before asking again (a long-lived process)."""


class SlackNotifier:
    """Posts each pending outbox row as a Slack direct message, at most once per row."""

    def __init__(
        self, client: WebClient, *, max_attempts: int | None = DEFAULT_MAX_ATTEMPTS
    ) -> None:
        self.client = client
        self.max_attempts = max_attempts
        self._user_ids: dict[str, tuple[float, str]] = {}
        """E-mail → (when, Slack id) of the people this notifier sent to: asked again after
        `USER_ID_TTL_S` (an admin may link a person to another Slack id meanwhile)."""

    def deliver_pending(
        self,
        ctx: Context,
        limit: int = 500,
        *,
        settle_for: int | None = None,
        count: bool = True,
    ) -> DeliveryReport:
        """Post every pending message once, then update the decided decision messages: of
        every bid, or with `settle_for` (a door's drain for one bid) of that bid and of the
        bids whose messages this delivery posted (with hundreds of open decisions, looking
        at all of them at every delivery was most of its work)."""
        report = DeliveryReport(mode="slack")
        facts: dict[int, BidFacts | None] = {}
        """A bid's facts for this delivery's messages (a move notifies up to six people: the
        bid is read, and its run looked up, once for all of them)."""
        now = ctx.clock()
        statement = select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None))
        if self.max_attempts is not None:
            statement = statement.where(col(OutboxMessage.attempts) < self.max_attempts)
        with reading(ctx.engine) as session:
            rows = list(session.exec(statement.order_by(col(OutboxMessage.id)).limit(limit)).all())
        due = [row for row in rows if not _in_flight(row, now)]
        report.skipped += len(rows) - len(due)
        claims: dict[int, str] = {}
        posted: set[int] = set()
        try:
            for index, row in enumerate(due):
                if index % CLAIM_BATCH == 0:  # the next few rows, in one transaction
                    claims = self._claim(ctx, due[index : index + CLAIM_BATCH])
                claim = claims.pop(row.id or 0, None)
                if claim is None:  # another notifier changed it meanwhile
                    report.skipped += 1
                    continue
                self._deliver(ctx, row, claim, facts, report)
                if row.opportunity_id is not None:
                    posted.add(row.opportunity_id)
        finally:  # an error on one message: those claimed after it are not held back
            for row in due:
                if (row.id or 0) in claims:
                    self._release(ctx, row, claims[row.id or 0], "not posted: delivery stopped")
        bids = None
        if settle_for is not None:  # not the bids of rows another notifier was posting
            bids = {settle_for} | posted
        settle_decided(ctx, self.client, bids)
        report.pending = count_pending(ctx.engine) if count else None
        return report

    def _claim(self, ctx: Context, rows: list[OutboxMessage]) -> dict[int, str]:
        """Take `rows` for this run in one transaction: id → claim marker of each row taken
        (a row another notifier changed meanwhile is not). Rows read alike (the usual case:
        never tried) are taken by one UPDATE."""
        marker = _claim_marker(uuid.uuid4().hex[:12], ctx.clock())
        alike: dict[tuple[int, str | None], list[int]] = {}
        for row in rows:
            alike.setdefault((row.attempts, row.last_error), []).append(row.id or 0)
        taken: dict[int, str] = {}
        with transaction(ctx.engine) as session:
            for (attempts, last_error), ids in alike.items():
                seen_error = (
                    col(OutboxMessage.last_error).is_(None)
                    if last_error is None
                    else col(OutboxMessage.last_error) == last_error
                )
                result = session.execute(
                    update(OutboxMessage)
                    .where(
                        col(OutboxMessage.id).in_(ids),
                        col(OutboxMessage.sent_at).is_(None),
                        col(OutboxMessage.attempts) == attempts,
                        seen_error,
                    )
                    .values(attempts=attempts + 1, last_error=marker)
                    .returning(col(OutboxMessage.id))
                    .execution_options(synchronize_session=False)
                )
                taken.update({row_id: marker for row_id in result.scalars()})
        return taken

    def _mark_sent(self, ctx: Context, row: OutboxMessage, posted: tuple[str, str]) -> None:
        channel, ts = posted
        write_one(
            ctx.engine,
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == row.id, col(OutboxMessage.sent_at).is_(None))
            .values(
                sent_at=ctx.clock(),
                last_error=None,
                slack_channel=channel or None,
                slack_ts=ts or None,
            ),
        )

    def _deliver(
        self,
        ctx: Context,
        row: OutboxMessage,
        claim: str,
        facts: dict[int, BidFacts | None],
        report: DeliveryReport,
    ) -> None:
        """Post one claimed row and mark it sent, or give it back with Slack's error."""
        try:
            posted = self._post(ctx, row, facts)
        except _DELIVERY_ERRORS as error:
            reason = str(error) if isinstance(error, NotificationError) else describe_error(error)
            self._release(ctx, row, claim, reason)
            report.failed += 1
            report.errors.append(f"{row.key}: {reason}")
            log.warning("outbox message %s not delivered: %s", row.key, reason)
        else:
            self._mark_sent(ctx, row, posted)
            report.sent += 1

    def _release(self, ctx: Context, row: OutboxMessage, claim: str, reason: str) -> None:
        write_one(
            ctx.engine,
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == row.id, col(OutboxMessage.last_error) == claim)
            .values(last_error=reason[:1000]),
        )

    def _channel(self, ctx: Context, row: OutboxMessage) -> str:
        if row.channel:
            return row.channel
        if not row.recipient_email:
            raise NotificationError(f"outbox message {row.key} has neither recipient nor channel")
        email = row.recipient_email
        now = time.monotonic()
        held = self._user_ids.get(email)
        if held is None or now - held[0] > USER_ID_TTL_S:
            held = self._user_ids[email] = (now, slack_user_for(ctx.engine, self.client, email))
        return held[1]

    def _post(
        self, ctx: Context, row: OutboxMessage, facts: dict[int, BidFacts | None]
    ) -> tuple[str, str]:
        """Post the row; where Slack put it (channel, ts), to update it after its decision."""
        channel = self._channel(ctx, row)
        markers = list(row.blocks or [])
        blocks = message_blocks(row.text, markers, _bid_facts(ctx, row, markers, facts))
        answer = self.client.chat_postMessage(
            channel=channel, text=row.text, blocks=blocks, unfurl_links=False, unfurl_media=False
        )
        return str(answer.get("channel") or ""), str(answer.get("ts") or "")


def _bid_facts(
    ctx: Context, row: OutboxMessage, markers: list[Any], held: dict[int, BidFacts | None]
) -> BidFacts | None:
    """The row's bid facts, read once per bid and delivery (`held`)."""
    if row.opportunity_id is None or any(
        isinstance(m, dict) and m.get("flow_run_id") for m in markers
    ):
        return bid_facts(ctx, row.opportunity_id, markers)
    if row.opportunity_id not in held:
        held[row.opportunity_id] = bid_facts(ctx, row.opportunity_id, markers)
    return held[row.opportunity_id]


# --- after the decision: the buttons replaced by who decided what ------------------------------

SETTLED_EVENTS = ("approval_requested", "go_no_go_requested")
"""The messages whose buttons ask for a decision."""
SETTLE_BATCH = 200


def settle_decided(ctx: Context, client: WebClient, bids: set[int] | None = None) -> int:
    """Update every posted decision message whose decision is made: its buttons give way to
    who decided what and when (chat.update), so nobody clicks a button that can no longer
    count. Each message is claimed before it is updated (two notifiers update it once); a
    failed update is tried again at a later delivery for the bid (or any delivery for all bids:
    a command, the scheduled effects drain). `bids`: only those bids. Returns how many were
    updated. The messages are claimed in one transaction, and a bid's facts read once for
    all of its messages."""
    from orchestrator.slack.outcomes import decision_of, with_decisions

    query = (
        select(OutboxMessage)
        .where(
            col(OutboxMessage.event).in_(SETTLED_EVENTS),
            col(OutboxMessage.slack_ts).is_not(None),
            col(OutboxMessage.settled_at).is_(None),
        )
        .order_by(col(OutboxMessage.id))
        .limit(SETTLE_BATCH)
    )
    if bids is not None:
        query = query.where(col(OutboxMessage.opportunity_id).in_(sorted(bids)))
    with reading(ctx.engine) as session:
        rows = session.exec(query).all()
        decided = [(row, decision_of(session, row)) for row in with_decisions(session, list(rows))]
    updated = 0
    ready: list[tuple[OutboxMessage, str]] = [(r, o) for r, o in decided if o is not None]
    if not ready:
        return 0
    with transaction(ctx.engine) as session:  # every decided message claimed at once
        claimed = set(
            session.execute(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.id).in_([row.id for row, _ in ready]),
                    col(OutboxMessage.settled_at).is_(None),
                )
                .values(settled_at=ctx.clock())
                .returning(col(OutboxMessage.id))
                .execution_options(synchronize_session=False)
            ).scalars()
        )
    facts: dict[int | None, BidFacts | None] = {}
    left = [row.id for row, _ in ready if row.id in claimed]
    try:
        for row, outcome in ready:
            if row.id not in claimed:  # another notifier updates it
                continue
            left.remove(row.id)
            if _settle_one(ctx, client, row, outcome, facts):
                updated += 1
    finally:  # an error on one message: those after it are not held back, but tried again
        if left:
            _unsettle(ctx, left)
    return updated


def _settle_one(
    ctx: Context,
    client: WebClient,
    row: OutboxMessage,
    outcome: str,
    facts: dict[int | None, BidFacts | None],
) -> bool:
    """Update one claimed decision message; False (and released) when Slack failed."""
    if row.opportunity_id not in facts:  # a bid's facts read once for its messages
        facts[row.opportunity_id] = bid_facts(ctx, row.opportunity_id, [])
    markers = list(row.blocks or [])
    blocks = [
        block
        for block in message_blocks(row.text, markers, facts[row.opportunity_id])
        if block.get("type") != "actions"
    ]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": outcome}]})
    try:
        client.chat_update(
            channel=row.slack_channel or "", ts=row.slack_ts or "", text=row.text, blocks=blocks
        )
    except TRANSIENT_ERRORS as error:
        log.warning("message %s not updated: %s", row.key, describe_error(error))
        _unsettle(ctx, [row.id])
        return False
    return True


def _unsettle(ctx: Context, ids: list[int | None]) -> None:
    """Give claimed decision messages back: a later delivery updates them."""
    write_one(
        ctx.engine,
        update(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).values(settled_at=None),
    )


def get_notifier(ctx: Context) -> Notifier:
    """Slack when a token is set, else outbox-only. The Slack notifier is made once per
    context and token: it keeps the people's Slack ids it looked up (a worker delivers for
    many bids, and each move tells several people)."""
    settings = ctx.settings
    if not settings.slack_bot_token:
        return OutboxOnlyNotifier()
    key = ("slack_notifier", settings.slack_bot_token, settings.slack_api_url)
    held = ctx.extras.get("slack_notifier")
    if isinstance(held, tuple) and held[0] == key:
        return cast(Notifier, held[1])
    notifier = SlackNotifier(slack_client(settings))
    ctx.extras["slack_notifier"] = (key, notifier)
    return notifier


def deliver(ctx: Context) -> DeliveryReport:
    """Deliver what is pending with this context's notifier (call after a commit)."""
    return get_notifier(ctx).deliver_pending(ctx)
