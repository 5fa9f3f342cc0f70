"""Reading what users hand in — opportunity YAML, site CSV — into typed, validated objects.

Validation happens here, at the point of entry (the study: errors at the source cost everyone
downstream). Every problem names the file, the row (or YAML line) and the field; a file with
any problem is refused whole.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orchestrator.errors import InputError, InputErrors
from orchestrator.intake.countries import COUNTRY_CODES
from orchestrator.store.models import Access, Role, Service, Source, Tier

# --- opportunity YAML --------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AccountSpec(_Strict):
    name: str = Field(min_length=1)
    tier: Tier


class RevenueSpec(_Strict):
    short_term: float = Field(ge=0)
    medium_term: float = Field(default=0, ge=0)
    long_term: float = Field(default=0, ge=0)


class BantsSpec(_Strict):
    budget_eur: float = Field(ge=0)
    authority: Literal["decision_maker", "influencer", "unknown"]
    need: Literal["clear", "vague", "none"]
    timeframe_months: int = Field(ge=0)
    sales_ready: bool


class PersonSpec(_Strict):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    name: str | None = None
    slack_user_id: str | None = None


class OpportunitySpec(_Strict):
    account: AccountSpec
    title: str = Field(min_length=1)
    source: Source
    rfp_reference: str | None = None
    submission_deadline: date
    decision_date: date | None = None
    estimated_revenue: RevenueSpec
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    team: dict[Role, PersonSpec | str] = Field(default_factory=dict)
    bants: BantsSpec | None = None
    services: list[Service] = Field(min_length=1)
    strategy: str | None = None
    strategic_fit: Literal["high", "medium", "low"] = "medium"
    incumbent: bool = False
    pricing: dict[str, Any] | None = None
    contract_months: int | None = Field(default=None, ge=1, le=120)
    """The contract term; default: `pricing.contract_months`, else the price list's."""
    deviations: list[str] = Field(default_factory=list)
    """Non-standard terms the customer asks for (legal reviews them at governance)."""

    @field_validator("team", mode="before")
    @classmethod
    def _emails_as_people(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"email": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    def team_people(self) -> dict[Role, PersonSpec]:
        return {
            role: spec if isinstance(spec, PersonSpec) else PersonSpec(email=spec)
            for role, spec in self.team.items()
        }


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
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", file=name) from exc
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise InputError(
            f"malformed YAML: {problem}", file=name, row=mark.line + 1 if mark else None
        ) from exc
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
    if spec.submission_deadline < today:
        raise InputError(
            f"submission_deadline {spec.submission_deadline.isoformat()} is in the past",
            file=name,
            row=_line_of(root, ("submission_deadline",)),
            field="submission_deadline",
        )
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
OPTIONAL_SITE_COLUMNS = ("service",)
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


def _site_row(
    row: dict[str, str], line: int, file: str
) -> tuple[SiteSpec | None, list[InputError]]:
    problems: list[InputError] = []

    def bad(field_name: str, message: str) -> None:
        problems.append(InputError(message, file=file, row=line, field=field_name))

    values = {key: (row.get(key) or "").strip() for key in (*SITE_COLUMNS, *OPTIONAL_SITE_COLUMNS)}
    for column in ("site_id", "name", "street", "postcode", "city"):
        if not values[column]:
            bad(column, "is empty")
    country = values["country"].upper()
    if country not in COUNTRY_CODES:
        bad("country", f"'{values['country']}' is not an ISO 3166 alpha-2 country code")
    bandwidth = 0
    try:
        bandwidth = int(values["bandwidth_mbps"])
        if bandwidth <= 0:
            bad("bandwidth_mbps", "must be a positive whole number of Mbit/s")
    except ValueError:
        bad("bandwidth_mbps", f"'{values['bandwidth_mbps']}' is not a whole number")
    if values["access"].lower() not in ACCESS_VALUES:
        bad("access", f"'{values['access']}' is not one of {', '.join(ACCESS_VALUES)}")
    service = values["service"] or Service.MANAGED_NETWORK.value
    if service not in {s.value for s in Service}:
        bad("service", f"'{service}' is not one of {', '.join(s.value for s in Service)}")
    if problems:
        return None, problems
    return (
        SiteSpec(
            site_id=values["site_id"],
            name=values["name"],
            street=values["street"],
            postcode=values["postcode"],
            city=values["city"],
            country=country,
            bandwidth_mbps=bandwidth,
            access=values["access"].lower(),
            service=service,
        ),
        [],
    )


def parse_sites(
    path: Path,
    *,
    existing_ids: Iterable[str] = (),
    on_row: Callable[[int], None] | None = None,
    max_mbps: Callable[[str, str], int | None] | None = None,
) -> list[SiteSpec]:
    """Read and validate a sites CSV; refuse the whole file when any row is wrong.

    `max_mbps(service, access)` is the most the price list sells: a site above it has no
    price, so it is refused here rather than priced 0.00 later."""
    name = str(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", file=name) from exc
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [column for column in SITE_COLUMNS if column not in header]
        if missing:
            raise InputError(f"missing column(s): {', '.join(missing)}", file=name, row=1)
        unknown = [c for c in header if c not in SITE_COLUMNS and c not in OPTIONAL_SITE_COLUMNS]
        if unknown:
            raise InputError(
                f"unknown column(s): {', '.join(unknown)}", file=name, row=1, field=unknown[0]
            )
        seen = {site_id: 0 for site_id in existing_ids}
        sites: list[SiteSpec] = []
        problems: list[InputError] = []
        try:
            for line, row in enumerate(reader, start=2):
                if on_row is not None:
                    on_row(line)
                if None in row:
                    problems.append(InputError("more values than columns", file=name, row=line))
                    continue
                site, row_problems = _site_row(row, line, name)
                problems.extend(row_problems)
                if site is None:
                    continue
                limit = max_mbps(site.service, site.access) if max_mbps else None
                if limit is not None and site.bandwidth_mbps > limit:
                    problems.append(
                        InputError(
                            f"{site.access} is sold up to {limit} Mbps for {site.service} "
                            "(rules/price_list.yaml); choose another access type",
                            file=name,
                            row=line,
                            field="bandwidth_mbps",
                        )
                    )
                    continue
                if site.site_id in seen:
                    where = (
                        f"row {seen[site.site_id]}" if seen[site.site_id] else "already imported"
                    )
                    problems.append(
                        InputError(
                            f"duplicate site id '{site.site_id}' ({where})",
                            file=name,
                            row=line,
                            field="site_id",
                        )
                    )
                    continue
                seen[site.site_id] = line
                sites.append(site)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"malformed CSV: {exc}", file=name, row=reader.line_num) from exc
    if problems:
        raise InputErrors(name, problems)
    if not sites:
        raise InputError("no sites in the file", file=name, row=2)
    return sites
