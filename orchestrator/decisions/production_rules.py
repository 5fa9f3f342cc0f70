"""Bid production's process data: its exit criteria, and which change touches which approval.

    rules/production_exit.yaml  what must hold, per account tier, before the governance review
                                starts; who may freeze the solution design
    rules/changes.yaml          for each kind of change and phase of the bid: record it, tell the
                                approvers, ask them again, or refuse it (first matching row)

Both files are rows, so later work adds rows rather than code: a new exit criterion is a row
naming a measure (the measures the bid layer counts are listed in `MEASURES`), a new tier is
a name in `tiers`. Any mistake raises `RuleLoadError` naming the file and the row.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from orchestrator.decisions.rule_files import file_stamp
from orchestrator.errors import RuleLoadError
from orchestrator.store.models import Area, Role, Tier

EXIT_FILE = "production_exit.yaml"
CHANGES_FILE = "changes.yaml"
ANY_TIER = "*"
ANY = "*"
"""A change table row for every change kind or every phase."""

MEASURES: dict[str, str] = {
    "sites_sourced": "sites a provider, the fallback partner or sales support quotes, of all sites",
    "qrfs_sent": "sourced sites asked for in a recorded QRF or internal task (or already quoted)",
    "quoted_sites": "sites with a valid (unexpired) quote, budgetary or firm, of all sites",
    "firm_quotes": "outbound sites (not in-house) with a valid firm quote, of outbound sites",
    "stale_quotes": "sites whose quote priced a spec the site no longer has, of all sites",
    "budgetary_quotes": "sites whose valid quote is only budgetary, of the quoted sites",
    "priced_lines": "lines with a price (list or override), of every site and per-bid line",
    "design_frozen": "1 when the solution design is frozen at its current content",
    "reworked": "1 unless the bid is exactly what governance last rejected",
    "governance_verdict": "1 unless the governance table refuses the priced deal outright",
    "service_strategy": "1 once the service strategy is chosen explicitly (bid service-strategy)",
    "rfp_mandatory_answered": "mandatory questionnaire requirements answered, of all mandatory",
    "exceptions_resolved": "intake exceptions (design tasks, outlier quotes) resolved, of all",
    "rfp_mandatory_reviewed": "mandatory questionnaire requirements whose answer a reviewer "
    "accepted, of all mandatory",
}
"""Every measure an exit criterion may name; the bid layer counts each (a test checks)."""

TEMPLATE_FIELDS = ("id", "done", "total", "missing", "share", "limit", "detail", "ref")
DEFAULT_DONE = "{id}: {done:,} of {total:,}"


@dataclass(frozen=True)
class ExitCriterion:
    """One row of production_exit.yaml."""

    id: str
    tiers: tuple[str, ...]
    measure: str
    open_text: str
    min_share: float | None = None
    max_share: float | None = None
    done_text: str = DEFAULT_DONE

    def applies_to(self, tier: str) -> bool:
        return ANY_TIER in self.tiers or tier in self.tiers

    def holds(self, done: int, total: int) -> bool:
        """Whether `done` of `total` is enough (min_share, default all) or low enough (max)."""
        if self.max_share is not None:
            return done <= self.max_share * total
        return done >= (1.0 if self.min_share is None else self.min_share) * total

    @property
    def limit(self) -> float:
        if self.max_share is not None:
            return self.max_share
        return 1.0 if self.min_share is None else self.min_share


@dataclass(frozen=True)
class ExitRules:
    file: str
    sha256: str
    criteria: tuple[ExitCriterion, ...]
    freeze_roles: dict[str, tuple[str, ...]]
    freeze_requires: tuple[str, ...] = ()
    """Criteria (ids) that must hold before the design may be frozen."""

    def for_tier(self, tier: str) -> tuple[ExitCriterion, ...]:
        return tuple(c for c in self.criteria if c.applies_to(tier))

    def roles_to_freeze(self, tier: str) -> tuple[str, ...]:
        return self.freeze_roles.get(tier) or self.freeze_roles[ANY_TIER]


def _load(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleLoadError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleLoadError(f"{path}: not valid YAML ({exc})".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise RuleLoadError(f"{path}: expected a mapping at the top level")
    return data, hashlib.sha256(text.encode()).hexdigest()


def _names(value: object, path: Path, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise RuleLoadError(f"{path}: {where} must be a non-empty list of names")
    return tuple(value)


def _tiers(value: object, path: Path, where: str) -> tuple[str, ...]:
    """Tier names (or "*"): a misspelt tier would silently never apply."""
    names = _names(value, path, where)
    unknown = sorted(set(names) - {t.value for t in Tier} - {ANY_TIER})
    if unknown:
        raise RuleLoadError(
            f"{path}: {where} names unknown tiers {unknown}; tiers are "
            f"{', '.join(t.value for t in Tier)} or '*'"
        )
    return names


def _share(value: object, path: Path, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise RuleLoadError(f"{path}: {where} must be a share between 0 and 1")
    return float(value)


def _check_template(text: str, path: Path, where: str) -> None:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise RuleLoadError(f"{path}: {where}: {exc}") from None
    unknown = sorted({f for f in fields if f not in TEMPLATE_FIELDS})
    if unknown:
        raise RuleLoadError(
            f"{path}: {where} names {', '.join(unknown)}; it may use {', '.join(TEMPLATE_FIELDS)}"
        )


def parse_exit_rules(path: Path) -> ExitRules:
    """Read and check production_exit.yaml."""
    data, digest = _load(path)
    roles = {r.value for r in Role}
    raw_freeze = (data.get("design_freeze") or {}).get("roles")
    if not isinstance(raw_freeze, dict) or ANY_TIER not in raw_freeze:
        raise RuleLoadError(f"{path}: design_freeze.roles must map tiers (and '*') to roles")
    freeze_roles: dict[str, tuple[str, ...]] = {}
    for tier, names in raw_freeze.items():
        where = f"design_freeze.roles.{tier}"
        _tiers([str(tier)], path, where)
        freeze_roles[str(tier)] = _names(names, path, where)
        unknown = sorted(set(freeze_roles[str(tier)]) - roles)
        if unknown:
            raise RuleLoadError(f"{path}: {where} has unknown roles {unknown}")
    rows = data.get("criteria")
    if not isinstance(rows, list) or not rows:
        raise RuleLoadError(f"{path}: 'criteria' must be a non-empty list")
    criteria: list[ExitCriterion] = []
    for number, row in enumerate(rows, start=1):
        where = f"criteria[{number}]"
        if not isinstance(row, dict):
            raise RuleLoadError(f"{path}: {where} must be a mapping")
        keys = {"id", "tiers", "measure", "open", "done", "min_share", "max_share"}
        unknown_keys = sorted(set(row) - keys)
        if unknown_keys:
            raise RuleLoadError(f"{path}: {where} has unknown keys {unknown_keys}")
        criterion_id = row.get("id")
        if not isinstance(criterion_id, str) or not criterion_id:
            raise RuleLoadError(f"{path}: {where}.id must be a name")
        where = f"criterion '{criterion_id}'"
        if any(c.id == criterion_id for c in criteria):
            raise RuleLoadError(f"{path}: {where} is listed twice")
        measure = row.get("measure")
        if measure not in MEASURES:
            raise RuleLoadError(
                f"{path}: {where}.measure must be one of {', '.join(MEASURES)}, got {measure!r}"
            )
        text = row.get("open")
        if not isinstance(text, str) or not text.strip():
            raise RuleLoadError(f"{path}: {where}.open must say what is missing")
        _check_template(text, path, f"{where}.open")
        done = row.get("done", DEFAULT_DONE)
        if not isinstance(done, str) or not done.strip():
            raise RuleLoadError(f"{path}: {where}.done must say what holds")
        _check_template(done, path, f"{where}.done")
        min_share = _share(row.get("min_share"), path, f"{where}.min_share")
        max_share = _share(row.get("max_share"), path, f"{where}.max_share")
        if min_share is not None and max_share is not None:
            raise RuleLoadError(f"{path}: {where} gives both min_share and max_share")
        criteria.append(
            ExitCriterion(
                id=criterion_id,
                tiers=_tiers(row.get("tiers"), path, f"{where}.tiers"),
                measure=str(measure),
                open_text=text.strip(),
                min_share=min_share,
                max_share=max_share,
                done_text=done.strip(),
            )
        )
    requires = (data.get("design_freeze") or {}).get("requires") or []
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise RuleLoadError(f"{path}: design_freeze.requires must list criterion ids")
    unknown_ids = sorted(set(requires) - {c.id for c in criteria})
    if unknown_ids:
        raise RuleLoadError(f"{path}: design_freeze.requires names unknown criteria {unknown_ids}")
    return ExitRules(path.name, digest, tuple(criteria), freeze_roles, tuple(requires))


# --- the change table ----------------------------------------------------------------------

CHANGE_KINDS = ("quotes", "prices", "sites", "site_details", "terms", "dates")
PHASES = ("production", "review", "submitted", "won", "contracted", "closed", "offer_round")
CONDITIONS = ("always", "margin_down", "below_floor", "negative_margin")
ACTIONS = ("record", "notify", "reapprove", "rework", "hold", "refuse")
ACTION_PHASES = {
    "reapprove": ("review", "won", "offer_round"),
    "rework": ("review",),
    "hold": ("contracted",),
}
"""Where an action can work: approvals are asked where someone can still give them (under
review; after a win, before signing; a new offer round's governance review; a held MACD on
a contracted bid)."""


@dataclass(frozen=True)
class ChangeRule:
    """One row of changes.yaml: what a change of `change` in `phase` does."""

    id: str
    change: str
    phase: str
    when: str
    action: str
    approvals: tuple[str, ...]
    thaws_design: bool
    reason: str | None


@dataclass(frozen=True)
class ChangeTable:
    file: str
    sha256: str
    rules: tuple[ChangeRule, ...]

    def first(self, change: str, phase: str, conditions: frozenset[str]) -> ChangeRule:
        """The first row for this change and phase whose condition holds (one always does)."""
        for rule in self.rules:
            matches = rule.change in (change, ANY) and rule.phase in (phase, ANY)
            if matches and (rule.when == "always" or rule.when in conditions):
                return rule
        raise RuleLoadError(f"{self.file}: no row for a {change} change in {phase}")


def parse_change_table(path: Path) -> ChangeTable:
    """Read and check changes.yaml: every change kind in every phase must end on a row."""
    data, digest = _load(path)
    rows = data.get("rules")
    if not isinstance(rows, list) or not rows:
        raise RuleLoadError(f"{path}: 'rules' must be a non-empty list")
    areas = {a.value for a in Area}
    rules: list[ChangeRule] = []
    for number, row in enumerate(rows, start=1):
        where = f"rules[{number}]"
        if not isinstance(row, dict):
            raise RuleLoadError(f"{path}: {where} must be a mapping")
        allowed = {"id", "change", "phase", "when", "action", "approvals", "thaws_design", "reason"}
        unknown = sorted(set(row) - allowed)
        if unknown:
            raise RuleLoadError(f"{path}: {where} has unknown keys {unknown}")
        rule_id = row.get("id")
        if not isinstance(rule_id, str) or not rule_id or any(r.id == rule_id for r in rules):
            raise RuleLoadError(f"{path}: {where}.id must be a name used once")
        checks = (
            ("change", (*CHANGE_KINDS, ANY)),
            ("phase", (*PHASES, ANY)),
            ("when", CONDITIONS),
            ("action", ACTIONS),
        )
        values: dict[str, str] = {}
        for key, choices in checks:
            value = row.get(key, "always" if key == "when" else None)
            if value not in choices:
                raise RuleLoadError(
                    f"{path}: rule '{rule_id}'.{key} must be one of {', '.join(choices)}, "
                    f"got {value!r}"
                )
            values[key] = str(value)
        approvals = tuple(row.get("approvals") or ())
        if not set(approvals) <= areas:
            raise RuleLoadError(f"{path}: rule '{rule_id}'.approvals names unknown areas")
        if values["action"] in ("notify", "reapprove", "rework", "hold") and not approvals:
            raise RuleLoadError(f"{path}: rule '{rule_id}' must name the approvals it touches")
        phases = ACTION_PHASES.get(values["action"])
        if phases is not None and values["phase"] not in phases:
            raise RuleLoadError(
                f"{path}: rule '{rule_id}' may {values['action']} only in "
                f"{' or '.join(phases)} (elsewhere the approvals could never be given): "
                "use notify, record or refuse"
            )
        reason = row.get("reason")
        if values["action"] == "refuse" and not (isinstance(reason, str) and reason.strip()):
            raise RuleLoadError(f"{path}: rule '{rule_id}' refuses: give the reason users see")
        thaws = row.get("thaws_design", False)
        if not isinstance(thaws, bool):
            raise RuleLoadError(f"{path}: rule '{rule_id}'.thaws_design must be true or false")
        rules.append(
            ChangeRule(
                id=rule_id,
                change=values["change"],
                phase=values["phase"],
                when=values["when"],
                action=values["action"],
                approvals=approvals,
                thaws_design=thaws,
                reason=reason if isinstance(reason, str) else None,
            )
        )
    table = ChangeTable(path.name, digest, tuple(rules))
    for change in CHANGE_KINDS:
        for phase in PHASES:
            table.first(change, phase, frozenset())  # a catch-all row must end every search
    return table


@lru_cache(maxsize=8)
def _exit_rules(path: Path, _stamp: tuple[int, int]) -> ExitRules:
    return parse_exit_rules(path)


@lru_cache(maxsize=8)
def _change_table(path: Path, _stamp: tuple[int, int]) -> ChangeTable:
    return parse_change_table(path)


def load_exit_rules(rules_dir: Path) -> ExitRules:
    """production_exit.yaml under `rules_dir`, re-read when the file changes."""
    path = (rules_dir / EXIT_FILE).resolve()
    return _exit_rules(path, file_stamp(path))


def load_change_table(rules_dir: Path) -> ChangeTable:
    """changes.yaml under `rules_dir`, re-read when the file changes."""
    path = (rules_dir / CHANGES_FILE).resolve()
    return _change_table(path, file_stamp(path))
