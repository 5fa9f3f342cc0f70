"""Win rates, reasons and sleeping accounts, checked against the factory's parameters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from orchestrator.bid.customers.accounts import put_to_sleep
from orchestrator.decisions.funnel_rules import check_reason_category
from orchestrator.errors import InputError, NotFound
from orchestrator.funnel.measure import load_trails
from orchestrator.funnel.winloss import (
    reasons_breakdown,
    sleeping_accounts,
    win_rates,
)
from orchestrator.lifecycle.table import ENDS, State
from orchestrator.store.db import open_database
from orchestrator.store.models import Account
from tests.factories_history import BidSpec, build_history, custom_spec, write_history

RULES = Path(__file__).resolve().parents[1] / "rules"
S = State
WON = {S.CONTRACT_PREPARATION, S.CONTRACTED}


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = open_database(f"sqlite:///{tmp_path}/t.db")
    with Session(engine) as session:
        yield session


def _closed_at(spec: BidSpec) -> datetime | None:
    return next((at for s, at in spec.visits if s in WON or s in ENDS), None)


def _expected_rates(
    specs: list[BidSpec], since: datetime | None, until: datetime | None
) -> dict[tuple[str, str], tuple[int, int]]:
    won: Counter[tuple[str, str]] = Counter()
    lost: Counter[tuple[str, str]] = Counter()
    for spec in specs:
        if spec.state not in WON and spec.state != S.LOST:
            continue
        at = _closed_at(spec)
        assert at is not None
        if (since and at < since) or (until and at >= until):
            continue
        target = won if spec.state in WON else lost
        target[("overall", "all")] += 1
        target[("tier", spec.tier)] += 1
        for service in spec.services:
            target[("service", service)] += 1
        target[("position", "incumbent" if spec.incumbent else "challenger")] += 1
    return {key: (won[key], lost[key]) for key in set(won) | set(lost)}


@pytest.mark.parametrize(
    ("since", "until"),
    [(None, None), (datetime(2025, 7, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))],
)
def test_win_rates_by_tier_service_and_position(
    session: Session, since: datetime | None, until: datetime | None
) -> None:
    specs = build_history(session)
    rates = win_rates(
        load_trails(session),
        since=since.replace(tzinfo=None) if since else None,
        until=until.replace(tzinfo=None) if until else None,
    )
    expected = _expected_rates(specs, since, until)
    assert {(r.group, r.key): (r.won, r.lost) for r in rates} == expected
    assert {r.group for r in rates} == {"overall", "tier", "service", "position"}
    overall = next(r for r in rates if r.group == "overall")
    won, lost = expected[("overall", "all")]
    assert overall.rate == pytest.approx(won / (won + lost))
    assert won > 0 and lost > 0


def test_reasons_breakdown_counts_every_outcome_and_category(session: Session) -> None:
    specs = build_history(session)
    expected: Counter[tuple[str, str]] = Counter()
    for spec in specs:
        if spec.state in WON:
            expected[("won", spec.category or "uncategorised")] += 1
        elif spec.state in ENDS:
            expected[(spec.state.value, spec.category or "uncategorised")] += 1
    rows = reasons_breakdown(load_trails(session))
    assert {(r.outcome, r.category): r.count for r in rows} == dict(expected)
    price = next(r for r in rows if (r.outcome, r.category) == ("lost", "price"))
    lost_price = [s for s in specs if s.state == S.LOST and s.category == "price"]
    assert sorted(price.reasons) == sorted(s.reason or "" for s in lost_price)
    assert {r.outcome for r in rows} == {"won", "lost", "no_bid", "withdrawn"}


def test_reason_category_is_checked_against_the_controlled_list() -> None:
    assert check_reason_category(RULES, "incumbent_retained") == "incumbent_retained"
    with pytest.raises(InputError, match="unknown reason category 'cheap'") as caught:
        check_reason_category(RULES, "cheap")
    assert caught.value.field == "category"


def test_lost_and_no_bid_accounts_sleep_until_their_reminder(session: Session) -> None:
    lost_at = datetime(2026, 3, 2, tzinfo=UTC)
    specs = [
        custom_spec(0, [(S.CUSTOMER_DECISION, lost_at - timedelta(weeks=8)), (S.LOST, lost_at)],
                    account="Lost Ltd", category="price"),
        custom_spec(1, [(S.QUALIFICATION, lost_at), (S.NO_BID, lost_at + timedelta(days=1))],
                    account="Nobid NV", category="capacity"),
        custom_spec(2, [(S.CUSTOMER_DECISION, lost_at), (S.LOST, lost_at + timedelta(days=2))],
                    account="Busy BV", category="timing"),
        custom_spec(3, [(S.PRE_QUALIFICATION, lost_at + timedelta(days=9))], account="Busy BV"),
    ]  # fmt: skip
    write_history(session, specs)
    today = date(2026, 3, 10)
    dates = {
        spec.account: put_to_sleep(session, spec.account_id, today=today, rules_dir=RULES)
        for spec in specs[:3]
    }
    session.commit()
    assert dates == {name: date(2026, 9, 6) for name in ("Lost Ltd", "Nobid NV", "Busy BV")}
    # Busy BV has an open bid again: it is awake and not listed
    asleep = sleeping_accounts(session, today)
    assert [(a.name, a.last_result, a.last_category, a.days_left, a.due) for a in asleep] == [
        ("Lost Ltd", "lost", "price", 180, False),
        ("Nobid NV", "no_bid", "capacity", 180, False),
    ]
    later = sleeping_accounts(session, date(2026, 9, 7))
    assert [a.due for a in later] == [True, True]
    assert later[0].as_dict()["sleeping_until"] == "2026-09-06"
    # a second loss sooner than the reminder keeps the later date
    account = session.get(Account, specs[0].account_id)
    assert account is not None
    assert put_to_sleep(session, account.id or 0, today=date(2026, 1, 1), rules_dir=RULES) == date(
        2026, 9, 6
    )
    with pytest.raises(NotFound):
        put_to_sleep(session, 999, today=today, rules_dir=RULES)
