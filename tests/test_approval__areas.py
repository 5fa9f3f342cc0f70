"""Each approver sees what they decide (issue 24): read as that approver would, in the CLI
(`bid approval show --area`), in the Slack request each approver gets, and in the Bid Control
Plan's approval pack.

The bid: six sites, three redesigned from what the customer asked (two for a reason given
with `bid sites update --reason`, one without), two sites quoted above their price (loss-making)
on quotes that end before the offer's validity, a customer budget far below the price, and a
deviation from our standard terms.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from orchestrator.bid.opportunity.edits import SiteDelta, change_sites, current_sites
from orchestrator.bid.producing.production import freeze_design
from orchestrator.bid.producing.quotes import import_quotes
from orchestrator.bid.producing.sourcing import send_quote_requests
from orchestrator.bid.progress import services
from orchestrator.commercial.quotes import catalogue_for
from orchestrator.context import Context
from orchestrator.core.approval_views import for_area
from orchestrator.dispatch import drain
from orchestrator.slack.blocks import message_blocks
from orchestrator.store.models import OutboxMessage
from tests.conftest import RunCli
from tests.factories import PEOPLE, new_bid, order_details, quote_file

SOLUTION = PEOPLE["solution_consultant"]
REASON = "the customer's video traffic needs 500 Mbps"
BUDGET = 50_000.0
LOSING = {"S0005", "S0006"}


def _governance(ctx: Context, run_cli: RunCli, tmp_path: Path) -> str:
    ref = new_bid(
        ctx,
        bants={
            "budget_eur": BUDGET,
            "authority": "decision_maker",
            "need": "clear",
            "timeframe_months": 6,
            "sales_ready": True,
        },
        deviations=["liability capped at 12 months of fees"],
    )
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
    services.run_to_wait(ctx, ref)
    redesign = tmp_path / "redesign.csv"
    redesign.write_text(  # the factory's postcodes are not NL/DE ones: corrected too
        "site_id,bandwidth_mbps,postcode\nS0001,500,1001 AB\nS0002,500,10115\n", encoding="utf-8"
    )
    changed = run_cli("sites", "update", ref, str(redesign), "--reason", REASON, "--by", SOLUTION)
    assert changed.code == 0, changed.err
    site = replace(current_sites(ctx, ref)["S0003"], bandwidth_mbps=200)
    change_sites(
        ctx, ref, SiteDelta("more.csv", updated=[(site, ("bandwidth_mbps",))]), actor=SOLUTION
    )
    send_quote_requests(ctx, ref, None, actor=PEOPLE["sales_support"])
    folder = ctx.output_dir_for(ref)
    fine = quote_file(ctx, ref, folder / "fine.csv", only={"S0001", "S0002", "S0003", "S0004"})
    import_quotes(ctx, ref, fine, actor=PEOPLE["sales_support"])
    losing = quote_file(ctx, ref, folder / "losing.csv", cost_share=1.5, valid_days=60, only=LOSING)
    import_quotes(ctx, ref, losing, actor=PEOPLE["sales_support"])
    order_details(ctx, ref)
    freeze_design(ctx, ref, by=SOLUTION)
    services.run_to_wait(ctx, ref)
    drain(ctx, notify=False)
    return ref


def _requests(ctx: Context) -> dict[str, list[dict[str, Any]]]:
    """The Slack blocks of each approval request, by area."""
    with Session(ctx.engine) as session:
        messages = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.event == "approval_requested")
            .order_by(col(OutboxMessage.id))
        ).all()
    by_area: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        area = next(m["area"] for m in message.blocks if m.get("type") == "approval")
        by_area[area] = message_blocks(message.text, list(message.blocks), None)
    return by_area


def _texts(blocks: list[dict[str, Any]]) -> str:
    parts = []
    for block in blocks:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [f["text"] for f in block.get("fields", [])]
        parts += [
            e.get("text", "") for e in block.get("elements", []) if block["type"] == "context"
        ]
    return "\n".join(parts)


def _within_block_kit(blocks: list[dict[str, Any]]) -> None:
    assert len(blocks) <= 50
    for block in blocks:
        if "text" in block:
            assert len(block["text"]["text"]) <= 3000
        for text in block.get("fields", []):
            assert len(text["text"]) <= 2000


def _site_revenue(ctx: Context, bandwidth: int) -> float:
    """A managed-network fibre site's price over 36 months, read from the price list."""
    catalogue = catalogue_for(ctx.settings.rules_dir)
    band = next(
        b
        for b in catalogue.prices.services["managed_network"]["fiber"]
        if bandwidth <= b.up_to_mbps
    )
    return band.monthly * 36 + band.one_off


def test_finance_sees_budget_validity_and_the_loss(
    ctx: Context, run_cli: RunCli, tmp_path: Path
) -> None:
    ref = _governance(ctx, run_cli, tmp_path)
    shown = json.loads(run_cli("approval", "show", ref, "--area", "financial", "--json").out)
    assert shown["area"] == "financial" and "technical" not in shown
    finance = shown["financial"]
    tcv = finance["tcv_eur"]
    assert tcv > BUDGET and finance["budget"] == {
        "budget_eur": BUDGET,
        "tcv_eur": tcv,
        "above": True,
        "times": round(tcv / BUDGET, 2),
    }
    assert any(
        f.startswith(f"TCV {tcv:,.2f} EUR is above the customer's BANTS budget")
        for f in shown["flags"]
    )
    # two sites at 100 Mbps cost 1.5 times what they sell for: each loses half its price
    loss = _site_revenue(ctx, 100) * 0.5
    assert finance["loss_lines"]["count"] == 2
    assert finance["loss_lines"]["total_eur"] == pytest.approx(2 * loss, abs=0.05)
    assert {line["site_id"] for line in finance["loss_lines"]["worst"]} == LOSING
    validity = finance["validity"]
    assert validity["shorter"] is True and validity["quotes_ending_before_offer"] == 2
    assert sorted(validity["shortest_sites"]) == sorted(LOSING)
    assert any("ends before the offer's validity" in f for f in shown["flags"])
    countries = {row["country"]: row for row in finance["margin_by_country"]}
    assert set(countries) == {"BE", "NL", "DE", "FR", "GB", "ES"}
    assert all(row["margin_pct"] < 0 for c, row in countries.items() if c in {"ES", "BE"})
    assert finance["margin_by_service"][0]["service"] == "managed_network"
    text = " ".join(run_cli("approval", "show", ref, "--area", "financial").out.split())
    assert "ABOVE the budget" in text and "SHORTER: 2 quote(s) end first" in text
    assert f"2 lose {2 * loss:,.2f} EUR" in text
    slack = _texts(_requests(ctx)["financial"])
    assert ":warning: *TCV" in slack and "above the customer's BANTS budget" in slack
    assert "ends before the offer's validity" in slack and "Loss-making lines" in slack
    assert "Redesigned" not in slack  # the design is the technical approver's


def test_technical_sees_the_redesigned_sites_by_why(
    ctx: Context, run_cli: RunCli, tmp_path: Path
) -> None:
    ref = _governance(ctx, run_cli, tmp_path)
    shown = json.loads(run_cli("approval", "show", ref, "--area", "technical", "--json").out)
    design = shown["technical"]["redesigned"]
    assert design["sites"] == 3
    groups = {g["why"]: g["site_ids"] for g in design["groups"]}
    assert groups == {REASON: ["S0001", "S0002"], "bandwidth_mbps 100 → 200": ["S0003"]}
    coverage = shown["technical"]["coverage"]
    assert coverage["firm"] == 6 and coverage["access"] == {"fiber": 6}
    assert {c["country"] for c in coverage["countries"]} == {"BE", "NL", "DE", "FR", "GB", "ES"}
    assert shown["technical"]["lead_times"]["longest_days"] == 40  # rules/delivery.yaml fiber
    assert "3 of 6 sites are not built as the customer asked (2 reason(s))" in shown["flags"]
    text = " ".join(run_cli("approval", "show", ref, "--area", "technical").out.split())
    assert f"Redesigned (2): {REASON}: S0001, S0002" in text
    blocks = _requests(ctx)["technical"]
    _within_block_kit(blocks)
    slack = _texts(blocks)
    assert f"*Redesigned (2)*: {REASON}: S0001, S0002" in slack
    assert "BANTS budget" not in slack  # the budget is finance's


def test_legal_and_management_read_their_page(
    ctx: Context, run_cli: RunCli, tmp_path: Path
) -> None:
    ref = _governance(ctx, run_cli, tmp_path)
    legal = json.loads(run_cli("approval", "show", ref, "--area", "legal", "--json").out)
    assert legal["legal"]["deviations"] == ["liability capped at 12 months of fees"]
    assert legal["flags"] == ["1 deviation(s) from our standard terms"]
    requests = _requests(ctx)
    assert "liability capped at 12 months of fees" in _texts(requests["legal"])
    management = json.loads(run_cli("approval", "show", ref, "--area", "management", "--json").out)
    assert {"financial", "technical", "legal"} <= set(management)
    assert any("BANTS budget" in f for f in management["flags"])
    assert any("not built as the customer asked" in f for f in management["flags"])
    assert "1 deviation(s) from our standard terms" in management["flags"]
    if "management" in requests:  # asked when the margin falls under the floor
        _within_block_kit(requests["management"])
    wrong = run_cli("approval", "show", ref, "--area", "finance")
    assert wrong.code == 2 and "unknown area 'finance'" in wrong.err
    assert len(wrong.err.strip().splitlines()) == 1


def test_the_views_stay_within_block_kit_limits_for_a_big_bid() -> None:
    """3,000 redesigned sites in 400 reasons, long terms: still one message Slack accepts."""
    groups = [
        {
            "why": f"reason {n} " + "x" * 200,
            "sites": 8,
            "site_ids": [f"S{n}-{i}" for i in range(8)],
            "countries": ["BE"],
        }
        for n in range(400)
    ]
    summary: dict[str, Any] = {
        "opportunity": "OPP-0001",
        "areas": {
            "technical": {
                "sites": 3200,
                "redesigned": {"sites": 3200, "groups": groups},
                "coverage": {"countries": [{"country": "BE", "sites": 3200, "firm": 1}]},
                "lead_times": {},
                "flags": ["f" * 5000],
            },
            "financial": {"currency": "EUR", "flags": []},
            "legal": {"deviations": ["d" * 4000], "flags": []},
            "management": {"flags": ["f" * 5000]},
        },
    }
    for area in ("technical", "management"):
        blocks = message_blocks(
            "text", [{"type": "approval", "area": area, "summary": summary}], None
        )
        _within_block_kit(blocks)
        assert for_area(summary, area)["area"] == area


def _docx_text(path: Path) -> str:
    from docx import Document

    document = Document(str(path))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def test_the_control_plan_carries_the_approval_pack(
    real_ctx: Context, run_cli: RunCli, tmp_path: Path
) -> None:
    ref = _governance(real_ctx, run_cli, tmp_path)
    text = _docx_text(real_ctx.output_dir_for(ref) / f"control-plan-{ref}.docx")
    assert "Approval pack: what each approver decides on" in text
    assert "above the customer's BANTS budget of 50,000.00 EUR" in text
    assert f"technical | Redesigned (2) | {REASON}: S0001, S0002" in text
    assert "financial | Loss-making lines | 2 lose" in text
    assert "legal | Deviations | liability capped at 12 months of fees" in text


def test_the_api_serves_each_approvers_view(ctx: Context, run_cli: RunCli, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from orchestrator.api.app import make_app
    from orchestrator.bid.team import people
    from orchestrator.runtime.runner import InlineRunner
    from tests.support.slack_api import admin_of

    ref = _governance(ctx, run_cli, tmp_path)
    admin = admin_of(ctx)
    headers = {
        "Authorization": f"Bearer {people.issue_token(ctx, PEOPLE['bid_manager'], by=admin)}"
    }
    with TestClient(make_app(lambda: ctx, runner=InlineRunner())) as api:
        finance = api.get(f"/api/v1/bids/{ref}/approval?area=financial", headers=headers)
        assert finance.status_code == 200, finance.text
        assert finance.json()["financial"]["budget"]["above"] is True
        whole = api.get(f"/api/v1/bids/{ref}/approval", headers=headers).json()
        assert set(whole["areas"]) == {"technical", "financial", "legal", "management"}
        wrong = api.get(f"/api/v1/bids/{ref}/approval?area=sales", headers=headers)
        assert wrong.status_code == 400 and "unknown area 'sales'" in wrong.json()["error"]
        assert api.get(f"/api/v1/bids/{ref}/approval").status_code == 401


def test_a_site_changed_back_to_the_ask_is_built_as_asked(ctx: Context) -> None:
    from orchestrator.store.models import Site

    ref = new_bid(ctx)
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
    services.run_to_wait(ctx, ref)

    def change(bandwidth: int, reason: str | None) -> Site:
        site = replace(current_sites(ctx, ref)["S0004"], bandwidth_mbps=bandwidth)
        delta = SiteDelta("x.csv", updated=[(site, ("bandwidth_mbps",))], reason=reason)
        change_sites(ctx, ref, delta, actor=SOLUTION)
        with Session(ctx.engine) as session:
            row = session.exec(select(Site).where(Site.site_id == "S0004")).one()
            session.expunge(row)
            return row

    first = change(500, "more video")
    assert (first.asked, first.redesign_reason) == ({"bandwidth_mbps": 100}, "more video")
    second = change(1000, None)  # the ask stays the customer's first, the reason stays
    assert (second.asked, second.redesign_reason) == ({"bandwidth_mbps": 100}, "more video")
    back = change(100, None)
    assert (back.asked, back.redesign_reason) == ({}, None)
