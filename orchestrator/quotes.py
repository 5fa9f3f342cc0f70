"""Quotes: quote requests (QRFs) per country and provider, supplier quotes, margin.

Standard products have list prices; a special design needs quotes from providers, first
budgetary, then firm. This module groups a bid's sites into QRFs, imports the providers'
answers (a whole file or nothing), tells per site what is quoted, and computes the margin
of the customer price over the supplier cost in EUR. A firm quote that pushes the margin
below the governance floor invalidates a granted financial approval, in the same
transaction as the import.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import insert
from sqlmodel import Session, select

from orchestrator.catalogue import (
    IN_HOUSE_PROVIDER,
    Catalogue,
    Provider,
    contract_months,
    customer_price,
    load_catalogue,
)
from orchestrator.catalogue import (
    validate_pricing as validate_pricing,  # re-exported: the opportunity intake calls it here
)
from orchestrator.errors import InputError
from orchestrator.models import (
    Account,
    Approval,
    ApprovalStatus,
    Area,
    AuditEvent,
    Opportunity,
    Quote,
    Site,
    utcnow,
)

QUOTE_COLUMNS = (
    "site_id",
    "provider",
    "kind",
    "monthly_cost",
    "one_off_cost",
    "currency",
    "valid_until",
)
QUOTE_KINDS = ("budgetary", "firm")
APPROVAL_INVALIDATED = "approval_invalidated"


# --- catalogue access ----------------------------------------------------------------------


def _rules_stamp(rules_dir: Path) -> tuple[float, ...]:
    names = ("providers.yaml", "fx_rates.yaml", "price_list.yaml", "address_formats.yaml")
    return tuple((rules_dir / n).stat().st_mtime if (rules_dir / n).exists() else 0 for n in names)


@lru_cache(maxsize=8)
def _cached_catalogue(rules_dir: Path, _stamp: tuple[float, ...]) -> Catalogue:
    return load_catalogue(rules_dir)


def catalogue_for(rules_dir: Path) -> Catalogue:
    """The catalogue under `rules_dir`, reloaded when one of its files changes."""
    resolved = rules_dir.resolve()
    return _cached_catalogue(resolved, _rules_stamp(resolved))


def to_eur(rules_dir: Path, amount: float, currency: str) -> float:
    """Convert an amount to EUR with `rules/fx_rates.yaml`; unknown currency is an InputError."""
    fx = catalogue_for(rules_dir).fx
    code = currency.upper()
    if code not in fx.rates:
        raise InputError(f"no exchange rate for '{currency}'", field="currency")
    return fx.to_eur(amount, code)


class QuoteCost(Protocol):
    """What the margin needs of a quote (a stored Quote or a row being imported)."""

    @property
    def monthly_cost(self) -> float: ...
    @property
    def one_off_cost(self) -> float: ...
    @property
    def currency(self) -> str: ...


# --- current quotes ------------------------------------------------------------------------


def ordered_sites(session: Session, opportunity_id: int) -> list[Site]:
    """The bid's ordered sites in site-id order (the order of every document)."""
    rows = session.exec(
        select(Site).where(Site.opportunity_id == opportunity_id, Site.ordered == True)  # noqa: E712
    ).all()
    return sorted(rows, key=lambda s: _natural_key(s.site_id))


def _natural_key(text: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def current_quotes(session: Session, opportunity_id: int) -> dict[str, Quote]:
    """Per site, the quote that counts: the newest firm one, else the newest budgetary one."""
    rows = session.exec(
        select(Quote).where(Quote.opportunity_id == opportunity_id, Quote.superseded == False)  # noqa: E712
    ).all()
    best: dict[str, Quote] = {}
    for quote in rows:
        held = best.get(quote.site_id)
        if held is None or _rank(quote) > _rank(held):
            best[quote.site_id] = quote
    return best


def _rank(quote: Quote) -> tuple[int, int]:
    """Firm beats budgetary; then the newest row (ids grow; an unsaved row is the newest)."""
    return (1 if quote.kind == "firm" else 0, quote.id if quote.id is not None else 2**62)


# --- QRF planning --------------------------------------------------------------------------


@dataclass(frozen=True)
class QrfLine:
    """One site asked for in a QRF."""

    site_id: str
    name: str
    street: str
    postcode: str
    city: str
    country: str
    bandwidth_mbps: int
    access: str
    service: str
    requested: str  # "budgetary" | "firm"

    def as_row(self) -> dict[str, Any]:
        return {
            "site_id": self.site_id,
            "name": self.name,
            "street": self.street,
            "postcode": self.postcode,
            "city": self.city,
            "country": self.country,
            "bandwidth_mbps": self.bandwidth_mbps,
            "access": self.access,
            "service": self.service,
            "requested": self.requested,
        }


@dataclass(frozen=True)
class QrfGroup:
    """One QRF: the sites of one country quoted by one provider."""

    country: str
    provider: Provider
    lines: tuple[QrfLine, ...]

    @property
    def name(self) -> str:
        return f"qrf-{self.country}-{self.provider.id}"


@dataclass(frozen=True)
class InHouseTask:
    """Sites of one in-house country (BE, NL): quoted by sales support, no outbound QRF."""

    country: str
    lines: tuple[QrfLine, ...]

    @property
    def name(self) -> str:
        return f"internal-quote-task-{self.country}"


@dataclass(frozen=True)
class QrfPlan:
    groups: tuple[QrfGroup, ...]
    in_house: tuple[InHouseTask, ...]
    unserved: tuple[QrfLine, ...]

    @property
    def problems(self) -> list[str]:
        return [
            f"site {line.site_id} ({line.country}, {line.access}): no provider serves it"
            for line in self.unserved
        ]


def plan_qrfs(sites: Sequence[Site], quotes: dict[str, Quote], catalogue: Catalogue) -> QrfPlan:
    """Group sites per country and provider; BE/NL go in-house; unserved sites are listed."""
    groups: dict[tuple[str, str], list[QrfLine]] = {}
    providers: dict[str, Provider] = {}
    in_house: dict[str, list[QrfLine]] = {}
    unserved: list[QrfLine] = []
    for site in sites:
        line = QrfLine(
            site_id=site.site_id,
            name=site.name,
            street=site.street,
            postcode=site.postcode,
            city=site.city,
            country=site.country,
            bandwidth_mbps=site.bandwidth_mbps,
            access=site.access,
            service=site.service,
            requested="firm" if site.site_id in quotes else "budgetary",
        )
        if catalogue.providers.is_in_house(site.country):
            in_house.setdefault(site.country, []).append(line)
            continue
        provider = catalogue.providers.provider_for(site.country, site.access)
        if provider is None:
            unserved.append(line)
            continue
        providers[provider.id] = provider
        groups.setdefault((site.country, provider.id), []).append(line)
    return QrfPlan(
        groups=tuple(
            QrfGroup(country, providers[pid], tuple(lines))
            for (country, pid), lines in sorted(groups.items())
        ),
        in_house=tuple(InHouseTask(c, tuple(lines)) for c, lines in sorted(in_house.items())),
        unserved=tuple(unserved),
    )


# --- margin --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteMargin:
    site_id: str
    revenue_eur: float
    cost_eur: float | None

    @property
    def margin_pct(self) -> float | None:
        if self.cost_eur is None or self.revenue_eur <= 0:
            return None
        return round((self.revenue_eur - self.cost_eur) / self.revenue_eur * 100, 2)


@dataclass(frozen=True)
class BidMargin:
    """Customer price over supplier cost across the contract, for the sites that have quotes."""

    contract_months: int
    sites: tuple[SiteMargin, ...]

    @property
    def total_contract_value_eur(self) -> float:
        return round(sum(s.revenue_eur for s in self.sites), 2)

    @property
    def quoted_revenue_eur(self) -> float:
        return round(sum(s.revenue_eur for s in self.sites if s.cost_eur is not None), 2)

    @property
    def quoted_cost_eur(self) -> float:
        return round(sum(s.cost_eur for s in self.sites if s.cost_eur is not None), 2)

    @property
    def margin_pct(self) -> float | None:
        """None while no site has a quote (the governance table reads that as 'no quotes')."""
        revenue = self.quoted_revenue_eur
        if revenue <= 0:
            return None
        return round((revenue - self.quoted_cost_eur) / revenue * 100, 2)


def compute_margin(
    opportunity: Opportunity,
    sites: Sequence[Site],
    quotes: Mapping[str, QuoteCost],
    catalogue: Catalogue,
) -> BidMargin:
    """Margin per site and per bid; supplier costs converted to EUR with the FX file."""
    months = contract_months(catalogue.prices, opportunity.pricing or {})
    fx = catalogue.fx
    lines: list[SiteMargin] = []
    for site in sites:
        price = customer_price(
            catalogue.prices,
            opportunity.pricing or {},
            site.service,
            site.access,
            site.bandwidth_mbps,
        )
        revenue = price.monthly * months + price.one_off
        quote = quotes.get(site.site_id)
        cost = None
        if quote is not None:
            cost = fx.to_eur(quote.monthly_cost * months + quote.one_off_cost, quote.currency)
        lines.append(SiteMargin(site.site_id, round(revenue, 2), cost))
    return BidMargin(months, tuple(lines))


def bid_margin(session: Session, opportunity: Opportunity, catalogue: Catalogue) -> BidMargin:
    opportunity_id = opportunity.id or 0
    return compute_margin(
        opportunity,
        ordered_sites(session, opportunity_id),
        current_quotes(session, opportunity_id),
        catalogue,
    )


def bid_margin_pct(
    session: Session, opportunity: Opportunity, rules_dir: Path, today: date | None = None
) -> float | None:
    """The bid's margin in percent over its quoted sites; None while nothing is quoted.

    `today` is accepted for symmetry with the status report; expired quotes still count
    (they are flagged by `quote_status`, not dropped from the margin).
    """
    return bid_margin(session, opportunity, catalogue_for(rules_dir)).margin_pct


# --- quote status --------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteQuoteStatus:
    site_id: str
    country: str
    status: str  # "firm" | "budgetary" | "missing" | "expired"
    provider: str | None
    valid_until: date | None
    margin_pct: float | None


@dataclass(frozen=True)
class QuoteStatusReport:
    ref: str
    sites: tuple[SiteQuoteStatus, ...]
    margin: BidMargin

    @property
    def counts(self) -> dict[str, int]:
        counts = {"firm": 0, "budgetary": 0, "missing": 0, "expired": 0}
        for site in self.sites:
            counts[site.status] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "opportunity": self.ref,
            "counts": self.counts,
            "margin_pct": self.margin.margin_pct,
            "total_contract_value_eur": self.margin.total_contract_value_eur,
            "contract_months": self.margin.contract_months,
            "sites": [
                {
                    "site_id": s.site_id,
                    "country": s.country,
                    "status": s.status,
                    "provider": s.provider,
                    "valid_until": s.valid_until.isoformat() if s.valid_until else None,
                    "margin_pct": s.margin_pct,
                }
                for s in self.sites
            ],
        }


def quote_status(
    session: Session, opportunity: Opportunity, catalogue: Catalogue, today: date
) -> QuoteStatusReport:
    """Per ordered site: firm, budgetary, missing or expired; plus the bid margin."""
    opportunity_id = opportunity.id or 0
    sites = ordered_sites(session, opportunity_id)
    quotes = current_quotes(session, opportunity_id)
    margin = compute_margin(opportunity, sites, quotes, catalogue)
    by_site = {m.site_id: m for m in margin.sites}
    lines = []
    for site in sites:
        quote = quotes.get(site.site_id)
        if quote is None:
            status = "missing"
        elif quote.valid_until < today:
            status = "expired"
        else:
            status = quote.kind
        lines.append(
            SiteQuoteStatus(
                site_id=site.site_id,
                country=site.country,
                status=status,
                provider=quote.provider if quote else None,
                valid_until=quote.valid_until if quote else None,
                margin_pct=by_site[site.site_id].margin_pct,
            )
        )
    return QuoteStatusReport(opportunity.ref, tuple(lines), margin)


# --- import --------------------------------------------------------------------------------


class QuoteFileError(InputError):
    """A quote file with one or more bad rows; nothing was imported.

    `errors` holds one InputError per bad row; the message has one line per bad row.
    """

    MAX_LINES = 20

    def __init__(self, errors: list[InputError]) -> None:
        first = errors[0]
        super().__init__(first.detail, file=first.file, row=first.row, field=first.field)
        self.errors = errors
        shown = [str(e) for e in errors[: self.MAX_LINES]]
        if len(errors) > self.MAX_LINES:
            shown.append(f"... and {len(errors) - self.MAX_LINES} more")
        head = f"{len(errors)} bad row(s) in {first.file}, nothing imported"
        self.args = ("\n".join([head, *shown]),)


@dataclass(frozen=True)
class ParsedQuote:
    row: int
    site_id: str
    provider: str
    kind: str
    monthly_cost: float
    one_off_cost: float
    currency: str
    valid_until: date


@dataclass(frozen=True)
class ImportResult:
    imported: int
    firm: int
    budgetary: int
    superseded: int
    expired: tuple[str, ...]
    margin_before: float | None
    margin_after: float | None
    margin_floor_pct: float | None
    invalidated_approvals: tuple[int, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "firm": self.firm,
            "budgetary": self.budgetary,
            "superseded": self.superseded,
            "expired": list(self.expired),
            "margin_before_pct": self.margin_before,
            "margin_after_pct": self.margin_after,
            "margin_floor_pct": self.margin_floor_pct,
            "invalidated_approvals": list(self.invalidated_approvals),
        }


def _number(raw: str, name: str, file: str, row: int) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"'{raw}' is not a number", file=file, row=row, field=name) from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"must be >= 0, got {raw}", file=file, row=row, field=name)
    return value


def parse_quote_file(
    path: Path, site_ids: Iterable[str], catalogue: Catalogue
) -> list[ParsedQuote]:
    """Read and check a quote CSV; any bad row refuses the whole file (QuoteFileError)."""
    file = str(path)
    known_sites = set(site_ids)
    providers = {p.id for p in catalogue.providers.providers} | {IN_HOUSE_PROVIDER}
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=file) from None
    with handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in QUOTE_COLUMNS if c not in header]
        if missing:
            raise InputError(
                f"missing column(s) {', '.join(missing)}", file=file, row=1, field=missing[0]
            )
        reader.fieldnames = header
        errors: list[InputError] = []
        parsed: list[ParsedQuote] = []
        seen: dict[tuple[str, str], int] = {}
        for row_number, raw in enumerate(reader, start=2):
            try:
                quote = _parse_row(raw, row_number, file, known_sites, providers, catalogue)
            except InputError as exc:
                errors.append(exc)
                continue
            key = (quote.site_id, quote.kind)
            if key in seen:
                errors.append(
                    InputError(
                        f"second {quote.kind} quote for site {quote.site_id} "
                        f"(first on row {seen[key]})",
                        file=file,
                        row=row_number,
                        field="site_id",
                    )
                )
                continue
            seen[key] = row_number
            parsed.append(quote)
    if errors:
        raise QuoteFileError(errors)
    if not parsed:
        raise InputError("no quote rows", file=file, row=2)
    return parsed


def _parse_row(
    raw: dict[str, str | None],
    row: int,
    file: str,
    known_sites: set[str],
    providers: set[str],
    catalogue: Catalogue,
) -> ParsedQuote:
    def cell(name: str) -> str:
        value = raw.get(name)
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            raise InputError("is empty", file=file, row=row, field=name)
        return text

    site_id = cell("site_id")
    if site_id not in known_sites:
        raise InputError(
            f"unknown site '{site_id}' for this opportunity", file=file, row=row, field="site_id"
        )
    provider = cell("provider")
    if provider not in providers:
        raise InputError(
            f"unknown provider '{provider}' (see rules/providers.yaml)",
            file=file,
            row=row,
            field="provider",
        )
    kind = cell("kind").lower()
    if kind not in QUOTE_KINDS:
        raise InputError(f"'{kind}' is not budgetary or firm", file=file, row=row, field="kind")
    monthly = _number(cell("monthly_cost"), "monthly_cost", file, row)
    one_off = _number(cell("one_off_cost"), "one_off_cost", file, row)
    currency = cell("currency").upper()
    if currency not in catalogue.fx.rates:
        raise InputError(
            f"'{currency}' has no exchange rate in rules/fx_rates.yaml",
            file=file,
            row=row,
            field="currency",
        )
    raw_date = cell("valid_until")
    try:
        valid_until = date.fromisoformat(raw_date)
    except ValueError:
        raise InputError(
            f"'{raw_date}' is not a date (YYYY-MM-DD)", file=file, row=row, field="valid_until"
        ) from None
    return ParsedQuote(row, site_id, provider, kind, monthly, one_off, currency, valid_until)


MarginFloor = Callable[[str, float, float | None], float]
"""(tier, total contract value EUR, margin %) → the governance margin floor in percent."""


def governance_margin_floor(rules: Any) -> MarginFloor:
    """The floor from the governance decision table, through the rules-engine port."""
    from orchestrator.decisions import governance_requirements

    def floor(tier: str, tcv: float, margin: float | None) -> float:
        decision = governance_requirements(
            rules, tier=tier, total_contract_value_eur=tcv, margin_pct=margin
        )
        return float(decision.outputs["margin_floor_pct"])

    return floor


def import_quotes(
    session: Session,
    opportunity: Opportunity,
    path: Path,
    *,
    actor: str,
    catalogue: Catalogue,
    margin_floor: MarginFloor,
    today: date,
    now: datetime | None = None,
) -> ImportResult:
    """Import a provider quote file into the bid, in the caller's transaction.

    A firm quote supersedes every earlier quote of its site; a budgetary quote supersedes
    earlier budgetary ones (and is itself superseded at once if the site has a firm quote).
    When the file holds firm quotes and the margin drops below the governance floor, granted
    financial approvals become invalidated, a new one is requested, and an audit event says
    why. Expired quotes (valid_until < today) are imported and flagged.
    """
    opportunity_id = opportunity.id or 0
    stamp = now or utcnow()
    sites = ordered_sites(session, opportunity_id)
    all_site_ids = session.exec(
        select(Site.site_id).where(Site.opportunity_id == opportunity_id)
    ).all()
    parsed = parse_quote_file(path, all_site_ids, catalogue)
    before = compute_margin(opportunity, sites, current_quotes(session, opportunity_id), catalogue)

    existing = session.exec(
        select(Quote).where(Quote.opportunity_id == opportunity_id, Quote.superseded == False)  # noqa: E712
    ).all()
    live: dict[str, list[Quote]] = {}
    for quote in existing:
        live.setdefault(quote.site_id, []).append(quote)

    superseded = 0
    firm_sites = {q.site_id for q in parsed if q.kind == "firm"}
    new_rows: list[dict[str, Any]] = []
    fresh: dict[str, QuoteCost] = {}
    for item in sorted(parsed, key=lambda q: (q.kind != "budgetary", q.row)):
        held = live.get(item.site_id, [])
        # a budgetary quote never replaces a firm one, old or in the same file
        dead_on_arrival = item.kind == "budgetary" and (
            item.site_id in firm_sites or any(q.kind == "firm" for q in held)
        )
        for old in held:
            if item.kind == "firm" or old.kind == "budgetary":
                old.superseded = True
                superseded += 1
                session.add(old)
        live[item.site_id] = [q for q in held if not q.superseded]
        if not dead_on_arrival:
            fresh[item.site_id] = item  # it superseded everything still held for its site
        new_rows.append(
            {
                "opportunity_id": opportunity_id,
                "site_id": item.site_id,
                "provider": item.provider,
                "kind": item.kind,
                "monthly_cost": item.monthly_cost,
                "one_off_cost": item.one_off_cost,
                "currency": item.currency,
                "valid_until": item.valid_until,
                "superseded": dead_on_arrival,
                "imported_at": stamp,
            }
        )
    # one multi-row INSERT: thousands of quotes per file, and the ids are not needed here
    session.execute(insert(Quote), new_rows)

    quotes_now: dict[str, QuoteCost] = {
        site_id: max(held, key=_rank) for site_id, held in live.items() if held
    }
    quotes_now.update(fresh)
    after = compute_margin(opportunity, sites, quotes_now, catalogue)
    floor: float | None = None
    invalidated: list[int] = []
    if firm_sites:
        tier = _tier(session, opportunity)
        tcv = _total_contract_value_eur(opportunity, after, catalogue)
        floor = margin_floor(tier, tcv, after.margin_pct)
        new_margin = after.margin_pct
        old_margin = before.margin_pct
        drops = new_margin is not None and new_margin < floor
        worse = old_margin is None or (new_margin is not None and new_margin < old_margin)
        if drops and worse:
            invalidated = _invalidate_financial_approvals(
                session,
                opportunity,
                actor=actor,
                old=old_margin,
                new=new_margin,
                floor=floor,
                now=stamp,
            )
    session.flush()
    return ImportResult(
        imported=len(parsed),
        firm=sum(1 for q in parsed if q.kind == "firm"),
        budgetary=sum(1 for q in parsed if q.kind == "budgetary"),
        superseded=superseded,
        expired=tuple(q.site_id for q in parsed if q.valid_until < today),
        margin_before=before.margin_pct,
        margin_after=after.margin_pct,
        margin_floor_pct=floor,
        invalidated_approvals=tuple(invalidated),
    )


def _total_contract_value_eur(
    opportunity: Opportunity, margin: BidMargin, catalogue: Catalogue
) -> float:
    """The value governance reads: the opportunity's revenue in EUR (as at the review),
    else the contract value of the priced sites."""
    currency = opportunity.currency.upper()
    if opportunity.total_revenue > 0 and currency in catalogue.fx.rates:
        return catalogue.fx.to_eur(opportunity.total_revenue, currency)
    return margin.total_contract_value_eur


def _tier(session: Session, opportunity: Opportunity) -> str:
    account = session.get(Account, opportunity.account_id)
    return account.tier if account is not None else "major"


def _invalidate_financial_approvals(
    session: Session,
    opportunity: Opportunity,
    *,
    actor: str,
    old: float | None,
    new: float | None,
    floor: float,
    now: datetime,
) -> list[int]:
    granted = session.exec(
        select(Approval).where(
            Approval.opportunity_id == opportunity.id,
            Approval.area == Area.FINANCIAL,
            Approval.status == ApprovalStatus.GRANTED,
        )
    ).all()
    if not granted:
        return []
    old_text = "none" if old is None else f"{old:.2f}%"
    reason = (
        f"firm quotes moved the bid margin from {old_text} to {new:.2f}%, "
        f"below the governance floor of {floor:.2f}%"
    )
    ids: list[int] = []
    for approval in granted:
        approval.status = ApprovalStatus.INVALIDATED
        approval.reason = reason
        approval.decided_at = now
        session.add(approval)
        ids.append(approval.id or 0)
    session.add(
        Approval(
            opportunity_id=opportunity.id or 0,
            area=Area.FINANCIAL,
            status=ApprovalStatus.REQUESTED,
            proposal_hash=opportunity.proposal_hash,
            requested_at=now,
            reason=reason,
        )
    )
    session.add(
        AuditEvent(
            opportunity_id=opportunity.id or 0,
            at=now,
            actor=actor,
            from_state=opportunity.state,
            to_state=opportunity.state,
            trigger=APPROVAL_INVALIDATED,
            reason=reason,
            inputs={
                "invalidated_approval_ids": ids,
                "margin_before_pct": old,
                "margin_after_pct": new,
                "margin_floor_pct": floor,
            },
        )
    )
    return ids
