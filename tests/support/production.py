"""Driving many bids through the production-mode stack, as people and carriers would.

`ProductionRun` brings up `deploy/stack.py` (PostgreSQL, Prefect on PostgreSQL, task workers,
served flows, the signed Slack endpoint) with the real slack-sdk talking to a local server
that speaks Slack's Web API, then pushes bids concurrently through every step:

    create (intake)  →  the workers qualify them  →  go/no-go clicked in Slack (modal + reason)
    →  workers: kick-off, production waits  →  QRFs sent, firm quotes imported, design frozen
    →  workers: proposal, governance requests  →  every approval clicked in Slack
    →  workers: submission  →  the customer's verdict  →  workers: order sheet, contract

`check` then verifies what the issue asks: every bid in its end state, one audit event per
transition, one set of documents per bid, no message sent twice, no "database is locked",
and the Prefect runs. Used by tests/test_deploy__production.py (CI) and
bench/bench_production_mode.py (200 bids).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from sqlmodel import select

from orchestrator.config import load_settings
from orchestrator.context import Context
from orchestrator.lifecycle.table import State
from orchestrator.slack.blocks import APPROVE, ButtonValue
from orchestrator.store.db import reading
from orchestrator.store.models import Approval, ApprovalStatus, AuditEvent, Document, Opportunity
from orchestrator.wiring import open_context
from tests.factories import APPROVERS, PEOPLE, WON_TRAIL, new_bid, produce
from tests.support.slack_api import (
    BOT_TOKEN,
    SIGNING_SECRET,
    SLACK_USERS,
    FakeSlackApi,
    block_actions,
    link_slack_users,
    post_signed,
    slack_user,
    view_submission,
)

REPO = Path(__file__).resolve().parents[2]
SLACK_PATH = "/slack/events"


DATABASE_AWAY = (
    "run it again once the database is back",  # it went away during the command
    "cannot open the database",  # it was shutting down or starting when the command began
)
"""What a command says, in its one line, when the stack's PostgreSQL is restarting."""


def as_a_person(command: Callable[[], object], patience: float = 90.0) -> None:
    """Run one person's command; when the database was away (the stack's PostgreSQL
    restarting under a fault test), run it again once it is back, as that person would.
    The command's own transaction was rolled back: nothing of it was kept."""
    from sqlalchemy.exc import DisconnectionError, OperationalError

    deadline = time.monotonic() + patience
    while True:
        try:
            command()
            return
        except (OperationalError, DisconnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def load_stack_module() -> ModuleType:
    """deploy/stack.py, which is a script for operators, not part of the package."""
    spec = importlib.util.spec_from_file_location("bid_stack", REPO / "deploy" / "stack.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("deploy/stack.py not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bid_stack"] = module
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Report:
    """What `check` found."""

    states: Counter[str]
    transitions_ok: bool
    duplicate_documents: list[str]
    duplicate_messages: list[tuple[str, str]]
    locked: list[str]
    run_states: Counter[str]
    problems: list[str] = field(default_factory=list)


class ProductionRun:
    """One stack on this machine and the bids pushed through it."""

    def __init__(self, root: Path, workers: int = 2) -> None:
        self.root = root
        stack_module = load_stack_module()
        self.api = FakeSlackApi(users=dict(SLACK_USERS)).start()
        self.slack_port = free_port()
        config = stack_module.StackConfig(
            root=root,
            workers=workers,
            ui_port=free_port(),
            slack_port=self.slack_port,
            pg_port=free_port(),
            pg_dir=tempfile.mkdtemp(prefix="bid-stack-pg-"),
            extra_env={
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": self.api.base_url,
                "BID_RULES_DIR": str(REPO / "rules"),
                "BID_TEMPLATES_DIR": str(REPO / "templates"),
                "PREFECT_LOGGING_LEVEL": "WARNING",
            },
        )
        self.stack = stack_module.Stack(config)
        try:
            self.stack.up()
        except BaseException:  # a stack half up is taken down, not left running
            self.stack.down(grace=5.0)
            self.api.stop()
            raise
        self.slack_url = f"http://127.0.0.1:{self.slack_port}{SLACK_PATH}"
        self._wait_for_slack()
        env = {**self.stack.env(), "SLACK_BOT_TOKEN": "", "PREFECT_API_URL": ""}
        self.settings = load_settings(env, cwd=root)
        self.ctx: Context = open_context(self.settings)
        self.http = httpx.Client(timeout=60)

    def close(self) -> None:
        self.http.close()
        self.ctx.engine.dispose()
        self.stack.down(grace=10.0)
        self.api.stop()
        shutil.rmtree(self.stack.config.pg_dir, ignore_errors=True)

    def _wait_for_slack(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.slack_port}/healthz", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("the Slack endpoint of the stack did not start")

    # --- doing things as people do

    def bid(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """`bid ARGS` against the stack, as an operator who sourced stack.env would."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BID_", "PREFECT_"))}
        env.update(self.stack.env())
        env.update(self.stack.config.extra_env)
        return subprocess.run(
            [sys.executable, "-m", "orchestrator.cli.app", *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def create(self, count: int, site_count: int = 2) -> list[str]:
        """Bids of the factories' team, each with `site_count` sites at valid addresses."""
        from orchestrator.bid.opportunity.onboarding import import_sites
        from orchestrator.intake.opportunity import SiteSpec
        from tests.factories_sites import site_specs

        refs = []
        for n in range(count):
            ref = new_bid(self.ctx, 0, account={"name": f"Acme {n:04d}", "tier": "top"})
            sites = [
                SiteSpec(s.site_id, s.name, s.street, s.postcode, s.city, s.country,
                         s.bandwidth_mbps, s.access, contact_name=s.contact_name,
                         contact_phone=s.contact_phone)
                for s in site_specs(site_count, ("DE", "FR"), contacts=True)
            ]  # fmt: skip
            import_sites(self.ctx, ref, sites, actor=PEOPLE["bid_manager"])
            refs.append(ref)
        link_slack_users(self.ctx)
        return refs

    def carry_on(self, refs: Iterable[str], *, tolerate: bool = False) -> None:
        """Hand bids to the task workers (`bid resume OPP…`, what a new bid's intake does).

        With `tolerate`, bids not handed over (Prefect down) are left to a later resume."""
        done = self.bid("resume", *refs)
        for _ in range(10):  # as an operator would: Prefect or the database may be settling
            if done.returncode and any(away in done.stderr for away in DATABASE_AWAY):
                time.sleep(2)  # the command said so in one line: the database restarts
                done = self.bid("resume", *refs)
                continue
            if done.returncode != 2 or "not handed over" not in done.stderr:
                break
            if tolerate:
                return
            time.sleep(2)
            done = self.bid("resume", *refs)
        assert done.returncode == 0, done.stdout + done.stderr

    def states(self, refs: Iterable[str], patience: float = 60.0) -> dict[str, str]:
        """Each bid's state, read as a dashboard would: through a database restart it waits."""
        from sqlalchemy.exc import OperationalError

        wanted = set(refs)
        deadline = time.monotonic() + patience
        while True:
            try:
                with reading(self.ctx.engine) as session:
                    return {
                        o.ref: o.state.value
                        for o in session.exec(select(Opportunity)).all()
                        if o.ref in wanted
                    }
            except OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def wait_for(
        self,
        refs: list[str],
        state: State,
        timeout: float,
        during: Callable[[], object] | None = None,
        every: float = 10.0,
    ) -> None:
        """Until every bid is in `state` (running `during` every `every` s, e.g. a resume)."""
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while True:
            states = self.states(refs)
            behind = {r: s for r, s in states.items() if s != state.value}
            if not behind:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(behind)} bid(s) not in {state.value}: {behind}")
            if during is not None and time.monotonic() - last > every:
                during()
                last = time.monotonic()
            time.sleep(0.5)

    def _buttons(self, user: str, action_id: str) -> dict[str, dict[str, Any]]:
        """The newest button of `action_id` per bid, in the messages posted to `user`."""

        found: dict[str, dict[str, Any]] = {}
        for call in self.api.calls("chat.postMessage", ok_only=True):
            if call.args.get("channel") != user:
                continue
            blocks = call.args.get("blocks") or []
            if isinstance(blocks, str):
                blocks = json.loads(blocks)
            for block in blocks:
                for element in block.get("elements", []) if block.get("type") == "actions" else []:
                    if element.get("action_id") == action_id:
                        found[ButtonValue.decode(element["value"]).ref] = element
        return found

    def _post(self, payload: dict[str, Any]) -> None:
        reply = post_signed(self.http, self.slack_url, payload)
        assert reply.status_code == 200, (reply.status_code, reply.text)

    def decide_in_slack(self, refs: list[str], timeout: float = 120) -> None:
        """The bid manager clicks *Bid* on each go/no-go and gives a reason in the modal."""
        user = slack_user(PEOPLE["bid_manager"])
        deadline = time.monotonic() + timeout
        while True:
            buttons = self._buttons(user, "go_no_go_bid")
            if set(refs) <= set(buttons) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        missing = set(refs) - set(buttons)
        assert not missing, f"no go/no-go message for {sorted(missing)}"
        opened_before = len(self.api.calls("views.open"))
        opened: dict[str, Any] = {}
        pending = list(refs)
        for _round in range(4):  # a click lost to a database restart is clicked again
            with ThreadPoolExecutor(8) as pool:
                list(
                    pool.map(
                        lambda ref: self._post(
                            block_actions(user, "go_no_go_bid", buttons[ref]["value"])
                        ),
                        pending,
                    )
                )
            until = time.monotonic() + min(timeout, 30)
            while time.monotonic() < until:
                for call in self.api.calls("views.open")[opened_before:]:
                    metadata = json.loads(call.args["view"]["private_metadata"])
                    opened.setdefault(ButtonValue.decode(metadata["value"]).ref, call)
                pending = [ref for ref in refs if ref not in opened]
                if not pending:
                    break
                time.sleep(0.5)
            if not pending:
                break
        assert not pending, f"no go/no-go modal opened for {pending}"
        views = [opened[ref] for ref in refs]
        opened_before = 0
        answer = {"reason": {"reason": {"type": "plain_text_input", "value": "strong fit"}}}
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda call: self._post(
                        view_submission(
                            user,
                            call.args["view"]["callback_id"],
                            call.args["view"]["private_metadata"],
                            answer,
                        )
                    ),
                    views[opened_before:],
                )
            )

    def produce(self, refs: list[str]) -> None:
        """Sales support sends the QRFs and imports the carriers' firm quotes; the consultant
        freezes the design (each command run again if it met the database restarting)."""
        for ref in refs:
            produce(self.ctx, ref, person=as_a_person)

    def approve_in_slack(self, refs: list[str], timeout: float = 120) -> None:
        """Every approver clicks *Approve* on every request they received."""
        clicks: list[tuple[str, str]] = []
        deadline = time.monotonic() + timeout
        for ref in refs:
            while True:
                areas = self._requested(ref)
                if areas or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            for area in areas:
                user = slack_user(APPROVERS[area])
                while True:
                    buttons = {
                        r: b
                        for r, b in self._buttons(user, APPROVE).items()
                        if ButtonValue.decode(b["value"]).area == area
                    }
                    if ref in buttons or time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
                assert ref in buttons, f"no {area} approval message for {ref}"
                clicks.append((user, buttons[ref]["value"]))
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda c: self._post(block_actions(c[0], APPROVE, c[1])), clicks))

    def _requested(self, ref: str) -> list[str]:
        with reading(self.ctx.engine) as session:
            opportunity = session.exec(select(Opportunity)).all()
            row = next(o for o in opportunity if o.ref == ref)
            return sorted(
                a.area
                for a in session.exec(
                    select(Approval).where(
                        Approval.opportunity_id == row.id,
                        Approval.status == ApprovalStatus.REQUESTED,
                        Approval.round == row.governance_round,
                    )
                ).all()
            )

    def submit(self, refs: list[str]) -> None:
        """The bid manager sends each approved offer and records it (bid submit)."""
        from orchestrator.bid.progress.submission import submit_offer

        for ref in refs:
            as_a_person(
                partial(
                    submit_offer,
                    self.ctx,
                    ref,
                    by=PEOPLE["bid_manager"],
                    channel="portal",
                    reference=f"portal receipt {ref}",
                )
            )

    def win(self, refs: list[str]) -> None:
        """The customer accepts: the bid manager records it (the workers carry it on)."""
        from orchestrator.bid.progress import services

        for ref in refs:
            as_a_person(
                partial(
                    services.record_result,
                    self.ctx,
                    ref,
                    won=True,
                    reason="best offer",
                    by=PEOPLE["bid_manager"],
                )
            )

    # --- checking

    def check(self, refs: list[str]) -> Report:
        states = Counter(self.states(refs).values())
        with reading(self.ctx.engine) as session:
            rows = [o for o in session.exec(select(Opportunity)).all() if o.ref in set(refs)]
            ids = {o.id for o in rows}
            events = [e for e in session.exec(select(AuditEvent)).all() if e.opportunity_id in ids]
            documents = [d for d in session.exec(select(Document)).all() if d.opportunity_id in ids]
        moves: dict[int, list[tuple[str | None, str | None, str]]] = {}
        for event in sorted(events, key=lambda e: e.id or 0):
            if event.from_state != event.to_state or event.trigger == "create":
                moves.setdefault(event.opportunity_id, []).append(
                    (
                        event.from_state.value if event.from_state else None,
                        event.to_state.value if event.to_state else None,
                        event.trigger,
                    )
                )
        expected = WON_TRAIL
        transitions_ok = all(trail == expected for trail in moves.values()) and len(moves) == len(
            refs
        )
        per_name = Counter((d.opportunity_id, d.kind, d.name, d.content_hash) for d in documents)
        duplicate_documents = [str(k) for k, n in per_name.items() if n > 1]
        sent = Counter(
            (str(c.args.get("channel")), str(c.args.get("text")))
            for c in self.api.calls("chat.postMessage", ok_only=True)
        )
        duplicate_messages = [key for key, n in sent.items() if n > 1]
        locked = []
        for log in (self.root / "logs").glob("*.log"):
            if "database is locked" in log.read_text(errors="replace"):
                locked.append(log.name)
        return Report(
            states=states,
            transitions_ok=transitions_ok,
            duplicate_documents=duplicate_documents,
            duplicate_messages=duplicate_messages,
            locked=locked,
            run_states=self.run_states(),
        )

    def run_states(self) -> Counter[str]:
        """The state of every task and flow run on the stack's Prefect server."""
        counts: Counter[str] = Counter()
        api = self.stack.api_url
        user, _, password = self.stack.prefect_auth.partition(":")
        for kind in ("task_runs", "flow_runs"):
            offset = 0
            while True:
                reply = self.http.post(
                    f"{api}/{kind}/filter",
                    json={"limit": 200, "offset": offset},
                    auth=(user, password),
                )
                reply.raise_for_status()
                page = reply.json()
                counts.update(f"{kind}:{r['state_type']}" for r in page)
                if len(page) < 200:
                    break
                offset += 200
        return counts
