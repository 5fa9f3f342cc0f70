"""Contracts as the measurements read them: revenue booked per month, and churn.

- **Booked revenue**: a contract books its monthly recurring revenue (EUR) in every month of
  its term, from the month it starts; its one-off charges in that first month. This is what
  the forecast counts for a signed deal (instead of the bid's estimates).
- **Churn**: a contract whose term ended in a period without a contract renewing it. Its
  reason is its renewal bid's result (category and reason) when that bid was lost, not bid
  or withdrawn; "renewal bid still open" when it is not decided; "no renewal bid" otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.decisions.funnel_rules import Period, add_months, month_of
from orchestrator.lifecycle.table import ENDS, State
from orchestrator.store.models import Account, Contract, Opportunity, format_ref


@dataclass(frozen=True)
class ContractFacts:
    id: int
    ref: str
    account_id: int
    account: str
    tier: str
    country: str | None
    opportunity_id: int
    start_date: date
    end_date: date
    term_months: int
    currency: str
    monthly_recurring: float
    monthly_recurring_eur: float
    one_off_eur: float
    renewal_opportunity_id: int | None
    renews_contract_id: int | None

    @property
    def value_eur(self) -> float:
        """The whole term's value: monthly × term + one-off (EUR)."""
        return round(self.monthly_recurring_eur * self.term_months + self.one_off_eur, 2)

    def active_on(self, day: date) -> bool:
        return self.start_date <= day <= self.end_date

    def booked_by_month(self) -> dict[str, float]:
        """Month label → revenue this contract books in it (EUR)."""
        first = month_of(self.start_date)
        months = {
            add_months(first, i).label: self.monthly_recurring_eur for i in range(self.term_months)
        }
        months[first.label] = months.get(first.label, 0.0) + self.one_off_eur
        return months

    def recurring_in(self, label: str) -> float:
        """The monthly recurring revenue this contract books in the month `label` (EUR):
        its monthly fee in every month of its term, never its one-off charges."""
        first = month_of(self.start_date)
        months = {add_months(first, i).label for i in range(self.term_months)}
        return self.monthly_recurring_eur if label in months else 0.0

    def one_off_in(self, label: str) -> float:
        """The one-off charges this contract books in the month `label` (EUR): all of them
        in the month it starts."""
        return self.one_off_eur if month_of(self.start_date).label == label else 0.0


def load_contracts(session: Session) -> list[ContractFacts]:
    rows = session.exec(
        select(Contract, Account.name, Account.tier, Account.country)
        .where(Contract.account_id == Account.id)
        .order_by(col(Contract.id))
    ).all()
    return [
        ContractFacts(
            id=c.id or 0,
            ref=c.ref,
            account_id=c.account_id,
            account=name,
            tier=tier,
            country=country,
            opportunity_id=c.opportunity_id,
            start_date=c.start_date,
            end_date=c.end_date,
            term_months=c.term_months,
            currency=c.currency,
            monthly_recurring=c.monthly_recurring,
            monthly_recurring_eur=c.monthly_recurring_eur,
            one_off_eur=c.one_off_eur,
            renewal_opportunity_id=c.renewal_opportunity_id,
            renews_contract_id=c.renews_contract_id,
        )
        for c, name, tier, country in rows
    ]


def list_contracts(
    session: Session, today: date, account: str | None = None, ending_within: int | None = None
) -> list[dict[str, Any]]:
    """What `bid contract list` shows, soonest end first."""
    from orchestrator.errors import InputError
    from orchestrator.funnel.accounts import find

    if ending_within is not None and ending_within < 0:
        raise InputError(f"{ending_within} is not a number of days ahead", field="ending-within")
    key = find(session, account).name_key if account else None
    names = dict(session.exec(select(Account.id, Account.name_key)).all()) if key else {}
    rows = []
    for c in sorted(load_contracts(session), key=lambda c: (c.end_date, c.id)):
        if key is not None and names.get(c.account_id) != key:
            continue
        if ending_within is not None and not today <= c.end_date <= today + timedelta(
            days=ending_within
        ):
            continue
        rows.append(
            {
                "contract": c.ref,
                "account": c.account,
                "tier": c.tier,
                "opportunity": format_ref(c.opportunity_id),
                "start_date": c.start_date.isoformat(),
                "end_date": c.end_date.isoformat(),
                "term_months": c.term_months,
                "currency": c.currency,
                "monthly_recurring": c.monthly_recurring,
                "monthly_recurring_eur": c.monthly_recurring_eur,
                "value_eur": c.value_eur,
                "active": c.active_on(today),
                "renewal": format_ref(c.renewal_opportunity_id)
                if c.renewal_opportunity_id
                else None,
            }
        )
    return rows


@dataclass(frozen=True)
class Churn:
    contract: str
    account: str
    tier: str
    country: str | None
    end_date: date
    monthly_recurring_eur: float
    reason_category: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["end_date"] = self.end_date.isoformat()
        return data


def churned(
    session: Session, contracts: list[ContractFacts], period: Period, today: date
) -> list[Churn]:
    """Contracts whose term ended in `period` (their last day before `today`) with no
    contract renewing them, and why."""
    renewed = {c.renews_contract_id for c in contracts if c.renews_contract_id is not None}
    last = min(period.end, today)
    ended = [c for c in contracts if period.start <= c.end_date < last and c.id not in renewed]
    renewal_ids = [c.renewal_opportunity_id for c in ended if c.renewal_opportunity_id]
    bids = {
        o.id: o
        for o in session.exec(select(Opportunity).where(col(Opportunity.id).in_(renewal_ids))).all()
    }
    result = []
    for c in sorted(ended, key=lambda c: (c.end_date, c.id)):
        bid = bids.get(c.renewal_opportunity_id) if c.renewal_opportunity_id else None
        if bid is None:
            category, reason = "no_renewal_bid", "no renewal bid was opened"
        elif bid.state not in ENDS or bid.state == State.CONTRACTED:
            category, reason = (
                "renewal_open",
                f"renewal bid {bid.ref} still open ({bid.state.value})",
            )
        else:
            category = bid.result_category or bid.state.value
            reason = f"{bid.ref} {bid.state.value}: {bid.result_reason or 'no reason given'}"
        result.append(
            Churn(
                c.ref,
                c.account,
                c.tier,
                c.country,
                c.end_date,
                c.monthly_recurring_eur,
                category,
                reason,
            )
        )
    return result
