"""Reading a provider's quote file: the columns, the checks per row, all rows or none.

Every row is checked against the bid's sites, `rules/providers.yaml` and
`rules/fx_rates.yaml`; any bad row refuses the whole file with one line per bad row
(`InputErrors`). Nothing here touches the database.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from orchestrator.decisions.catalogue import IN_HOUSE_PROVIDER, Catalogue
from orchestrator.errors import InputError, InputErrors
from orchestrator.intake.files import csv_rows
from orchestrator.intake.limits import date_within
from orchestrator.store.models import QuoteKind
from orchestrator.text import has_control_characters

QUOTE_COLUMNS = (
    "site_id",
    "provider",
    "kind",
    "monthly_cost",
    "one_off_cost",
    "currency",
    "valid_until",
)
OPTIONAL_QUOTE_COLUMNS = ("provider_reference", "delivery_days")
"""The carrier's own quote reference, and its delivery lead time in working days."""
QUOTED_SPEC_COLUMNS = (
    "access",
    "bandwidth_mbps",
    "service",
    "street",
    "city",
    "country",
    "sla_class",
)
"""The site spec a QRF asked for, as its CSV carries it back: when a returned row keeps
them, they must still be the site's spec (`commercial.quote_checks`). A postcode correction
keeps a quote: it is not checked."""
QUOTE_KINDS = tuple(kind.value for kind in QuoteKind)
MAX_DELIVERY_DAYS = 1000


@dataclass(frozen=True)
class ParsedQuote:
    row: int
    site_id: str
    provider: str
    kind: QuoteKind
    monthly_cost: float
    one_off_cost: float
    currency: str
    valid_until: date
    provider_reference: str | None = None
    delivery_days: int | None = None
    spec: tuple[tuple[str, str], ...] = ()
    """The spec columns the row carries (name, value as written), as the QRF asked."""


MAX_COST = 1e9
"""A site's monthly or one-off cost above a billion is a typing mistake."""
_DECIMAL = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,6})?$")


def _number(raw: str, name: str, file: str, row: int) -> float:
    if not _DECIMAL.match(raw):
        raise InputError(
            f"'{raw[:40]}' is not an amount like 1234.50", file=file, row=row, field=name
        )
    value = float(raw)
    if not math.isfinite(value) or not 0 <= value <= MAX_COST:
        raise InputError(f"must be from 0 to {MAX_COST:,.0f}", file=file, row=row, field=name)
    return value


def parse_quote_file(
    path: Path, site_ids: Iterable[str], catalogue: Catalogue, *, today: date | None = None
) -> list[ParsedQuote]:
    """Read and check a quote CSV; any bad row refuses the whole file (InputErrors). A quote
    valid beyond the limit for dates (ten years from `today`) is refused as a typo."""
    file = str(path)
    known_sites = set(site_ids)
    providers = {p.id for p in catalogue.providers.providers} | {IN_HOUSE_PROVIDER}
    rows = csv_rows(path)
    _, cells = next(rows, (1, []))
    header = [h.strip() for h in cells]
    missing = [c for c in QUOTE_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}", file=file, row=1, field=missing[0]
        )
    errors: list[InputError] = []
    parsed: list[ParsedQuote] = []
    seen: dict[tuple[str, str], int] = {}
    for row_number, values in rows:
        if len(values) > len(header):
            errors.append(InputError("more values than columns", file=file, row=row_number))
            continue
        raw: dict[str, str | None] = dict(zip(header, values, strict=False))
        try:
            quote = _parse_row(raw, row_number, file, known_sites, providers, catalogue)
            date_within(
                quote.valid_until,
                today or date.today(),
                "valid_until",
                file=file,
                row=row_number,
            )
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
        raise InputErrors(file, errors)
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
    raw_kind = cell("kind").lower()
    if raw_kind not in QUOTE_KINDS:
        raise InputError(f"'{raw_kind}' is not budgetary or firm", file=file, row=row, field="kind")
    kind = QuoteKind(raw_kind)
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
    reference = (raw.get("provider_reference") or "").strip() or None
    if reference is not None and (len(reference) > 100 or has_control_characters(reference)):
        raise InputError(
            "must be at most 100 characters, without control characters",
            file=file,
            row=row,
            field="provider_reference",
        )
    raw_days = (raw.get("delivery_days") or "").strip()
    days = None
    if raw_days:
        if not raw_days.isdigit() or not 0 < int(raw_days) <= MAX_DELIVERY_DAYS:
            raise InputError(
                f"'{raw_days[:20]}' is not a number of working days from 1 to {MAX_DELIVERY_DAYS}",
                file=file,
                row=row,
                field="delivery_days",
            )
        days = int(raw_days)
    spec = tuple(
        (name, value.strip())
        for name in QUOTED_SPEC_COLUMNS
        if isinstance(value := raw.get(name), str) and value.strip()
    )
    return ParsedQuote(
        row, site_id, provider, kind, monthly, one_off, currency, valid_until, reference, days, spec
    )
