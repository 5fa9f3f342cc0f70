"""Bid production at the doors: `bid advance` and `bid status` name the open criteria, `bid qrf`
records its requests (and stops at unsourced sites), `bid freeze`, `bid approval show`, the
approvers' Slack summary, and a quote file imported twice."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import Session, col, select

from orchestrator.bid.opportunity.onboarding import import_sites
from orchestrator.bid.producing.production import freeze_design
from orchestrator.bid.producing.quotes import import_quotes
from orchestrator.bid.producing.sourcing import send_quote_requests
from orchestrator.bid.progress import deadlines, services
from orchestrator.context import Context
from orchestrator.dispatch import drain
from orchestrator.errors import DesignFreezeRefused, InputError
from orchestrator.slack.blocks import message_blocks
from orchestrator.store.models import (
    AuditEvent,
    Milestone,
    MilestoneStatus,
    OutboxMessage,
    QuoteRequest,
)
from tests.conftest import FixedClock, RunCli
from tests.factories import PEOPLE, carry_to_governance, new_bid, quote_file, sites

SOLUTION = PEOPLE["solution_consultant"]


def _in_production(ctx: Context, **overrides: Any) -> str:
    ref = new_bid(ctx, **overrides)
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="go")
    services.run_to_wait(ctx, ref)
    return ref


def test_advance_and_status_name_every_open_criterion(ctx: Context, run_cli: RunCli) -> None:
    ref = _in_production(ctx)
    advanced = run_cli("advance", ref)
    assert advanced.code == 0, advanced.err
    assert "bid production waits: QRFs sent for 0 of 6 sourced sites" in advanced.out
    assert "firm quotes 0 of 4" in advanced.out and "quotes 0 of 6 sites" in advanced.out
    status = json.loads(run_cli("status", ref, "--json").out)
    assert status["state"] == "bid_production"
    open_ids = [c["id"] for c in status["exit_criteria"] if not c["holds"]]
    assert open_ids == ["qrfs_sent", "firm_quotes", "quoted_sites", "design_frozen"]
    text = run_cli("status", ref).out
    assert "open: firm quotes 0 of 4" in text and "done: " in text
    assert any("production_done" in b for b in status["blocked_by"])


def test_quote_requests_are_recorded_once_and_their_reply_by_is_chased(
    ctx: Context, clock: FixedClock
) -> None:
    ref = _in_production(ctx)
    first = send_quote_requests(ctx, ref)
    again = send_quote_requests(ctx, ref)
    assert first.recorded == len(first.requests) == 6 and again.recorded == 0
    de = next(r for r in first.requests if r.country == "DE")
    # ten working days in Germany: Friday 27 November 2026 + 10 = Friday 11 December
    assert (de.provider, de.reply_by) == ("telekom", date(2026, 12, 11))
    with Session(ctx.engine) as session:
        reply = session.exec(
            select(Milestone).where(Milestone.name == "quote_reply_qrf-DE-telekom")
        ).one()
    assert (reply.owner_role, reply.due_at.date()) == ("sales_support", de.reply_by)
    clock.advance(days=15)
    report = deadlines.watch(ctx)
    chased = [row for row in report.board if row.milestone == "quote_reply_qrf-DE-telekom"]
    assert chased[0].status == deadlines.OVERDUE
    assert any(m == chased[0].milestone_id for m, _, _ in report.queued)
    answer = quote_file(ctx, ref, ctx.settings.output_dir / "q.csv")
    result = import_quotes(ctx, ref, answer, actor=PEOPLE["sales_support"])
    assert "qrf-DE-telekom" in result.answered
    with Session(ctx.engine) as session:
        done = session.exec(select(Milestone).where(Milestone.name == reply.name)).one()
        assert done.status == MilestoneStatus.DONE
        firm_in = session.exec(select(Milestone).where(Milestone.name == "firm_quotes_in")).one()
        assert firm_in.status == MilestoneStatus.DONE
    # the quotes in, every site is asked firm: a new request moves the reply-by
    firm_round = send_quote_requests(ctx, ref)
    assert firm_round.recorded == 6
    with Session(ctx.engine) as session:
        superseded = session.exec(select(QuoteRequest).where(QuoteRequest.superseded)).all()
        assert len(superseded) == 6


def _rules_without_fallback(ctx: Context, folder: Path) -> Path:
    rules = folder / "rules"
    shutil.copytree(ctx.settings.rules_dir, rules)
    data = yaml.safe_load((rules / "providers.yaml").read_text())
    data["providers"] = [p for p in data["providers"] if not p.get("fallback")]
    (rules / "providers.yaml").write_text(yaml.safe_dump(data))
    return rules


def test_qrf_lists_unsourced_sites_and_exits_2_without_a_fallback(
    ctx: Context, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = _in_production(ctx, services=["managed_network"])
    china = replace(sites(1, prefix="CN")[0], country="CN", postcode="200120", city="Shanghai")
    import_sites(ctx, ref, [china])
    monkeypatch.setenv("BID_RULES_DIR", str(_rules_without_fallback(ctx, tmp_path)))
    out = tmp_path / "sent"
    result = run_cli("qrf", ref, "--out", str(out))
    assert result.code == 2
    assert result.err.startswith("error: 1 site(s) unsourced in CN: no provider and no fallback")
    assert (
        "Quote requests per country" in result.out and "6 quote request(s) recorded" in result.out
    )
    with (out / "qrf" / "unsourced.csv").open(newline="", encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["site_id"], row["country"]) == ("CN0001", "CN")
    assert (out / "qrf" / "qrf-DE-telekom.csv").exists()  # the sourced sites are still asked
    status = json.loads(run_cli("status", ref, "--json").out)
    texts = [c["text"] for c in status["exit_criteria"] if not c["holds"]]
    assert "1 sites unsourced (CN)" in texts


def test_freeze_is_versioned_reopened_by_a_change_and_guarded(ctx: Context) -> None:
    ref = _in_production(ctx)
    with pytest.raises(DesignFreezeRefused, match="needs one of: solution_consultant"):
        freeze_design(ctx, ref, by=PEOPLE["finance"])
    assert "version 1 frozen" in freeze_design(ctx, ref, by=SOLUTION, note="v1").message
    assert not freeze_design(ctx, ref, by=PEOPLE["bid_manager"]).recorded
    import_sites(ctx, ref, sites(1, prefix="LATE"))
    waiting = services.advance(ctx, ref)
    assert "version 1 reopened: 1 site(s) added" in waiting.message
    assert "version 2 frozen" in freeze_design(ctx, ref, by=SOLUTION).message
    with Session(ctx.engine) as session:
        triggers = session.exec(select(AuditEvent.trigger).order_by(col(AuditEvent.id))).all()
    assert [t for t in triggers if t.startswith("design_")] == [
        "design_frozen",
        "design_unfrozen",
        "design_frozen",
    ]
    services.withdraw(ctx, ref, reason="cancelled", category="timing", by=PEOPLE["bid_manager"])
    with pytest.raises(DesignFreezeRefused, match="frozen in bid production"):
        freeze_design(ctx, ref, by=SOLUTION)


def test_approvers_see_the_summary_in_the_cli_and_in_slack(ctx: Context, run_cli: RunCli) -> None:
    ref = new_bid(ctx, currency="GBP")
    carry_to_governance(ctx, ref)
    drain(ctx, notify=False)  # what a door does after the moves: their documents rendered
    shown = json.loads(run_cli("approval", "show", ref, "--json").out)
    assert shown["currency"] == "GBP" and shown["round"] == 1
    assert shown["margin"] == {
        "pct": 60.0,
        "floor_pct": 15,
        "below_floor": False,
        "cost_eur": shown["margin"]["cost_eur"],
    }
    assert shown["coverage"]["firm"] == 6 and shown["discount_pct"] == 0.0
    assert [a["status"] for a in shown["approvals"]] == ["requested"] * 3
    assert {d["kind"] for d in shown["documents"]} == {"proposal", "control_plan"}
    assert shown["version"] and shown["requested_with"]["inputs"]["margin_pct"] == 60.0
    text = run_cli("approval", "show", ref).out
    assert "margin:   60.00% against a floor of 15.00%" in text and "GBP" in text
    with Session(ctx.engine) as session:
        message = session.exec(
            select(OutboxMessage).where(OutboxMessage.event == "approval_requested")
        ).first()
    assert message is not None and "margin 60.00% (floor 15.00%)" in message.text
    blocks = message_blocks(message.text, list(message.blocks), None)
    fields = [f["text"] for b in blocks if b["type"] == "section" for f in b.get("fields", [])]
    assert any(f.startswith("*Value*") and "GBP over 36 months" in f for f in fields)
    assert any(f.startswith("*Margin vs floor*\n60.00% vs 15.00%") for f in fields)
    assert any(f.startswith("*Coverage*\nfirm 6") for f in fields)
    assert any(f.startswith("*Version*") and shown["version"][:12] in f for f in fields)
    assert blocks[-1]["type"] == "actions"


def test_the_same_quote_file_twice_says_so(ctx: Context, run_cli: RunCli) -> None:
    ref = _in_production(ctx)
    send_quote_requests(ctx, ref)
    answer = quote_file(ctx, ref, ctx.settings.output_dir / "answer.csv")
    first = run_cli("quotes", "import", ref, str(answer), "--by", PEOPLE["sales_support"])
    assert first.code == 0 and "imported 6 quote(s)" in first.out
    assert "open: solution design not frozen" in first.out
    again = run_cli("quotes", "import", ref, str(answer), "--by", PEOPLE["sales_support"])
    assert again.code == 0
    assert "was already imported (answer.csv on" in again.out and "nothing imported" in again.out


def test_an_unknown_currency_is_refused_at_creation(ctx: Context) -> None:
    with pytest.raises(InputError, match="'XYZ' has no exchange rate") as caught:
        new_bid(ctx, currency="XYZ")
    assert caught.value.field == "currency"


def test_the_proposal_is_in_the_bid_currency_and_never_shows_0_00(real_ctx: Context) -> None:
    from docx import Document as open_docx

    from orchestrator.bid.trail.rendering import render_documents

    ref = new_bid(real_ctx, site_count=2, currency="GBP", services=["managed_network", "hosting"])
    too_fast = replace(sites(1, prefix="FAST")[0], access="copper", bandwidth_mbps=900)
    import_sites(real_ctx, ref, [too_fast])  # past the intake: no band prices it
    produced = render_documents(real_ctx, ref)
    proposal = next(d.path for d in produced.documents if d.kind == "proposal")
    document = open_docx(str(proposal))
    text = "\n".join(p.text for p in document.paragraphs)
    cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
    assert "Prices are in GBP" in text and "1 GBP = 1.19 EUR" in text
    assert "Hosting (for the whole contract): 1,596.64 GBP monthly" in text
    assert "Monthly (GBP)" in cells and "price on request" in cells
    assert "0.00" not in cells
    assert "1 line(s) are priced on request" in text
    services.run_to_wait(real_ctx, ref)
    services.decide(real_ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="go")
    (*_, waiting) = services.run_to_wait(real_ctx, ref)
    assert "1 lines unpriced (FAST0001 managed_network copper 900 Mbps)" in waiting.message


def test_terms_and_prices_change_through_the_change_table(ctx: Context, run_cli: RunCli) -> None:
    from orchestrator.bid.producing.terms import set_deviations

    ref = new_bid(ctx)
    carry_to_governance(ctx, ref)
    services.approve(ctx, ref, area="legal", by=PEOPLE["legal"])
    services.approve(ctx, ref, area="technical", by=PEOPLE["operations"])
    set_deviations(ctx, ref, ["liability capped at 24 months of fees"], by=PEOPLE["bid_manager"])
    with Session(ctx.engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
    asked = [m for m in rows if m.event == "approval_requested"][-1]
    assert asked.recipient_email == PEOPLE["legal"] and "requested again" in asked.text
    shown = json.loads(run_cli("approval", "show", ref, "--json").out)
    statuses = {a["area"]: a["status"] for a in shown["approvals"] if a["status"] != "invalidated"}
    assert statuses == {"technical": "granted", "financial": "requested", "legal": "requested"}
    assert shown["deviations"] == ["liability capped at 24 months of fees"]
    refused = run_cli("pricing", ref, "--by", PEOPLE["bid_manager"], "--discount", "5")
    assert refused.code == 2 and "under governance review" in refused.err
    services.approve(
        ctx, ref, area="legal", by=PEOPLE["legal"], reject=True, reason="cap still too high"
    )
    changed = run_cli("pricing", ref, "--by", PEOPLE["bid_manager"], "--discount", "5")
    assert changed.code == 0, changed.err
    waiting = services.advance(ctx, ref)
    assert "version 1 reopened: prices changed" in waiting.message
