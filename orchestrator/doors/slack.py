"""The Slack door: approvers answer in Slack — signed, deduplicated, authorised.

Slack posts interactivity payloads (button clicks, modal submissions) to `/slack/events`.
Bolt verifies each request's signature (HMAC-SHA256 over `v0:timestamp:body`, 5-minute
window) and answers 401 to anything else. Every listener acknowledges at once — Slack wants
an answer within 3 s — and hands the decision to a small worker pool, which:

1. drops duplicate deliveries (Slack retries with `X-Slack-Retry-Num`, the same payload
   twice) by the action's `action_ts` or the modal's view id, once per process;
2. maps the Slack user to a Person by the Slack user id an admin set on it (`bid people set`)
   and by nothing else (not by Slack's profile e-mail);
3. builds the same typed command as the CLI (`Approve` / `Decide`) and hands it to
   `pipeline.dispatch` for the clicker, whose service asks
   `may_decide` (the person's powers and rules/duties.yaml), binds the approval to the
   proposal version and the approval request the button carries (a button without them is
   refused; a click on a request a later one replaced is refused and the clicker is sent
   the current request), audits refusals and records a second answer for the same area and
   version as nothing;
4. answers the clicker with an ephemeral message (recorded, refused, or outdated with a
   pointer to the current proposal version);
5. after a recorded answer, drains the effects the answer committed (the carry its service
   decided, the documents) and delivers the outbox rows the change queued.

Rejections and go/no-go decisions need a reason: the button opens a modal (views.open with
the click's trigger_id) and its submission records the answer.

Opening the app's Home tab (the `app_home_opened` event) publishes "my approvals" and "my
bids" for the linked person (`orchestrator.slack.home`, views.publish).

Before Bolt sees a request, `SlackAsgi` checks the timestamp header, the signature and the
shape of the payload: anything malformed is answered 400 with one line naming the field
(never a 500 with a traceback in the log), and changes nothing.

This module is thin: parse, verify, dispatch the command. It holds no business rules.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import parse_qs

from pydantic import ValidationError
from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine, delete
from sqlalchemy.exc import DisconnectionError, IntegrityError, OperationalError, SQLAlchemyError
from sqlmodel import Session, col

from orchestrator.bid.approvals.governance import RequestSuperseded, resend_request
from orchestrator.bid.progress import services
from orchestrator.context import Context
from orchestrator.core.commands import Approve, Decide
from orchestrator.core.wire import Moved, Result
from orchestrator.dispatch import drain
from orchestrator.errors import ApprovalError, BidError, InputError, NotificationError
from orchestrator.pipeline import dispatch
from orchestrator.runtime.runner import FlowRunner, get_runner
from orchestrator.slack import messages
from orchestrator.slack.blocks import (
    APPROVE,
    CATEGORY_BLOCK,
    GO_NO_GO_ACTIONS,
    GO_NO_GO_MODAL,
    REJECT,
    REJECT_MODAL,
    ButtonValue,
    ModalAnswer,
    go_no_go_modal,
    read_modal,
    reject_modal,
)
from orchestrator.slack.notify import (
    TRANSIENT_ERRORS,
    Notifier,
    SlackNotifier,
    describe_error,
    person_by_slack_id,
    slack_client,
)
from orchestrator.store.db import reading
from orchestrator.store.models import Area, Person, SlackDelivery

DATABASE_RETRY_PAUSES_S = (0.5, 1.0, 2.0, 4.0, 8.0)
"""A click is acknowledged before its answer is recorded (Slack wants an answer within 3 s);
when the database is away for a moment (a restart, a failover) the answer is tried again
after these pauses — the services make a second try of a recorded answer a no-op."""

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
MAX_BODY_BYTES = 1_000_000
DEDUPE_TTL_SECONDS = 3600.0
DECISION_WORKERS = 4
ACK_THREADS = 64


class SeenRequests:
    """Keys of interactions already taken in this process, kept for `ttl` seconds.

    Slack retries a delivery it thinks failed (`X-Slack-Retry-Num`) with the same payload:
    the same `action_ts` for a click, the same view id for a modal submission.
    """

    def __init__(
        self,
        ttl: float = DEDUPE_TTL_SECONDS,
        max_size: int = 100_000,
        engine: Engine | None = None,
    ) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self.engine = engine
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def _first_in_database(self, key: str) -> bool:
        """Claim the key in the shared table; another process's claim wins (unique key)."""
        if self.engine is None:
            return True
        now = datetime.now(UTC)
        try:
            with Session(self.engine) as session:
                session.add(SlackDelivery(key=key, received_at=now))
                session.execute(
                    delete(SlackDelivery).where(
                        col(SlackDelivery.received_at) < now - timedelta(seconds=self.ttl)
                    )
                )
                session.commit()
        except IntegrityError:
            return False
        return True

    def first_time(self, key: str) -> bool:
        """True the first time `key` is offered (atomically), False for every repeat.

        When the shared table cannot be written (the database is busy), the key is not kept:
        Slack's retry, or the person clicking again, is taken as a first delivery.
        """
        now = time.monotonic()
        with self._lock:
            while self._seen and (
                len(self._seen) >= self.max_size or next(iter(self._seen.values())) < now - self.ttl
            ):
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now
        try:
            return self._first_in_database(key)
        except SQLAlchemyError:
            with self._lock:
                self._seen.pop(key, None)
            raise


def _channel_of(body: dict[str, Any]) -> str | None:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return str(channel) if channel else None


def _action_and_key(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The clicked action and its delivery key (same click, same key; Slack retries too)."""
    action: dict[str, Any] = (body.get("actions") or [{}])[0]
    return action, f"action:{_user_of(body)}:{action.get('action_id')}:{action.get('action_ts')}"


def _user_of(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


def _retry_num(request: BoltRequest) -> str | None:
    values = request.headers.get("x-slack-retry-num") or []
    return str(values[0]) if values else None


class SlackDoor:
    """Bolt listeners for the decision buttons and modals, over one context."""

    def __init__(
        self,
        ctx: Context,
        client: WebClient,
        signing_secret: str,
        *,
        runner: FlowRunner | None = None,
        notifier: Notifier | None = None,
        workers: int = DECISION_WORKERS,
        seen: SeenRequests | None = None,
    ) -> None:
        self.ctx = ctx
        self.client = client
        self.signing_secret = signing_secret
        self._runner = runner
        self.notifier = notifier if notifier is not None else SlackNotifier(client)
        self.seen = seen or SeenRequests(engine=ctx.engine)
        self._work = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bid-slack-work")
        self._busy = 0
        self._idle = threading.Condition()
        self.bolt = App(
            signing_secret=signing_secret,
            client=client,
            process_before_response=False,
            listener_executor=ThreadPoolExecutor(
                max_workers=ACK_THREADS, thread_name_prefix="bid-slack-ack"
            ),
            logger=logging.getLogger(f"{__name__}.bolt"),
        )
        self.bolt.action(APPROVE)(self._on_approve)
        self.bolt.action(REJECT)(self._on_reject)
        for action_id in GO_NO_GO_ACTIONS:
            self.bolt.action(action_id)(self._on_go_no_go)
        self.bolt.view(REJECT_MODAL)(self._on_reject_submitted)
        self.bolt.view(GO_NO_GO_MODAL)(self._on_go_no_go_submitted)
        self.bolt.event("app_home_opened")(self._on_home_opened)

    @property
    def runner(self) -> FlowRunner:
        if self._runner is None:
            self._runner = get_runner(self.ctx)
        return self._runner

    # --- bookkeeping of background work ---------------------------------------------------

    @contextmanager
    def _tracked(self) -> Iterator[None]:
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                if self._busy == 0:
                    self._idle.notify_all()

    def _submit(self, work: Callable[..., None], *args: Any) -> None:
        """Queue `work` for the decision workers; `wait_idle` waits for it."""
        with self._idle:
            self._busy += 1

        def run() -> None:
            try:
                for pause in (*DATABASE_RETRY_PAUSES_S, None):
                    try:
                        work(*args)
                        return
                    except (OperationalError, DisconnectionError) as away:
                        if pause is None:  # the database stayed away: the answer is lost
                            log.exception("Slack interaction failed: the database is away")
                            return
                        # a restart or a failover: the click was acknowledged, so try again
                        log.warning("database away (%s); trying again in %.1f s", away, pause)
                        time.sleep(pause)
            except Exception:  # a bug: keep the worker alive, keep the traceback
                log.exception("Slack interaction failed")
            finally:
                with self._idle:
                    self._busy -= 1
                    if self._busy == 0:
                        self._idle.notify_all()

        self._work.submit(run)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every acknowledged interaction has been handled; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def close(self) -> None:
        """Finish the queued decisions and stop the workers."""
        self._work.shutdown(wait=True)

    def _first_delivery(self, key: str, request: BoltRequest) -> bool:
        if self.seen.first_time(key):
            return True
        log.info("duplicate Slack delivery %s (retry %s) ignored", key, _retry_num(request))
        return False

    # --- listeners: acknowledge first, then hand over ------------------------------------------

    def _on_approve(
        self, ack: Callable[..., None], body: dict[str, Any], request: BoltRequest
    ) -> None:
        action, key = _action_and_key(body)
        with self._tracked():  # counted as busy from before the ack until the work is done
            ack()
            self._submit(self._approve_first_delivery, body, action, key, request)

    def _approve_first_delivery(
        self, body: dict[str, Any], action: dict[str, Any], key: str, request: BoltRequest
    ) -> None:
        """After the ack: take the click once, then record it; a click that cannot be taken
        (the database is busy past its timeout) is answered, never silently lost."""
        try:
            first = self._first_delivery(key, request)
        except SQLAlchemyError as error:
            log.warning("Slack click %s not taken: %s", key, error)
            reason = "the database was busy; nothing was recorded, please click again"
            self._reply(_user_of(body), _channel_of(body), "slack_refused", ref="?", reason=reason)
            return
        if first:
            self._approve_click(body, action)

    def _on_reject(
        self, ack: Callable[..., None], body: dict[str, Any], request: BoltRequest
    ) -> None:
        action, key = _action_and_key(body)
        with self._tracked():
            ack()
            if not self._first_delivery(key, request):
                return
            self._open_modal(body, lambda value, channel: reject_modal(value, channel), action)

    def _on_go_no_go(
        self, ack: Callable[..., None], body: dict[str, Any], request: BoltRequest
    ) -> None:
        action, key = _action_and_key(body)
        with self._tracked():
            ack()
            if not self._first_delivery(key, request):
                return
            from orchestrator.decisions.funnel_rules import reason_categories

            categories = reason_categories(self.ctx.settings.rules_dir)
            self._open_modal(
                body, lambda value, channel: go_no_go_modal(value, channel, categories), action
            )

    def _on_reject_submitted(
        self, ack: Callable[..., None], body: dict[str, Any], request: BoltRequest
    ) -> None:
        view = body.get("view") or {}
        with self._tracked():
            ack()
            if self._first_delivery(f"view:{view.get('id')}:{view.get('hash')}", request):
                self._submit(self._reject_submitted, body)

    def _on_go_no_go_submitted(
        self, ack: Callable[..., None], body: dict[str, Any], request: BoltRequest
    ) -> None:
        view = body.get("view") or {}
        try:
            answer = read_modal(view)
        except InputError as error:
            ack(response_action="errors", errors={"reason": str(error)})
            return
        if answer.value.outcome == "no_bid" and not answer.category:
            ack(response_action="errors", errors={CATEGORY_BLOCK: "choose a reason category"})
            return
        with self._tracked():
            ack()
            if self._first_delivery(f"view:{view.get('id')}:{view.get('hash')}", request):
                self._submit(self._decide, _user_of(body), answer)

    def _open_modal(
        self,
        body: dict[str, Any],
        build: Callable[[ButtonValue, str | None], dict[str, Any]],
        action: dict[str, Any],
    ) -> None:
        """Open a reason modal now: the click's trigger_id expires after 3 seconds."""
        user, channel = _user_of(body), _channel_of(body)
        try:
            value = ButtonValue.decode(str(action.get("value", "")))
            self.client.views_open(trigger_id=body.get("trigger_id"), view=build(value, channel))
        except InputError as error:
            self._reply(user, channel, "slack_refused", ref="?", reason=str(error))
        except TRANSIENT_ERRORS as error:
            log.warning("views.open failed: %s", describe_error(error))
            self._reply(user, channel, "slack_form_failed", error=describe_error(error))

    def _on_home_opened(self, ack: Callable[..., None], event: dict[str, Any]) -> None:
        """The App Home tab opened: publish "my approvals" and "my bids" (after the ack)."""
        ack()
        user = str(event.get("user") or "")
        if event.get("tab", "home") == "home" and user:
            self._submit(self._publish_home, user)

    def _publish_home(self, user: str) -> None:
        from orchestrator.slack.home import home_view

        view = home_view(self.ctx, self.person_for(user))
        try:
            self.client.views_publish(user_id=user, view=view)
        except TRANSIENT_ERRORS as error:
            log.warning("views.publish for %s failed: %s", user, describe_error(error))

    # --- the work, after the ack ----------------------------------------------------------------

    def _approve_click(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        user, channel = _user_of(body), _channel_of(body)
        try:
            value = ButtonValue.decode(str(action.get("value", "")))
        except InputError as error:
            self._reply(user, channel, "slack_refused", ref="?", reason=str(error))
            return
        self._approve(user, channel, value, reject=False, reason=None)

    def _reject_submitted(self, body: dict[str, Any]) -> None:
        user = _user_of(body)
        try:
            answer = read_modal(body.get("view") or {})
        except InputError as error:
            self._reply(user, None, "slack_refused", ref="?", reason=str(error))
            return
        self._approve(user, answer.channel, answer.value, reject=True, reason=answer.reason)

    def _approve(
        self,
        user: str,
        channel: str | None,
        value: ButtonValue,
        *,
        reject: bool,
        reason: str | None,
    ) -> None:
        person = self.person_for(user)
        if person is None:
            self._reply(user, channel, "slack_unknown_user", slack_user=user)
            return
        area = value.area or ""
        if not value.proposal_hash:  # a Slack approval binds to the version it was shown
            reason = "the button names no proposal version; answer the latest request"
            self._reply(user, channel, "slack_refused", ref=value.ref, reason=reason)
            return
        if value.request is None:  # a button sent before requests were named on it
            reason = "the button names no approval request; answer the latest request"
            sent = self._resend(value.ref, area, person.email, f"unnamed:{value.proposal_hash}")
            reason += ", sent to you now" if sent else ""
            self._reply(user, channel, "slack_refused", ref=value.ref, reason=reason)
            return
        try:
            command = Approve(
                opportunity=value.ref,
                area=area,  # checked by the model: anything else is refused
                reject=reject,
                reason=reason,
                version=value.proposal_hash,
                request_id=value.request,
                fingerprint=value.fingerprint,
            )
        except ValidationError as invalid:
            self._reply(user, channel, "slack_refused", ref=value.ref, reason=_first(invalid))
            return
        try:
            result = dispatch(self.ctx, command, person, runner=self.runner, settle_effects=False)
        except RequestSuperseded as superseded:
            sent = superseded.current is not None and self._resend(
                value.ref, area, person.email, f"{value.request}:{value.fingerprint}"
            )
            told = f"{superseded}" + ("; it was sent to you now" if sent else "")
            self._reply(user, channel, "slack_refused", ref=value.ref, reason=told)
            return
        except ApprovalError as refusal:
            current = self._current_version(value.ref)
            if value.proposal_hash and current and current != value.proposal_hash:
                self._reply(
                    user,
                    channel,
                    "slack_outdated",
                    ref=value.ref,
                    area=area,
                    clicked=value.proposal_hash,
                    current=current,
                )
            else:
                self._reply(user, channel, "slack_refused", ref=value.ref, reason=str(refusal))
            return
        except BidError as error:
            self._reply(user, channel, "slack_refused", ref=value.ref, reason=str(error))
            return
        if self._recorded(user, channel, result).recorded:
            self._drain(value.ref)  # after the answer: the carry and the documents, then delivery

    def _decide(self, user: str, answer: ModalAnswer) -> None:
        person = self.person_for(user)
        channel = answer.channel
        if person is None:
            self._reply(user, channel, "slack_unknown_user", slack_user=user)
            return
        ref = answer.value.ref
        try:
            command = Decide(
                opportunity=ref,
                outcome=answer.value.outcome or "",  # the model checks it
                reason=answer.reason,
                category=answer.category,
            )
        except ValidationError as invalid:
            self._reply(user, channel, "slack_refused", ref=ref, reason=_first(invalid))
            return
        try:
            result = dispatch(self.ctx, command, person, runner=self.runner, settle_effects=False)
        except BidError as error:
            self._reply(user, channel, "slack_refused", ref=ref, reason=str(error))
            return
        self._recorded(user, channel, result)
        self._drain(ref)

    def _recorded(self, user: str, channel: str | None, result: Result) -> Moved:
        """Tell the clicker what their answer did (the bid's state after it)."""
        moved = cast(Moved, result)
        self._reply(
            user,
            channel,
            "slack_recorded",
            ref=moved.opportunity,
            message=moved.message,
            state=moved.state,
        )
        return moved

    def _resend(self, ref: str, area: str, email: str, instead_of: str) -> bool:
        """Send the clicker the current request of `area` (its summary and buttons)."""
        try:
            sent = resend_request(self.ctx, ref, area, email, instead_of=instead_of)
        except BidError as error:
            log.info("%s: the current %s request was not sent again: %s", ref, area, error)
            return False
        self._drain(ref)
        return sent

    def _drain(self, ref: str) -> None:
        """Run what the answer's handler decided for the bid (render, carry it on), then
        deliver.

        The door decides nothing: the service wrote the effects with the answer. It runs the
        effects of the bid it was answered on, not those of bids other clicks are busy with
        (their own door runs them; what a crash left, the scheduled effects drain): twenty
        approvers clicking at once rendered each other's bids, twice."""
        report = drain(self.ctx, self.runner, notifier=self.notifier, ref=ref)
        for line in report.lines():
            log.info("%s", line)
        if report.not_notified:
            log.warning("%d notifications not delivered", report.not_notified)

    # --- people and replies ----------------------------------------------------------------------

    def person_for(self, user_id: str) -> Person | None:
        """The Person an admin linked to this Slack user (`bid people set --slack-user-id`).

        Nothing else maps a click to a person: not Slack's profile e-mail (a workspace
        admin could change it), not an opportunity's YAML."""
        if not user_id:
            return None
        return person_by_slack_id(self.ctx.engine, user_id)

    def _current_version(self, ref: str) -> str | None:
        try:
            with reading(self.ctx.engine) as session:
                return services.get_opportunity(session, ref).proposal_hash
        except BidError:
            return None

    def _reply(self, user: str, channel: str | None, template: str, **values: Any) -> None:
        """An ephemeral answer to the clicker only (a DM when the channel is unknown)."""
        text = messages.render(self.ctx.settings.templates_dir, template, **values)
        try:
            if channel:
                self.client.chat_postEphemeral(channel=channel, user=user, text=text)
            else:
                self.client.chat_postMessage(channel=user, text=text)
        except TRANSIENT_ERRORS as error:
            log.warning("could not answer %s: %s", user, describe_error(error))


# --- what reaches Bolt: signed, well-formed ------------------------------------------------------

APPROVAL_ACTIONS = (APPROVE, REJECT)
AREAS = frozenset(area.value for area in Area)


def _field_error(field: str, message: str) -> InputError:
    return InputError(message, field=field)


def check_signature(
    headers: dict[str, list[str]], body: bytes, signing_secret: str
) -> tuple[int, str] | None:
    """(status, one line) for a request Slack did not sign (or signed too long ago)."""
    timestamps = headers.get("x-slack-request-timestamp") or []
    signatures = headers.get("x-slack-signature") or []
    if not timestamps or not signatures:
        return 401, "missing Slack signature headers"
    if not timestamps[0].isdigit() or len(timestamps[0]) > 12:
        return 400, "field 'x-slack-request-timestamp': is not a Unix time in seconds"
    verifier = SignatureVerifier(signing_secret)
    if not verifier.is_valid(body, timestamps[0], signatures[0]):
        return 401, "invalid or expired Slack signature"
    return None


def _button(action: dict[str, Any], field: str, action_id: str) -> ButtonValue:
    raw = action.get("value")
    if not isinstance(raw, str):
        raise _field_error(f"{field}.value", "is missing")
    try:
        value = ButtonValue.decode(raw)
    except InputError as error:
        raise _field_error(f"{field}.value", str(error)) from None
    except RecursionError:
        raise _field_error(f"{field}.value", "is nested too deep") from None
    if action_id in APPROVAL_ACTIONS or action_id == REJECT_MODAL:
        if value.area not in AREAS:
            raise _field_error(f"{field}.value.area", "is not a governance area")
        if not value.proposal_hash:
            raise _field_error(f"{field}.value.hash", "names no proposal version")
    elif value.outcome not in {outcome for outcome, _, _ in GO_NO_GO_ACTIONS.values()}:
        raise _field_error(f"{field}.value.outcome", "is not a go/no-go outcome")
    return value


def check_interaction(body: bytes) -> None:
    """`InputError` naming the field when a signed interaction is not one our listeners can
    read: the payload is not a JSON object, misses the user, the action or the view, or a
    decision button carries no bid, area, outcome or proposal version."""
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as error:
        raise _field_error("body", f"is not a form ({error})") from None
    if "payload" not in form:
        return  # not an interaction (Slack's url_verification, ssl_check): Bolt answers it
    if len(form["payload"]) != 1:
        raise _field_error("payload", "is given more than once")
    try:
        payload = json.loads(form["payload"][0])
    except (ValueError, RecursionError):
        raise _field_error("payload", "is not JSON") from None
    if not isinstance(payload, dict):
        raise _field_error("payload", "is not a JSON object")
    kind = payload.get("type")
    if not isinstance(kind, str):
        raise _field_error("payload.type", "is missing")
    user = payload.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
        raise _field_error("payload.user.id", "is missing")
    for name in ("channel", "container"):
        if name in payload and not isinstance(payload[name], dict | None):
            raise _field_error(f"payload.{name}", "is not an object")
    if kind == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
            raise _field_error("payload.actions", "holds no action")
        action = actions[0]
        action_id = action.get("action_id")
        if not isinstance(action_id, str):
            raise _field_error("payload.actions[0].action_id", "is missing")
        if not isinstance(action.get("action_ts", ""), str):
            raise _field_error("payload.actions[0].action_ts", "is not a string")
        if action_id in APPROVAL_ACTIONS or action_id in GO_NO_GO_ACTIONS:
            _button(action, "payload.actions[0]", action_id)
    elif kind == "view_submission":
        view = payload.get("view")
        if not isinstance(view, dict):
            raise _field_error("payload.view", "is missing")
        callback = view.get("callback_id")
        if not isinstance(callback, str):
            raise _field_error("payload.view.callback_id", "is missing")
        if callback not in (REJECT_MODAL, GO_NO_GO_MODAL):
            return
        for name in ("id", "hash", "private_metadata"):
            if not isinstance(view.get(name), str):
                raise _field_error(f"payload.view.{name}", "is missing")
        state = view.get("state")
        if not isinstance(state, dict) or not isinstance(state.get("values"), dict):
            raise _field_error("payload.view.state.values", "is missing")
        for block_id, block in state["values"].items():
            if not isinstance(block, dict) or not all(isinstance(v, dict) for v in block.values()):
                raise _field_error(f"payload.view.state.values.{block_id}", "is not an object")
        try:
            metadata = json.loads(view["private_metadata"])
        except (ValueError, RecursionError):
            raise _field_error("payload.view.private_metadata", "is not JSON") from None
        if not isinstance(metadata, dict):
            raise _field_error("payload.view.private_metadata", "is not a JSON object")
        if not isinstance(metadata.get("channel"), str | None):
            raise _field_error("payload.view.private_metadata.channel", "is not a string")
        _button(metadata, "payload.view.private_metadata", callback)


# --- HTTP: Bolt on ASGI, served by uvicorn ------------------------------------------------------

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class SlackAsgi:
    """An ASGI app: POST /slack/events into Bolt (in threads, so acks never queue behind
    each other on the event loop), GET /healthz for probes."""

    def __init__(self, door: SlackDoor, *, threads: int = ACK_THREADS) -> None:
        self.door = door
        self._executor = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="bid-slack-http"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if path == HEALTH_PATH and method == "GET":
            await _respond(send, 200, "ok")
            return
        if path != EVENTS_PATH or method != "POST":
            await _respond(send, 404, "not found")
            return
        body = await _read_body(receive)
        if body is None:
            await _respond(send, 413, "payload too large")
            return
        headers: dict[str, list[str]] = {}
        for name, value in scope.get("headers") or []:
            headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
        refused = check_signature(headers, body, self.door.signing_secret)
        if refused is None:
            try:
                check_interaction(body)
            except InputError as error:
                refused = 400, str(error)
        if refused is not None:
            status, line = refused
            log.info("Slack request refused (%d): %s", status, line)
            await _respond(send, status, line)
            return
        request = BoltRequest(
            body=body.decode("utf-8", errors="replace"),
            query=(scope.get("query_string") or b"").decode("latin-1"),
            headers=headers,  # type: ignore[arg-type]
        )
        loop = asyncio.get_running_loop()
        response: BoltResponse = await loop.run_in_executor(
            self._executor, self.door.bolt.dispatch, request
        )
        await _respond(send, response.status, response.body or "", response.headers)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.get_running_loop().run_in_executor(None, self.door.close)
                self._executor.shutdown(wait=False)
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(
    send: Send, status: int, body: str, headers: dict[str, Any] | None = None
) -> None:
    raw = body.encode("utf-8")
    pairs: list[tuple[bytes, bytes]] = []
    for name, values in (headers or {"content-type": ["text/plain; charset=utf-8"]}).items():
        if name.lower() == "content-length":
            continue
        for value in values if isinstance(values, list | tuple) else [values]:
            pairs.append((name.lower().encode("latin-1"), str(value).encode("latin-1")))
    pairs.append((b"content-length", str(len(raw)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": pairs})
    await send({"type": "http.response.body", "body": raw})


def build_door(ctx: Context, *, runner: FlowRunner | None = None) -> SlackDoor:
    """The door for `bid serve`; one-line errors without a signing secret or a valid token."""
    secret = ctx.settings.slack_signing_secret
    if not secret:
        raise InputError(
            "SLACK_SIGNING_SECRET is not set; bid serve verifies every Slack request with it"
        )
    if not ctx.settings.slack_bot_token:
        raise InputError("SLACK_BOT_TOKEN is not set; bid serve answers Slack with the bot token")
    client = slack_client(ctx.settings)
    try:
        return SlackDoor(ctx, client, secret, runner=runner)
    except TRANSIENT_ERRORS as error:
        raise NotificationError(f"Slack refused the bot token: {describe_error(error)}") from error


def serve(ctx: Context, host: str = "127.0.0.1", port: int = 3000) -> None:
    """Serve Slack interactivity on http://host:port/slack/events until interrupted."""
    import uvicorn

    from orchestrator.runtime.runner import warm_up

    door = build_door(ctx)
    warm_up(ctx)  # before the first click, not during it
    uvicorn.run(SlackAsgi(door), host=host, port=port, log_level="info", access_log=False)


def _first(invalid: ValidationError) -> str:
    """A refused answer's first problem, in one line (the command's model said no)."""
    first = invalid.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))
