"""A small local server that speaks the Slack Web API methods we call, for the real slack-sdk.

Point `WebClient(base_url=api.base_url)` (or SLACK_API_URL) at it. It records every request,
answers like Slack (`{"ok": true, ...}`), and returns 429 with Retry-After or 500 on demand.
Also here: helpers that sign and send Slack-like interactivity payloads to our app.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from sqlmodel import select

from orchestrator.context import Context
from orchestrator.store.db import reading
from orchestrator.store.models import Person

BOT_TOKEN = "xoxb-test-token"
SIGNING_SECRET = "test-signing-secret"


@dataclass(frozen=True)
class Call:
    """One request the fake received: the API method, its arguments and the status answered."""

    method: str
    args: dict[str, Any]
    status: int
    token: str | None


@dataclass
class _Failure:
    status: int
    retry_after: int | None


@dataclass
class FakeSlackApi:
    """The Slack Web API on 127.0.0.1:<free port>, in a thread. Use as a context manager."""

    users: dict[str, str] = field(default_factory=dict)  # Slack user id -> e-mail
    _calls: list[Call] = field(default_factory=list)
    _failures: dict[str, list[_Failure]] = field(default_factory=dict)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _ts: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSlackApi:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeSlackApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """What SLACK_API_URL should be (ends with '/', as slack-sdk needs)."""
        if self._server is None:
            raise RuntimeError("the fake Slack API is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    # --- test controls -------------------------------------------------------------------------

    def add_user(self, user_id: str, email: str) -> None:
        with self._changed:
            self.users[user_id] = email

    def fail(
        self, method: str, status: int, *, times: int = 1, retry_after: int | None = None
    ) -> None:
        """Answer the next `times` calls of `method` with `status` (429 carries Retry-After)."""
        with self._changed:
            self._failures.setdefault(method, []).extend(
                _Failure(status, retry_after) for _ in range(times)
            )

    def calls(self, method: str | None = None, *, ok_only: bool = False) -> list[Call]:
        with self._changed:
            return [
                c
                for c in self._calls
                if (method is None or c.method == method) and (not ok_only or c.status == 200)
            ]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Block until `count` successful calls of `method` arrived (or fail after `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self._calls if c.method == method and c.status == 200]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(found)} of {count} {method} calls after {timeout}s")
                self._changed.wait(left)

    # --- the API -------------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urlsplit(request.path)
        method = url.path.rsplit("/", 1)[-1]
        args: dict[str, Any] = dict(parse_qsl(url.query))
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        if raw:
            if "json" in (request.headers.get("Content-Type") or ""):
                args.update(json.loads(raw))
            else:
                args.update(parse_qsl(raw.decode()))
        auth = request.headers.get("Authorization") or ""
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.get("token")
        with self._changed:
            queue = self._failures.get(method) or []
            failure = queue.pop(0) if queue else None
            status = failure.status if failure else 200
            self._calls.append(Call(method, args, status, token))
            body = self._answer(method, args, token) if failure is None else self._error(failure)
            self._changed.notify_all()
        payload = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(payload)))
        if failure is not None and failure.retry_after is not None:
            request.send_header("Retry-After", str(failure.retry_after))
        request.end_headers()
        request.wfile.write(payload)

    @staticmethod
    def _error(failure: _Failure) -> dict[str, Any]:
        return {"ok": False, "error": "ratelimited" if failure.status == 429 else "internal_error"}

    def _user(self, user_id: str) -> dict[str, Any]:
        email = self.users[user_id]
        return {"id": user_id, "name": email.split("@")[0], "profile": {"email": email}}

    def _answer(self, method: str, args: dict[str, Any], token: str | None) -> dict[str, Any]:
        if token != BOT_TOKEN:
            return {"ok": False, "error": "invalid_auth"}
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://bid-test.slack.com/",
                "team": "Bid Test",
                "user": "bid-bot",
                "team_id": "T0001",
                "user_id": "UBOT",
                "bot_id": "BBOT",
            }
        if method == "chat.postMessage":
            return {"ok": True, "channel": args.get("channel"), "ts": ts, "message": {"ts": ts}}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "users.lookupByEmail":
            for user_id, email in self.users.items():
                if email.lower() == str(args.get("email", "")).lower():
                    return {"ok": True, "user": self._user(user_id)}
            return {"ok": False, "error": "users_not_found"}
        if method == "users.info":
            if args.get("user") in self.users:
                return {"ok": True, "user": self._user(str(args["user"]))}
            return {"ok": False, "error": "user_not_found"}
        if method == "views.open":
            return {
                "ok": True,
                "view": {"id": f"V{next(self._ts):06d}", **(args.get("view") or {})},
            }
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "views.publish":
            return {
                "ok": True,
                "view": {"id": f"VH{next(self._ts):06d}", **(args.get("view") or {})},
            }
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": f"D{args.get('users', 'X')}"}}
        return {"ok": False, "error": "unknown_method"}


# --- signed interactivity requests, as Slack sends them ----------------------------------------


def signature_headers(
    body: str, secret: str = SIGNING_SECRET, *, timestamp: int | None = None
) -> dict[str, str]:
    """X-Slack-Request-Timestamp and X-Slack-Signature (HMAC-SHA256 over v0:timestamp:body)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


_action_ts = itertools.count(1)


def block_actions(
    user_id: str,
    action_id: str,
    value: str,
    *,
    channel: str = "D0001",
    action_ts: str | None = None,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A `block_actions` payload like the one a button click produces."""
    n = next(_action_ts)
    return {
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "bid-test"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "trigger_id": trigger_id or f"trigger.{n}",
        "container": {"type": "message", "message_ts": "1.000001", "channel_id": channel},
        "channel": {"id": channel, "name": "directmessage"},
        "response_url": "https://hooks.slack.invalid/actions/T0001/1/x",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "decision",
                "value": value,
                "action_ts": action_ts or f"{int(time.time())}.{n:06d}",
            }
        ],
    }


def view_submission(
    user_id: str, callback_id: str, private_metadata: str, values: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """A `view_submission` payload: `values` as {block_id: {action_id: element state}}."""
    n = next(_action_ts)
    return {
        "type": "view_submission",
        "team": {"id": "T0001", "domain": "bid-test"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "trigger_id": f"trigger.v{n}",
        "view": {
            "id": f"VSUB{n:06d}",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "hash": f"hash{n}",
            "state": {"values": values},
        },
    }


def form_body(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


def post_signed(
    client: httpx.Client,
    url: str,
    payload: dict[str, Any],
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    retry_num: int | None = None,
) -> httpx.Response:
    """POST `payload=<json>` form-encoded with Slack's signature headers."""
    body = form_body(payload)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    headers.update(signature_headers(body, secret, timestamp=timestamp))
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return client.post(url, content=body, headers=headers)


# --- wiring for tests and the benchmark -----------------------------------------------------

SLACK_USERS = {
    "UAM": "am@example.com",
    "UBM": "bm@example.com",
    "USC": "sc@example.com",
    "USS": "ss@example.com",
    "UOPS": "ops@example.com",
    "UFIN": "fin@example.com",
    "ULEGAL": "legal@example.com",
    "UBOSS": "boss@example.com",
}
"""The Slack users of the factories' bid team (tests/factories.py PEOPLE)."""


def slack_user(email: str) -> str:
    return next(user for user, known in SLACK_USERS.items() if known == email)


def slack_context(ctx: Context, api: FakeSlackApi) -> Context:
    """The same database and ports, with Slack settings pointing at the fake and the inline
    flow runner."""
    settings = dataclasses.replace(
        ctx.settings,
        slack_bot_token=BOT_TOKEN,
        slack_api_url=api.base_url,
        slack_signing_secret=SIGNING_SECRET,
        flow_runner="inline",
    )
    return dataclasses.replace(ctx, settings=settings)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, deadline_seconds: float = 15.0) -> None:
    """Poll a TCP connect until the server listens (no fixed sleeps)."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.02)


@contextmanager
def serving(asgi_app: Any) -> Iterator[str]:
    """Run an ASGI app under uvicorn in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        asgi_app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def sent_buttons(api: FakeSlackApi, user_id: str) -> list[dict[str, Any]]:
    """The buttons of every message posted to `user_id`, in order."""
    buttons: list[dict[str, Any]] = []
    for call in api.calls("chat.postMessage", ok_only=True):
        if call.args.get("channel") != user_id:
            continue
        blocks = call.args.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        for block in blocks:
            if block.get("type") == "actions":
                buttons.extend(block["elements"])
    return buttons


ADMIN_EMAIL = "admin@example.com"


def admin_of(ctx: Context) -> Person:
    """The database's admin (made on first call), as `bid` makes the folder's admin."""
    from orchestrator.bid.team import people

    made = people.bootstrap_admin(ctx, ADMIN_EMAIL, "Admin")
    if made is not None:
        return made.person
    with reading(ctx.engine) as session:
        return next(p for p in session.exec(select(Person)).all() if people.is_admin(p))


def link_slack_users(ctx: Context) -> None:
    """An admin links the team's Slack users to their people (`bid people set`), the only
    way a Slack click is mapped to a person."""
    from orchestrator.bid.team import people

    admin = admin_of(ctx)
    with reading(ctx.engine) as session:
        linked = {p.email: p.slack_user_id for p in session.exec(select(Person)).all()}
    for user, email in SLACK_USERS.items():
        if email in linked and linked[email] != user:
            people.set_person(ctx, email, by=admin, slack_user_id=user)


def bid_in_qualification(ctx: Context, tier: str = "top", *, link_slack: bool = True) -> str:
    """A bid of the factories, carried to its go/no-go (its team's Slack users linked)."""
    from orchestrator.bid.progress import services
    from tests.factories import new_bid

    ref = new_bid(ctx, account={"name": f"Acme {tier}", "tier": tier})
    if link_slack:
        link_slack_users(ctx)
    services.run_to_wait(ctx, ref)
    return ref


def bid_in_governance(
    ctx: Context, tier: str = "top", cost_share: float = 0.4, *, link_slack: bool = True
) -> str:
    """A bid of the factories, carried to governance review (approvals requested); its firm
    quotes cost `cost_share` of the list price (0.9: under the margin floor, so management
    must approve too)."""
    from orchestrator.bid.progress import services
    from tests.factories import PEOPLE, produce

    ref = bid_in_qualification(ctx, tier, link_slack=link_slack)
    decider = PEOPLE["bid_manager"] if tier == "top" else PEOPLE["account_manager"]
    services.decide(ctx, ref, outcome="bid", by=decider, reason="fits")
    services.run_to_wait(ctx, ref)
    produce(ctx, ref, cost_share=cost_share)
    services.run_to_wait(ctx, ref)
    return ref


@dataclass(frozen=True)
class AsgiAnswer:
    status: int
    text: str


def asgi_post(app: Any, body: bytes, headers: dict[str, str]) -> AsgiAnswer:
    """POST to /slack/events of an ASGI app in this process (no server, no socket)."""
    import asyncio

    messages: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/slack/events",
        "query_string": b"",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    text = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return AsgiAnswer(status, text.decode("utf-8", errors="replace"))


def signed_post(app: Any, body: str | bytes, *, timestamp: str | None = None) -> AsgiAnswer:
    """A form body signed like Slack signs it (the timestamp header as given, if given)."""
    raw = body.encode() if isinstance(body, str) else body
    ts = timestamp if timestamp is not None else str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:".encode() + raw, hashlib.sha256)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }
    return asgi_post(app, raw, headers)
