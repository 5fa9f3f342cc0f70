"""On hold, not gone (golden, issue 24).

Reproduces the bug: a postponed bid could only be withdrawn (a terminal state), so resuming
it meant a new bid and loading its sites, quotes and answers again, and carriers were never
told their QRF was cancelled. Now `bid hold` keeps the bid with everything in it, stops it
moving and pauses its deadlines; its open QRFs are cancelled with one message per carrier
(the outbox, once); `bid qrf status` lists them as cancelled, when and why; `bid resume` puts
the bid back in the state it was in. A withdrawal cancels the QRFs too. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

from sqlmodel import Session, select

from orchestrator.bid.facts import get_opportunity
from orchestrator.bid.producing.quotes import import_quotes
from orchestrator.bid.producing.sourcing import send_quote_requests
from orchestrator.bid.progress import services
from orchestrator.bid.progress.deadlines import board
from orchestrator.bid.reports import queries
from orchestrator.commercial.quotes import catalogue_for
from orchestrator.context import Context
from orchestrator.store.models import OutboxMessage, Quote, Requirement, Site
from tests.conftest import RunCli
from tests.factories import PEOPLE, new_bid, quote_file

BM = PEOPLE["bid_manager"]


def _kept(ctx: Context, ref: str) -> tuple[str, int, int, list[str | None]]:
    with Session(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        oid = opportunity.id
        sites = len(session.exec(select(Site).where(Site.opportunity_id == oid)).all())
        quotes = len(session.exec(select(Quote).where(Quote.opportunity_id == oid)).all())
        answers = [
            r.answer
            for r in session.exec(select(Requirement).where(Requirement.opportunity_id == oid))
        ]
        return opportunity.state.value, sites, quotes, answers


def _cancellations(ctx: Context) -> list[OutboxMessage]:
    with Session(ctx.engine) as session:
        return list(
            session.exec(select(OutboxMessage).where(OutboxMessage.event == "qrf_cancelled"))
        )


def _in_production(ctx: Context) -> str:
    ref = new_bid(ctx, 6)
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=BM, reason="fits")
    services.run_to_wait(ctx, ref)
    return ref


def test_a_held_bid_keeps_everything_and_resumes_where_it_was(
    ctx: Context, run_cli: RunCli
) -> None:
    ref = _in_production(ctx)
    questionnaire = ctx.output_dir_for(ref) / "questionnaire.csv"
    questionnaire.parent.mkdir(parents=True, exist_ok=True)
    questionnaire.write_text(
        "ID,Section,Requirement,Mandatory\n1,Network,Describe your SLA for fibre access,Y\n"
    )
    assert run_cli("rfp", "import", ref, str(questionnaire)).code == 0
    answer = run_cli(
        "rfp", "answer", ref, "1", "--text", "99.9 % availability", "--compliance", "comply"
    )
    assert answer.code == 0, answer
    sent = send_quote_requests(ctx, ref, actor=PEOPLE["sales_support"])
    answered = quote_file(ctx, ref, ctx.output_dir_for(ref) / "de.csv", only={"S0002"})
    imported = import_quotes(ctx, ref, answered, actor=PEOPLE["sales_support"])
    assert imported.answered == ("qrf-DE-telekom",)  # answered: nothing left to cancel
    kept = _kept(ctx, ref)
    assert kept == ("bid_production", 6, 1, ["99.9 % availability"])
    assert any(row.ref == ref for row in board(ctx))

    held = run_cli(
        "hold", ref, "--reason", "customer froze its budget", "--until", "2027-03-01", "--json"
    )
    assert held.code == 0, held
    result = json.loads(held.out)
    assert (result["state"], result["on_hold"], result["until"]) == (
        "bid_production",
        True,
        "2027-03-01",
    )
    requests = {r.name: r for r in sent.requests}
    cancelled = result["cancelled_requests"]
    assert set(cancelled) == set(requests) - {"qrf-DE-telekom"} and cancelled
    messages = _cancellations(ctx)
    catalogue = catalogue_for(ctx.settings.rules_dir)
    expected = {
        (catalogue.providers.by_id(r.provider) or catalogue.providers.in_house).__dict__.get(
            "contact_email", catalogue.providers.in_house.email
        )
        for r in sent.requests
        if r.name in cancelled
    }
    assert {m.recipient_email for m in messages} == expected
    assert len(messages) == len(cancelled)
    assert all("customer froze its budget" in m.text for m in messages)

    # on hold: it moves nowhere, its deadlines pause; holding again is refused and tells no one
    again = run_cli("hold", ref, "--reason", "again", "--until", "2027-03-01")
    assert (
        again.code == 2 and "is on hold" in again.err and len(again.err.strip().splitlines()) == 1
    )
    assert len(_cancellations(ctx)) == len(cancelled)
    step = services.advance(ctx, ref)
    assert not step.moved and "on hold" in step.message
    shown = queries.status(ctx, ref)
    assert shown.next_actions == [f"bid resume {ref}"] and "on hold" in shown.blocked_by[0]
    assert not any(row.ref == ref for row in board(ctx))
    status = run_cli("qrf", "status", ref, "--json")
    assert status.code == 0, status
    listed = json.loads(status.out)["requests"]
    assert {r["name"] for r in listed if r["status"] == "cancelled"} == set(cancelled)
    assert all(
        r["cancelled_at"] and r["cancel_reason"] == "the bid is on hold: customer froze its budget"
        for r in listed
        if r["status"] == "cancelled"
    )

    resumed = run_cli("resume", ref, "--json")
    assert resumed.code == 0, resumed
    assert "resumed in bid_production" in json.loads(resumed.out)[ref]
    assert _kept(ctx, ref) == kept  # sites, quotes, answers: all still there
    assert any(row.ref == ref for row in board(ctx))
    # the QRFs go out again whole (the cancelled ones count for nothing)
    reissued = send_quote_requests(ctx, ref, actor=PEOPLE["sales_support"])
    assert reissued.recorded == len(requests) and not any(r.amends for r in reissued.requests)
    assert len(_cancellations(ctx)) == len(cancelled)


def test_a_withdrawal_cancels_the_qrfs_and_tells_each_carrier_once(ctx: Context) -> None:
    ref = _in_production(ctx)
    sent = send_quote_requests(ctx, ref, actor=PEOPLE["sales_support"])
    services.withdraw(ctx, ref, reason="customer cancelled the tender", by=BM, category="timing")
    messages = _cancellations(ctx)
    assert len(messages) == len(sent.requests)
    assert all("the bid is withdrawn" in m.text for m in messages)
