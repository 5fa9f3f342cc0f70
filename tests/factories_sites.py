"""Factories for RFP volumes: sites across many countries, an opportunity to hang them on,
and quote CSVs answering them.

Sites are spread round-robin over 13 provider countries, the two in-house countries (BE,
NL) and one country no catalogued provider serves (NO: the fallback partner quotes it), with
valid addresses for each country and a mix of access types that exercises the providers
split by access type (GB, AT).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from orchestrator.config import load_settings
from orchestrator.context import Context
from orchestrator.ports import RulesEngine
from orchestrator.store.models import (
    Account,
    AuditEvent,
    Opportunity,
    Person,
    Site,
    State,
    TeamMember,
)
from orchestrator.wiring import open_context

PROVIDER_COUNTRIES = ("DE", "FR", "GB", "ES", "IT", "PL", "SE", "CH", "AT", "IE", "DK", "CZ", "US")
IN_HOUSE_COUNTRIES = ("BE", "NL")
SALES_SUPPORT = "sam@example.com"
"""The default team of `make_opportunity`: sales support, who imports quotes and records MACDs."""
FALLBACK_COUNTRY = "NO"
ALL_COUNTRIES = (*PROVIDER_COUNTRIES, *IN_HOUSE_COUNTRIES, FALLBACK_COUNTRY)

CITIES = {
    "DE": ("Berlin", "Hauptstraße {n}", "{p5}"),
    "FR": ("Lyon", "{n} rue de la République", "{p5}"),
    "GB": ("London", "{n} High Street", "SW1A {d}AA"),
    "ES": ("Madrid", "Calle Mayor {n}", "{p5}"),
    "IT": ("Milano", "Via Roma {n}", "{p5}"),
    "PL": ("Warszawa", "ul. Marszałkowska {n}", "{p2}-{p3}"),
    "SE": ("Stockholm", "Drottninggatan {n}", "{p3} {p2}"),
    "CH": ("Zürich", "Bahnhofstrasse {n}", "{p4}"),
    "AT": ("Wien", "Ringstraße {n}", "{p4}"),
    "IE": ("Dublin", "{n} O'Connell Street", "D02 X{p3}"),
    "DK": ("København", "Strøget {n}", "{p4}"),
    "CZ": ("Praha", "Národní {n}", "{p3} {p2}"),
    "US": ("New York", "{n} Broadway", "{p5}"),
    "BE": ("Brussel", "Wetstraat {n}", "{p4}"),
    "NL": ("Amsterdam", "Damrak {n}", "{p4} AB"),
    "NO": ("Oslo", "Karl Johans gate {n}", "{p4}"),
}
# access types per position: mostly fiber, some copper, 4g and wireless
ACCESS_CYCLE = ("fiber", "fiber", "copper", "fiber", "4g", "fiber", "wireless", "fiber")
BANDWIDTHS = (50, 100, 200, 500, 1000)


@dataclass(frozen=True)
class SiteSpec:
    site_id: str
    name: str
    street: str
    postcode: str
    city: str
    country: str
    bandwidth_mbps: int
    access: str
    contact_name: str | None = None
    contact_phone: str | None = None


def _example_phone(country: str) -> str:
    """A valid phone number of `country` (phonenumbers' example), in E.164."""
    import phonenumbers

    number = phonenumbers.example_number(country)
    if number is None:
        raise ValueError(f"phonenumbers has no example number for {country}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _postcode(pattern: str, n: int) -> str:
    digits = f"{(n * 7919) % 100000:05d}"
    return pattern.format(
        p5=str(10000 + n % 89999),
        p4=str(1000 + n % 8999),
        p3=digits[:3].replace("0", "1"),
        p2=digits[3:],
        d=n % 10,
    )


def site_specs(
    n: int, countries: Sequence[str] = ALL_COUNTRIES, *, contacts: bool = False
) -> list[SiteSpec]:
    """N sites, round-robin over `countries`, ids S-00001…, valid addresses; with `contacts`,
    a site contact each (a valid phone number of the country, as the order sheet needs)."""
    specs = []
    for i in range(n):
        country = countries[i % len(countries)]
        city, street, postcode = CITIES[country]
        access = ACCESS_CYCLE[(i // len(countries)) % len(ACCESS_CYCLE)]
        if access in ("4g", "wireless"):
            bandwidth = 50
        elif access == "copper":
            bandwidth = 20
        else:
            bandwidth = BANDWIDTHS[i % len(BANDWIDTHS)]
        specs.append(
            SiteSpec(
                site_id=f"S-{i + 1:05d}",
                name=f"{city} branch {i + 1}",
                street=street.format(n=i % 200 + 1),
                postcode=_postcode(postcode, i),
                city=city,
                country=country,
                bandwidth_mbps=bandwidth,
                access=access,
                **(
                    {
                        "contact_name": f"Site lead {i + 1}",
                        "contact_phone": _example_phone(country),
                    }
                    if contacts
                    else {}
                ),
            )
        )
    return specs


def make_opportunity(
    engine: Engine,
    *,
    sites: int = 0,
    state: str = "bid_production",
    tier: str = "top",
    account: str = "Acme Logistics",
    strategy: str | None = None,
    pricing: dict[str, object] | None = None,
    countries: Sequence[str] = ALL_COUNTRIES,
    services: Iterable[str] = ("managed_network",),
    team: Mapping[str, str] | None = None,
) -> Opportunity:
    """An account, an opportunity in `state` and `sites` generated sites; returns the row.

    Its team (role → e-mail, default: sales support `SALES_SUPPORT`) may change the bid.
    """
    with Session(engine, expire_on_commit=False) as session:
        acct = Account(name=account, tier=tier)
        session.add(acct)
        session.flush()
        opportunity = Opportunity(
            account_id=acct.id or 0,
            title="Pan-European WAN refresh",
            source="rfp",
            rfp_reference="RFP-2026-17",
            submission_deadline=date(2027, 1, 15),
            state=State(state),
            strategy=strategy,
            pricing=pricing or {},
            services=list(services),
        )
        session.add(opportunity)
        session.flush()
        session.add_all(
            Site(opportunity_id=opportunity.id or 0, order_line=line, **spec.__dict__)
            for line, spec in enumerate(site_specs(sites, countries), start=1)
        )
        for role, email in (team if team is not None else {"sales_support": SALES_SUPPORT}).items():
            person = session.exec(select(Person).where(Person.email == email)).first()
            if person is None:
                person = Person(email=email, name=email.split("@")[0].title(), roles=[])
                session.add(person)
                session.flush()
            session.add(
                TeamMember(opportunity_id=opportunity.id or 0, person_id=person.id or 0, role=role)
            )
        # its creation, by the process's own automation as the services would record it:
        # the team it assigned carries approval powers (orchestrator.bid.facts.vouched)
        session.add(
            AuditEvent(
                opportunity_id=opportunity.id or 0,
                actor="test",
                to_state=State(state),
                trigger="create",
                idempotency_key=f"{opportunity.id}:create:0",
            )
        )
        session.commit()
        return opportunity


QUOTE_HEADER = (
    "site_id",
    "provider",
    "kind",
    "monthly_cost",
    "one_off_cost",
    "currency",
    "valid_until",
)


def write_quotes(path: Path, rows: Iterable[Sequence[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(QUOTE_HEADER)
        writer.writerows(rows)
    return path


def quote_rows(
    specs: Sequence[SiteSpec],
    *,
    kind: str = "budgetary",
    monthly: float = 200.0,
    one_off: float = 500.0,
    valid_until: str = "2027-06-30",
) -> list[tuple[object, ...]]:
    """One EUR quote per sourced site by its routed provider (in-house for BE/NL)."""
    from orchestrator.commercial.quotes import catalogue_for
    from orchestrator.config import load_settings

    catalogue = catalogue_for(load_settings().rules_dir)
    rows: list[tuple[object, ...]] = []
    for spec in specs:
        provider = catalogue.providers.routed_provider(spec.country, spec.access)
        if provider is None:
            continue
        rows.append((spec.site_id, provider, kind, monthly, one_off, "EUR", valid_until))
    return rows


def context_on(
    engine: Engine, *, now: datetime, rules: RulesEngine | None = None, out: Path | None = None
) -> Context:
    """A context over the database of `engine`, the repository's rules and a fixed clock."""
    settings = replace(load_settings({}), database_url=engine.url.render_as_string(False))
    if out is not None:
        settings = replace(settings, output_dir=out)
    clock: Callable[[], datetime] = lambda: now  # noqa: E731
    return open_context(settings, clock=clock, rules=rules)
