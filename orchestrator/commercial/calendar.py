"""Working days: weekends and public holidays per country (the `holidays` package).

A deadline on a Sunday or on New Year's Day is a deadline nobody meets. Every date the
process plans — Bid Control Plan milestones, QRF reply-by dates, carrier delivery dates, the
transition plan — is counted in working days of the country it happens in: internal work in
the bid team's home country (rules/delivery.yaml), a carrier's work in the site's country.
A country the `holidays` package does not know counts weekends only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

WEEKEND = frozenset({5, 6})  # Saturday, Sunday


@lru_cache(maxsize=256)
def _holidays(country: str, year: int) -> frozenset[date]:
    import holidays  # ~0.2 s on first use: only commands that plan dates load it

    try:
        table = holidays.country_holidays(country, years=year)
    except NotImplementedError:  # a country the package does not cover: weekends only
        return frozenset()
    return frozenset(table)


def working_days_warm(country: str, year: int) -> None:
    """Load `country`'s public holidays of `year` and the next (a long-lived process, before
    its first bid: ~10 ms a country and year)."""
    for each in (year, year + 1):
        _holidays(country, each)


def holiday_name(day: date, country: str) -> str | None:
    """The public holiday on `day` in `country`, or None."""
    import holidays

    if day not in _holidays(country, day.year):
        return None
    try:
        return str(holidays.country_holidays(country, years=day.year).get(day))
    except NotImplementedError:  # pragma: no cover - _holidays already said it has some
        return None


def is_working_day(day: date, country: str) -> bool:
    """Not a weekend day, not a public holiday in `country`."""
    return day.weekday() not in WEEKEND and day not in _holidays(country, day.year)


def is_working_day_everywhere(day: date, countries: Iterable[str]) -> bool:
    return all(is_working_day(day, country) for country in countries)


def on_or_after(day: date, country: str) -> date:
    """`day`, or the first working day after it."""
    while not is_working_day(day, country):
        day += timedelta(days=1)
    return day


def on_or_before(day: date, country: str) -> date:
    """`day`, or the last working day before it."""
    while not is_working_day(day, country):
        day -= timedelta(days=1)
    return day


def add_working_days(day: date, count: int, country: str) -> date:
    """The working day `count` working days after `day` (before it when negative).

    Zero gives `day` itself when it is a working day, else the working day before it
    (a deadline falls back, never forward).
    """
    if count == 0:
        return on_or_before(day, country)
    step = 1 if count > 0 else -1
    left = abs(count)
    while left:
        day += timedelta(days=step)
        if is_working_day(day, country):
            left -= 1
    return day


def working_days_between(start: date, end: date, country: str) -> int:
    """Working days after `start` up to and including `end` (negative when end < start)."""
    if end == start:
        return 0
    step = 1 if end > start else -1
    count, day = 0, start
    while day != end:
        day += timedelta(days=step)
        if is_working_day(day, country):
            count += step
    return count
