"""Reading what users hand in — opportunity YAML, site CSV — into typed, validated objects.

Validation happens here, at the point of entry (the study: errors at the source cost everyone
downstream). Every problem names the file, the row (or YAML line) and the field; a file with
any problem is refused whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from orchestrator.errors import InputError, InputErrors
from orchestrator.intake.countries import COUNTRY_CODES
from orchestrator.intake.files import MAX_CSV_BYTES, load_yaml
from orchestrator.intake.findings import FORMAT_RULE, Finding, Problem
from orchestrator.intake.limits import date_within, sites_within
from orchestrator.intake.people import EMAIL_PATTERN, MAX_EMAIL, MAX_NAME, SLACK_USER_ID_PATTERN
from orchestrator.intake.sheets import Table, csv_table
from orchestrator.intake.site_checks import (
    CONTACT_COLUMNS,
    SiteException,
    SiteRules,
    check_site,
    unknown_format_warning,
)
from orchestrator.store.models import Access, Role, Service, Source, Tier
from orchestrator.text import has_control_characters

# --- opportunity YAML --------------------------------------------------------------------------


MAX_AMOUNT = 1e12
"""Revenue and budgets above a trillion are typing mistakes (and overflow the rules engine)."""
MAX_TEXT = 300
"""Characters of a one-line field (title, account, reference)."""
MAX_STRATEGY = 10_000
MAX_YEARS_AHEAD = 10
MULTILINE_FIELDS = frozenset({"strategy"})


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, allow_inf_nan=False, str_max_length=MAX_TEXT
    )

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text(cls, value: Any, info: ValidationInfo) -> Any:
        """No control characters (NUL, ESC, ...) in text; line breaks only where text runs on."""
        newlines = info.field_name in MULTILINE_FIELDS
        if isinstance(value, str) and has_control_characters(value, newlines=newlines):
            raise ValueError("contains a control character")
        return value


class AccountSpec(_Strict):
    name: str = Field(min_length=1)
    tier: Tier
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    """Where the account is served from (ISO 3166 alpha-2): the monthly review's BE/NL split."""
    customer_profile: str | None = Field(default=None, min_length=1)
    purchasing_process: str | None = Field(default=None, min_length=1)
    external_influences: str | None = Field(default=None, min_length=1)
    """The buying-model segment; the values rules/portfolio.yaml allows (checked at creation)."""

    @field_validator("country", mode="after")
    @classmethod
    def _country_code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.upper() not in COUNTRY_CODES:
            raise ValueError(f"'{value}' is not an ISO 3166 alpha-2 country code")
        return value.upper()

    def profile(self) -> dict[str, str]:
        """The country and segment the file gives (what a new account takes)."""
        names = ("country", "customer_profile", "purchasing_process", "external_influences")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


class RevenueSpec(_Strict):
    short_term: float = Field(ge=0, le=MAX_AMOUNT)
    medium_term: float = Field(default=0, ge=0, le=MAX_AMOUNT)
    long_term: float = Field(default=0, ge=0, le=MAX_AMOUNT)


class BantsSpec(_Strict):
    budget_eur: float = Field(ge=0, le=MAX_AMOUNT)
    authority: Literal["decision_maker", "influencer", "unknown"]
    need: Literal["clear", "vague", "none"]
    timeframe_months: int = Field(ge=0, le=1200)
    sales_ready: bool


class PersonSpec(_Strict):
    email: str = Field(pattern=EMAIL_PATTERN, max_length=MAX_EMAIL)
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    slack_user_id: str | None = Field(default=None, pattern=SLACK_USER_ID_PATTERN)


class OrderSpec(_Strict):
    """What provisioning needs from the customer (optional; `bid order details` after a win)."""

    legal_entity: str | None = Field(default=None, min_length=1)
    billing_entity: str | None = Field(default=None, min_length=1)
    purchase_order: str | None = Field(default=None, min_length=1)
    contract_start: date | None = None


class OpportunitySpec(_Strict):
    account: AccountSpec
    title: str = Field(min_length=1)
    source: Source
    rfp_reference: str | None = None
    submission_deadline: date
    decision_date: date | None = None
    estimated_revenue: RevenueSpec
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    team: dict[Role, PersonSpec] = Field(default_factory=dict)
    """Each role's person: an e-mail, or a mapping with email, name and slack_user_id."""
    bants: BantsSpec | None = None
    services: list[Service] = Field(min_length=1)
    strategy: str | None = Field(default=None, max_length=MAX_STRATEGY)
    strategic_fit: Literal["high", "medium", "low"] = "medium"
    incumbent: bool = False
    pricing: dict[str, Any] | None = None
    contract_months: int | None = Field(default=None, ge=1, le=120)
    """The contract term; default: `pricing.contract_months`, else the price list's."""
    deviations: list[str] = Field(default_factory=list)
    """Non-standard terms the customer asks for (legal reviews them at governance)."""
    service_strategy: str | None = Field(default=None, pattern=r"^[a-z_]{1,40}$")
    """How we sell: a strategy of rules/proposal.yaml (or later: bid service-strategy)."""
    win_themes: list[str] = Field(default_factory=list, max_length=10)
    order: OrderSpec | None = None

    @field_validator("team", mode="before")
    @classmethod
    def _emails_as_people(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"email": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    _file: str | None = PrivateAttr(default=None)
    _root: yaml.Node | None = PrivateAttr(default=None)

    def team_people(self) -> dict[Role, PersonSpec]:
        return dict(self.team)

    def where(self, *path: str) -> dict[str, Any]:
        """The file, line and field of a value, for an `InputError` raised after parsing
        (a conflict found against the database)."""
        line = _line_of(self._root, path) if self._root is not None else None
        return {"file": self._file, "row": line, "field": ".".join(path)}

    def from_file(self, file: str, root: yaml.Node | None) -> OpportunitySpec:
        self._file, self._root = file, root
        return self


def _line_of(node: yaml.Node | None, path: tuple[str | int, ...]) -> int | None:
    """The 1-based line of a field in the YAML source, to point the user at it."""
    for key in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
    return node.start_mark.line + 1 if node is not None else None


def parse_opportunity(path: Path, today: date) -> OpportunitySpec:
    """Read an opportunity YAML file; raise `InputError` naming file, line and field."""
    name = str(path)
    data, root = load_yaml(path)
    if not isinstance(data, dict):
        raise InputError("expected a mapping of fields at the top level", file=name)
    try:
        spec = OpportunitySpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(part for part in error["loc"] if part != "[key]")
            field_name = ".".join(str(part) for part in loc) or "(top)"
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown field"
            problems.append(
                InputError(message, file=name, row=_line_of(root, loc), field=field_name)
            )
        raise InputErrors(name, problems) from None
    if spec.pricing is not None:
        from orchestrator.decisions.catalogue import validate_pricing

        spec = spec.model_copy(update={"pricing": validate_pricing(spec.pricing, name)})
    spec = spec.from_file(name, root)
    if spec.submission_deadline < today:
        raise InputError(
            f"submission_deadline {spec.submission_deadline.isoformat()} is in the past",
            file=name,
            row=_line_of(root, ("submission_deadline",)),
            field="submission_deadline",
        )
    horizon = date(min(today.year + MAX_YEARS_AHEAD, 9999), 12, 31)
    for field_name in ("submission_deadline", "decision_date"):
        value = getattr(spec, field_name)
        if value is not None and value > horizon:
            raise InputError(
                f"{value.isoformat()} is more than {MAX_YEARS_AHEAD} years ahead",
                file=name,
                row=_line_of(root, (field_name,)),
                field=field_name,
            )
    if spec.order is not None and spec.order.contract_start is not None:
        try:
            date_within(spec.order.contract_start, today, "order.contract_start")
        except InputError as error:
            raise InputError(
                error.detail,
                file=name,
                row=_line_of(root, ("order", "contract_start")),
                field="order.contract_start",
            ) from None
    if spec.decision_date is not None and spec.decision_date < spec.submission_deadline:
        raise InputError(
            "decision_date falls before the submission_deadline",
            file=name,
            row=_line_of(root, ("decision_date",)),
            field="decision_date",
        )
    return spec


# --- sites CSV ---------------------------------------------------------------------------------

SITE_COLUMNS = (
    "site_id",
    "name",
    "street",
    "postcode",
    "city",
    "country",
    "bandwidth_mbps",
    "access",
)
OPTIONAL_SITE_COLUMNS = (
    "service",
    *CONTACT_COLUMNS,
    "requested_install_date",
    "sla_class",
    "interface",
    "resilience",
)
"""Columns a sites CSV may add; the delivery ones default from rules/delivery.yaml."""
ACCESS_VALUES = tuple(a.value for a in Access)


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
    service: str = Service.MANAGED_NETWORK.value
    # the site contact (optional columns, checked in intake/site_checks.py)
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    # delivery (optional columns; rules/delivery.yaml gives the defaults)
    requested_install_date: date | None = None
    sla_class: str | None = None
    interface: str | None = None
    resilience: str | None = None


SITE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
"""Letters, digits and `._-`, starting with a letter or digit: a site id never starts a
spreadsheet formula, so a QRF written and read back names the same site."""
MAX_BANDWIDTH_MBPS = 100_000
_WHOLE_NUMBER = re.compile(r"^[0-9]{1,9}$")


@dataclass(frozen=True)
class SiteRow:
    """One row read: the site (None when refused), its problems, and whether its country's
    postcode format is unknown (taken, with a warning)."""

    site: SiteSpec | None
    problems: list[InputError]
    unknown_postcode_format: bool = False
    exceptions: tuple[SiteException, ...] = ()


def site_row(
    row: dict[str, str],
    line: int,
    file: str,
    rules: SiteRules | None = None,
    delivery: Any | None = None,
) -> SiteRow:
    """Validate one row of a sites CSV (every problem names file, row and field); `delivery`
    (rules/delivery.yaml) names the SLA classes, interfaces and resilience a site may ask for."""
    rules = rules or SiteRules()
    problems: list[InputError] = []

    def bad(field_name: str, message: str) -> None:
        problems.append(InputError(message, file=file, row=line, field=field_name))

    values = {key: (row.get(key) or "").strip() for key in (*SITE_COLUMNS, *OPTIONAL_SITE_COLUMNS)}
    for column in ("site_id", "name", "street", "city"):
        if not values[column]:
            bad(column, "is empty")
    for column in ("site_id", "name", "street", "postcode", "city", *CONTACT_COLUMNS):
        if has_control_characters(values[column]):
            bad(column, "contains a control character")
        elif len(values[column]) > MAX_TEXT:
            bad(column, f"is longer than {MAX_TEXT} characters")
    if values["site_id"] and not problems and not SITE_ID_PATTERN.match(values["site_id"]):
        bad(
            "site_id",
            f"'{values['site_id']}' may hold only letters, digits and ._- (starting with a "
            "letter or digit, at most 64)",
        )
    country = values["country"].upper()
    if country not in COUNTRY_CODES:
        bad("country", f"'{values['country']}' is not an ISO 3166 alpha-2 country code")
    bandwidth = 0
    if _WHOLE_NUMBER.match(values["bandwidth_mbps"]):
        bandwidth = int(values["bandwidth_mbps"])
        if not 1 <= bandwidth <= MAX_BANDWIDTH_MBPS:
            bad(
                "bandwidth_mbps",
                f"must be a whole number of Mbit/s from 1 to {MAX_BANDWIDTH_MBPS:,}",
            )
    else:
        bad("bandwidth_mbps", f"'{values['bandwidth_mbps']}' is not a whole number of Mbit/s")
    access = values["access"].lower()
    if access not in ACCESS_VALUES:
        bad("access", f"'{values['access']}' is not one of {', '.join(ACCESS_VALUES)}")
    service = values["service"] or Service.MANAGED_NETWORK.value
    if service not in {s.value for s in Service}:
        bad("service", f"'{service}' is not one of {', '.join(s.value for s in Service)}")
    delivery_values = _delivery_fields(values, bad, delivery)
    if problems:
        return SiteRow(None, problems)
    verdict = check_site(
        country=country,
        postcode=values["postcode"],
        access=access,
        service=service,
        bandwidth_mbps=bandwidth,
        contact={column: values[column] for column in CONTACT_COLUMNS},
        rules=rules,
    )
    for field_name, message in verdict.problems:
        bad(field_name, message)
    if problems:
        return SiteRow(None, problems)
    site = SiteSpec(
        site_id=values["site_id"],
        name=values["name"],
        street=values["street"],
        postcode=verdict.values["postcode"] or "",
        city=values["city"],
        country=country,
        bandwidth_mbps=bandwidth,
        access=access,
        service=service,
        contact_name=verdict.values["contact_name"],
        contact_phone=verdict.values["contact_phone"],
        contact_email=verdict.values["contact_email"],
        **delivery_values,
    )
    return SiteRow(site, [], verdict.unknown_postcode_format, tuple(verdict.exceptions))


_DELIVERY_TOKEN = re.compile(r"^[A-Za-z0-9 ()+./_-]{1,60}$")


def _delivery_fields(
    values: dict[str, str], bad: Callable[[str, str], None], delivery: Any | None
) -> dict[str, Any]:
    """requested_install_date, sla_class, interface, resilience: checked against
    rules/delivery.yaml (`delivery`) when given; empty means the rules' default."""
    found: dict[str, Any] = {}
    raw_date = values.get("requested_install_date", "")
    if raw_date:
        try:
            found["requested_install_date"] = date_within(
                date.fromisoformat(raw_date), date.today(), "requested_install_date"
            )
        except ValueError:
            bad("requested_install_date", f"'{raw_date[:40]}' is not a date (YYYY-MM-DD)")
        except InputError as error:
            bad("requested_install_date", error.detail)
    allowed = {
        "sla_class": tuple(delivery.sla_classes) if delivery else None,
        "interface": delivery.interfaces if delivery else None,
        "resilience": delivery.resilience if delivery else None,
    }
    for name, choices in allowed.items():
        value = values.get(name, "")
        if not value:
            continue
        if choices is not None and value not in choices:
            bad(name, f"'{value[:40]}' is not one of {', '.join(choices)} (rules/delivery.yaml)")
        elif not _DELIVERY_TOKEN.match(value):
            bad(name, f"'{value[:40]}' is not a valid {name}")
        else:
            found[name] = value
    return found


def site_header(
    rows: Iterator[tuple[int, list[str]]], name: str, required: Iterable[str]
) -> list[str]:
    """The header of a sites CSV: every `required` column there, no unknown one."""
    _, header = next(rows, (1, []))
    return check_site_header([column.strip() for column in header], name, required, 1)


def check_site_header(
    header: list[str], name: str, required: Iterable[str], row: int = 1
) -> list[str]:
    """`header` when it names every `required` column and no unknown one."""
    missing = [column for column in required if column not in header]
    if missing:
        raise InputError(f"missing column(s): {', '.join(missing)}", file=name, row=row)
    unknown = [c for c in header if c and c not in SITE_COLUMNS and c not in OPTIONAL_SITE_COLUMNS]
    if unknown:
        raise InputError(
            f"unknown column(s): {', '.join(unknown)}", file=name, row=row, field=unknown[0]
        )
    return header


@dataclass(frozen=True)
class SitesRead:
    """A sites file read whole: its sites, the warnings that did not refuse it, and the
    exceptions (plausible sites a person must decide on, imported with them)."""

    sites: list[SiteSpec]
    warnings: list[str]
    exceptions: list[Finding] = field(default_factory=list)


_RULE_FILES = {
    "rules/access_limits.yaml": "access_limits",
    "rules/price_list.yaml": "price_list.above_sold",
    "rules/delivery.yaml": "delivery",
}


def _rule_of(message: str) -> str:
    """The rule a problem's message names (a file under rules/), else the column checks'."""
    return next((rule for file, rule in _RULE_FILES.items() if file in message), FORMAT_RULE)


def _cells_by_column(header: list[str], cells: list[str]) -> dict[str, str]:
    """A row's cells by column name; a column named twice (a merged header) reads its first."""
    row: dict[str, str] = {}
    for column, cell in zip(header, cells, strict=False):
        if column and column not in row:
            row[column] = cell
    return row


def read_sites(
    path: Path,
    *,
    existing_ids: Iterable[str] = (),
    on_row: Callable[[int], None] | None = None,
    max_mbps: Callable[[str, str], int | None] | None = None,
    rules: SiteRules | None = None,
    delivery: Any | None = None,
    table: Table | None = None,
) -> SitesRead:
    """Read and validate a sites file — a CSV, or the `table` read from it already (an .xlsx
    workbook's sheet: `intake.workbooks.read_table`); refuse the whole file when any row has
    a problem, naming every bad row.

    `rules` (from the catalogue) give the postcode overrides, the access types' limits and
    what the price list sells (`max_mbps(service, access)`); a site above them is an
    exception (taken, listed in `exceptions`) or a problem, as the rule's `kind` says."""
    name = str(path)
    rules = rules or SiteRules(max_mbps=max_mbps)
    table = table or csv_table(path, max_bytes=MAX_CSV_BYTES)
    header = check_site_header(table.header, name, SITE_COLUMNS, table.header_row)
    seen = {site_id: 0 for site_id in existing_ids}
    held = len(seen)
    sites: list[SiteSpec] = []
    problems: list[InputError] = []
    exceptions: list[Finding] = []
    unknown_formats: dict[str, list[int]] = {}
    for count, (line, cells) in enumerate(table.rows, start=1):
        if on_row is not None:
            on_row(line)
        sites_within(held + count, file=name, row=line)  # rows after the header, so far
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            problems.append(Problem("more values than columns", file=name, row=line))
            continue
        values = _cells_by_column(header, cells)
        read = site_row(values, line, name, rules, delivery)
        problems.extend(
            Problem(
                p.detail,
                file=name,
                row=p.row,
                field=p.field,
                value=(values.get(p.field or "") or "")[:200],
                rule=_rule_of(p.detail),
            )
            for p in read.problems
        )
        site = read.site
        if site is None:
            continue
        if site.site_id in seen:
            where = f"row {seen[site.site_id]}" if seen[site.site_id] else "already imported"
            problems.append(
                Problem(
                    f"duplicate site id '{site.site_id}' ({where})",
                    file=name,
                    row=line,
                    field="site_id",
                    value=site.site_id,
                    rule="duplicate_site_id",
                )
            )
            continue
        if read.unknown_postcode_format:
            unknown_formats.setdefault(site.country, []).append(line)
        seen[site.site_id] = line
        sites.append(site)
        exceptions.extend(
            Finding(
                file=name,
                row=line,
                field=found.field,
                value=values.get(found.field, ""),
                kind="exception",
                rule=found.rule,
                message=found.message,
                site_id=site.site_id,
                owner_role=found.owner_role,
            )
            for found in read.exceptions
        )
    if problems:
        refused = InputErrors(name, problems)
        refused.also = tuple(exceptions)
        raise refused
    if not sites:
        raise InputError("no sites in the file", file=name, row=table.header_row + 1)
    warnings = [
        unknown_format_warning(country, lines, name)
        for country, lines in sorted(unknown_formats.items())
    ]
    return SitesRead(sites, warnings, exceptions)


def parse_sites(
    path: Path,
    *,
    existing_ids: Iterable[str] = (),
    on_row: Callable[[int], None] | None = None,
    max_mbps: Callable[[str, str], int | None] | None = None,
    rules: SiteRules | None = None,
    delivery: Any | None = None,
) -> list[SiteSpec]:
    """The sites of a sites CSV (`read_sites` without its warnings)."""
    return read_sites(
        path,
        existing_ids=existing_ids,
        on_row=on_row,
        max_mbps=max_mbps,
        rules=rules,
        delivery=delivery,
    ).sites
