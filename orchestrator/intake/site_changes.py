"""Reading a delta of a bid's sites: `bid sites update|remove` files, by site id.

An update file has a `site_id` column and any of the sites CSV's other columns; an empty cell
leaves the value as it is. Each row is checked whole, as the site it makes (the checks of
`bid sites import`: postcode of its country, bandwidth its access carries, the contact), and
every problem names the file, the row and the field. A removal file needs only `site_id`
(other site columns may stay: a filtered copy of the sites file will do).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import InputError, InputErrors
from orchestrator.intake.files import csv_rows
from orchestrator.intake.findings import Finding
from orchestrator.intake.opportunity import SiteSpec, site_header, site_row
from orchestrator.intake.site_checks import SiteRules, unknown_format_warning

SITE_FIELDS = (
    "name",
    "street",
    "postcode",
    "city",
    "country",
    "bandwidth_mbps",
    "access",
    "service",
    "contact_name",
    "contact_phone",
    "contact_email",
    "requested_install_date",
    "sla_class",
    "interface",
    "resilience",
)


@dataclass(frozen=True)
class SiteUpdate:
    """One site changed: the site as it becomes, and which fields changed."""

    row: int
    site: SiteSpec
    changed: tuple[str, ...]


@dataclass(frozen=True)
class SiteUpdates:
    file: str
    updates: list[SiteUpdate]
    warnings: list[str] = field(default_factory=list)
    exceptions: list[Finding] = field(default_factory=list)
    """Sites that now ask more than their access carries or the price list sells: changed,
    and each a design task (`bid.intake_tasks`)."""


def _as_cells(site: SiteSpec) -> dict[str, str]:
    return {
        "site_id": site.site_id,
        **{
            name: "" if getattr(site, name) is None else str(getattr(site, name))
            for name in SITE_FIELDS
        },
    }


def read_site_updates(
    path: Path,
    existing: Mapping[str, SiteSpec],
    rules: SiteRules | None = None,
    delivery: Any | None = None,
) -> SiteUpdates:
    """Read an update file against the bid's sites; refuse it whole when a row is wrong,
    names an unknown site, or the file changes nothing."""
    name = str(path)
    rows = csv_rows(path)
    header = site_header(rows, name, ("site_id",))
    if len(header) < 2:
        raise InputError(
            "an update needs a site_id column and the column(s) to change", file=name, row=1
        )
    updates: list[SiteUpdate] = []
    problems: list[InputError] = []
    exceptions: list[Finding] = []
    seen: dict[str, int] = {}
    unknown_formats: dict[str, list[int]] = {}
    for line, cells in rows:
        if len(cells) > len(header):
            problems.append(InputError("more values than columns", file=name, row=line))
            continue
        given = {k: v.strip() for k, v in zip(header, cells, strict=False)}
        site_id = given.get("site_id", "")
        before = existing.get(site_id)
        if before is None:
            problems.append(
                InputError(f"no site '{site_id}' on this bid", file=name, row=line, field="site_id")
            )
            continue
        if site_id in seen:
            problems.append(
                InputError(
                    f"site '{site_id}' is already changed in row {seen[site_id]}",
                    file=name,
                    row=line,
                    field="site_id",
                )
            )
            continue
        seen[site_id] = line
        merged = _as_cells(before)
        merged.update({k: v for k, v in given.items() if v})
        read = site_row(merged, line, name, rules, delivery)
        problems.extend(read.problems)
        if read.site is None:
            continue
        changed = tuple(f for f in SITE_FIELDS if getattr(read.site, f) != getattr(before, f))
        if read.unknown_postcode_format and "postcode" in changed:
            unknown_formats.setdefault(read.site.country, []).append(line)
        if changed:
            updates.append(SiteUpdate(line, read.site, changed))
            exceptions.extend(
                Finding(
                    file=name,
                    row=line,
                    field=found.field,
                    value=merged.get(found.field, ""),
                    kind="exception",
                    rule=found.rule,
                    message=found.message,
                    site_id=read.site.site_id,
                    owner_role=found.owner_role,
                )
                for found in read.exceptions
            )
    if problems:
        raise InputErrors(name, problems, outcome="nothing changed")
    if not updates:
        raise InputError("the file changes nothing on the bid's sites", file=name, row=2)
    warnings = [
        unknown_format_warning(country, lines, name)
        for country, lines in sorted(unknown_formats.items())
    ]
    return SiteUpdates(name, updates, warnings, exceptions)


def read_site_removals(path: Path, existing: Mapping[str, SiteSpec]) -> list[str]:
    """The site ids a removal file names; each must be an ordered site of the bid, once."""
    name = str(path)
    rows = csv_rows(path)
    header = site_header(rows, name, ("site_id",))
    removed: list[str] = []
    problems: list[InputError] = []
    for line, cells in rows:
        given = dict(zip(header, cells, strict=False))
        site_id = (given.get("site_id") or "").strip()
        if site_id not in existing:
            problems.append(
                InputError(f"no site '{site_id}' on this bid", file=name, row=line, field="site_id")
            )
        elif site_id in removed:
            problems.append(
                InputError(f"site '{site_id}' is named twice", file=name, row=line, field="site_id")
            )
        else:
            removed.append(site_id)
    if problems:
        raise InputErrors(name, problems, outcome="nothing changed")
    if not removed:
        raise InputError("no sites in the file", file=name, row=2)
    return removed
