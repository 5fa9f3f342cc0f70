"""MACDs as provisioning knows them: a no-op is refused, the actor holds a role on the
account, order lines keep their ids, a price-changing MACD waits for the financial approval
(applied when finance grants it, dropped when finance rejects it)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, col, select

from orchestrator.bid.closing import outcomes
from orchestrator.bid.closing.orders import record_macd
from orchestrator.bid.opportunity.onboarding import import_sites
from orchestrator.bid.progress import services
from orchestrator.context import Context
from orchestrator.errors import InputError, NotPermitted
from orchestrator.intake.opportunity import SiteSpec
from orchestrator.store.models import AuditEvent, ChangeOrder, Person, Site
from tests.factories import PEOPLE, carry_to_governance, grant_all, new_bid, submit

ORDERER = PEOPLE["sales_support"]
SITES = [
    SiteSpec("H1", "Hamburg store", "Ring 2", "20095", "Hamburg", "DE", 100, "fiber"),
    SiteSpec("H2", "Bremen store", "Ring 3", "28195", "Bremen", "DE", 100, "fiber"),
    SiteSpec("B1", "Brussel office", "Wetstraat 1", "1040", "Brussel", "BE", 100, "fiber"),
]


def _contracted(ctx: Context) -> str:
    ref = new_bid(ctx, site_count=0)
    import_sites(ctx, ref, SITES, actor="test")
    carry_to_governance(ctx, ref)
    grant_all(ctx, ref)
    services.run_to_wait(ctx, ref)
    submit(ctx, ref)
    outcomes.record_result(ctx, ref, won=True, reason="best plan", by=PEOPLE["bid_manager"])
    services.run_to_wait(ctx, ref)
    with Session(ctx.engine) as session:
        assert services.get_opportunity(session, ref).state == "contracted"
    return ref


def _macd(ctx: Context, ref: str, site: str, kind: str, by: str = ORDERER, **changes: Any) -> Any:
    return record_macd(ctx, ref, site_id=site, kind=kind, changes=changes, actor=by)


def _sites(ctx: Context) -> dict[str, Site]:
    with Session(ctx.engine) as session:
        return {s.site_id: s for s in session.exec(select(Site))}


def test_a_no_op_and_an_outsider_are_refused_and_nothing_is_recorded(ctx: Context) -> None:
    ref = _contracted(ctx)
    with pytest.raises(InputError, match="changes nothing on site H1"):
        _macd(ctx, ref, "H1", "move", street="Ring 2", postcode="20095")
    with Session(ctx.engine) as session:
        session.add(Person(email="stranger@example.com", name="Stranger", roles=[]))
        session.commit()
    with pytest.raises(NotPermitted, match="holds no role on Acme Logistics"):
        _macd(ctx, ref, "H1", "move", by="stranger@example.com", street="Ring 9")
    with Session(ctx.engine) as session:
        assert session.exec(select(ChangeOrder)).all() == []
        refusals = [e.trigger for e in session.exec(select(AuditEvent))]
    assert "macd_refused" in refusals
    assert _sites(ctx)["H1"].street == "Ring 2"


def test_order_lines_keep_their_ids_and_price_changes_wait_for_finance(ctx: Context) -> None:
    ref = _contracted(ctx)
    lines = {s.site_id: s.order_line for s in _sites(ctx).values()}
    assert lines == {"H1": 1, "H2": 2, "B1": 3}

    moved = _macd(ctx, ref, "H1", "move", street="Ring 9")  # no price changes: applied
    assert not moved.held and _sites(ctx)["H1"].street == "Ring 9"

    faster = _macd(ctx, ref, "H2", "change", bandwidth_mbps=500)
    deleted = _macd(ctx, ref, "H1", "delete")
    assert faster.held and deleted.held
    assert _sites(ctx)["H2"].bandwidth_mbps == 100 and _sites(ctx)["H1"].ordered

    # finance decides the latest request first: the delete is dropped, the upgrade applied
    services.approve(ctx, ref, area="financial", by=PEOPLE["finance"], reject=True, reason="no")
    services.approve(ctx, ref, area="financial", by=PEOPLE["finance"])
    sites = _sites(ctx)
    assert sites["H1"].ordered and sites["H2"].bandwidth_mbps == 500

    added = _macd(
        ctx,
        ref,
        "N1",
        "add",
        name="Köln store",
        street="Ring 1",
        postcode="50668",
        city="Köln",
        country="DE",
        bandwidth_mbps=100,
        access="fiber",
    )
    assert added.held
    services.approve(ctx, ref, area="financial", by=PEOPLE["finance"])
    _macd(ctx, ref, "H2", "delete")
    services.approve(ctx, ref, area="financial", by=PEOPLE["finance"])
    sites = _sites(ctx)
    assert not sites["H2"].ordered
    # a deleted line keeps its gap; an added site gets the next id
    assert {s.site_id: s.order_line for s in sites.values()} == {
        "H1": 1,
        "H2": 2,
        "B1": 3,
        "N1": 4,
    }
    with Session(ctx.engine) as session:
        orders = session.exec(select(ChangeOrder).order_by(col(ChangeOrder.id))).all()
    assert [(o.site_id, o.kind, o.status) for o in orders] == [
        ("H1", "move", "applied"),
        ("H2", "change", "applied"),
        ("H1", "delete", "rejected"),
        ("N1", "add", "applied"),
        ("H2", "delete", "applied"),
    ]
