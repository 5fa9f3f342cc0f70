"""Reading an account file (`bid account import FILE.csv`) into checked rows.

What one row can be checked for is checked here: a name, a known tier, a country code, an
owner's e-mail, segment values and a service level from rules/portfolio.yaml, numbers and
dates, and names that repeat in the file — also when they differ only by case or accents
('Société Générale' and 'SOCIETE GENERALE' are one account). What needs the database
(unknown parents, cycles in the group hierarchy, clashes with stored accounts) is checked by
`orchestrator.bid.customers.accounts.import_accounts`. Every problem is one line naming the file,
the row and the field; a file with any problem is refused whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from orchestrator.decisions.portfolio_rules import SEGMENT_FIELDS, PortfolioRules
from orchestrator.errors import InputError, InputErrors
from orchestrator.intake.countries import COUNTRY_CODES
from orchestrator.intake.files import csv_rows
from orchestrator.intake.limits import date_within
from orchestrator.intake.opportunity import MAX_AMOUNT, MAX_TEXT
from orchestrator.intake.people import EMAIL_PATTERN, MAX_EMAIL
from orchestrator.store.models import Tier
from orchestrator.text import fold_name, has_control_characters

ACCOUNT_COLUMNS = ("name", "tier")
OPTIONAL_ACCOUNT_COLUMNS = (
    "parent",
    "country",
    "owner",
    *SEGMENT_FIELDS,
    "service_level",
    "potential_revenue_eur",
    "competitor",
    "competitor_contract_end",
)
MAX_ACCOUNT_ROWS = 100_000
_EMAIL = re.compile(EMAIL_PATTERN)
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_AMOUNT = re.compile(r"^[0-9]{1,13}(\.[0-9]{1,2})?$")
TIERS = tuple(t.value for t in Tier)


@dataclass(frozen=True)
class AccountRow:
    """One checked row. Empty optional cells are None: an import never clears a field."""

    row: int
    name: str
    tier: str
    parent: str | None = None
    country: str | None = None
    owner: str | None = None
    customer_profile: str | None = None
    purchasing_process: str | None = None
    external_influences: str | None = None
    service_level: str | None = None
    potential_revenue_eur: float | None = None
    competitor: str | None = None
    competitor_contract_end: date | None = None

    @property
    def key(self) -> str:
        return fold_name(self.name)


def _text(value: str, field: str, file: str, row: int) -> str:
    if len(value) > MAX_TEXT:
        raise InputError(f"is longer than {MAX_TEXT} characters", file=file, row=row, field=field)
    if has_control_characters(value):
        raise InputError("contains a control character", file=file, row=row, field=field)
    return value


def _row(
    cells: dict[str, str], number: int, file: str, rules: PortfolioRules
) -> tuple[AccountRow | None, list[InputError]]:
    problems: list[InputError] = []

    def fail(field: str, message: str) -> None:
        problems.append(InputError(message, file=file, row=number, field=field))

    values: dict[str, object] = {}
    for field, raw in cells.items():
        value = " ".join(raw.split())  # one space between words, none around
        if not value:
            continue
        try:
            values[field] = _text(value, field, file, number)
        except InputError as error:
            problems.append(error)
    named = {problem.field for problem in problems}  # refused already: not "empty" too
    name = values.get("name")
    if not name and "name" not in named:
        fail("name", "is empty")
    tier = values.get("tier")
    if not tier and "tier" in named:
        pass
    elif not tier:
        fail("tier", f"is empty; tiers are {', '.join(TIERS)}")
    elif tier not in TIERS:
        fail("tier", f"unknown tier '{tier}'; tiers are {', '.join(TIERS)}")
    if name and values.get("parent") and fold_name(str(values["parent"])) == fold_name(str(name)):
        fail("parent", "an account cannot be its own parent")
    country = values.get("country")
    if country is not None:
        values["country"] = str(country).upper()
        if values["country"] not in COUNTRY_CODES:
            fail("country", f"'{country}' is not an ISO 3166 alpha-2 country code")
    owner = values.get("owner")
    if owner is not None:
        values["owner"] = str(owner).lower()
        if len(str(owner)) > MAX_EMAIL or not _EMAIL.match(str(owner)):
            fail("owner", f"'{owner}' is not an e-mail address")
    for field in SEGMENT_FIELDS:
        segment = values.get(field)
        allowed = rules.segments[field]
        if segment is not None and segment not in allowed:
            fail(
                field,
                f"unknown value '{segment}'; rules/portfolio.yaml allows {', '.join(allowed)}",
            )
    level = values.get("service_level")
    if level is not None and level not in rules.service_levels:
        fail("service_level", f"unknown '{level}'; one of {', '.join(rules.service_levels)}")
    potential = values.get("potential_revenue_eur")
    if potential is not None:
        if not _AMOUNT.match(str(potential)) or float(str(potential)) > MAX_AMOUNT:
            fail("potential_revenue_eur", f"'{potential}' is not an amount in EUR (e.g. 250000)")
        else:
            values["potential_revenue_eur"] = float(str(potential))
    end = values.get("competitor_contract_end")
    if end is not None:
        try:
            if not _DATE.match(str(end)):
                raise ValueError
            values["competitor_contract_end"] = date_within(
                date.fromisoformat(str(end)), date.today(), "competitor_contract_end"
            )
        except ValueError:
            fail("competitor_contract_end", f"'{end}' is not a date like 2027-06-30")
        except InputError as error:
            fail("competitor_contract_end", error.detail)
    if problems:
        return None, problems
    return AccountRow(row=number, **values), []  # type: ignore[arg-type]


def parse_accounts(path: Path, rules: PortfolioRules) -> list[AccountRow]:
    """Read an account CSV: `name,tier` and any of the optional columns, one account a row.

    Refused whole (`InputErrors`, one line per problem) when any row is wrong or a name
    repeats, also when only its case or accents differ."""
    file = str(path)
    header: list[str] | None = None
    rows: list[AccountRow] = []
    problems: list[InputError] = []
    seen: dict[str, AccountRow] = {}
    for number, cells in csv_rows(path):
        if header is None:
            header = [c.strip().lower() for c in cells]
            missing = [c for c in ACCOUNT_COLUMNS if c not in header]
            unknown = [c for c in header if c not in (*ACCOUNT_COLUMNS, *OPTIONAL_ACCOUNT_COLUMNS)]
            if missing or unknown or len(set(header)) != len(header):
                detail = []
                if missing:
                    detail.append(f"missing {', '.join(missing)}")
                if unknown:
                    detail.append(f"unknown {', '.join(unknown)}")
                if len(set(header)) != len(header):
                    detail.append("a column named twice")
                raise InputError(
                    f"header: {'; '.join(detail)} (columns: {', '.join(ACCOUNT_COLUMNS)}, "
                    f"optional: {', '.join(OPTIONAL_ACCOUNT_COLUMNS)})",
                    file=file,
                    row=number,
                )
            continue
        if len(rows) + len(problems) >= MAX_ACCOUNT_ROWS:
            raise InputError(f"more than {MAX_ACCOUNT_ROWS:,} accounts", file=file, row=number)
        if len(cells) != len(header):
            problems.append(
                InputError(
                    f"has {len(cells)} cells for {len(header)} columns", file=file, row=number
                )
            )
            continue
        parsed, found = _row(dict(zip(header, cells, strict=True)), number, file, rules)
        problems += found
        if parsed is None:
            continue
        first = seen.get(parsed.key)
        if first is not None:
            how = (
                "listed twice"
                if first.name == parsed.name
                else "the same account: the names differ only by case or accents"
            )
            problems.append(
                InputError(
                    f"'{parsed.name}' and '{first.name}' (row {first.row}): {how}",
                    file=file,
                    row=number,
                    field="name",
                )
            )
            continue
        seen[parsed.key] = parsed
        rows.append(parsed)
    if header is None:
        raise InputError("is empty (expected a header and one account a row)", file=file)
    if problems:
        raise InputErrors(file, problems)
    return rows
