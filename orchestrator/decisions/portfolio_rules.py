"""rules/portfolio.yaml: the portfolio matrix, tier rules, segments, renewals and packs.

One loader, strict: an unknown tier, service level, measure or key raises `RuleLoadError`
naming the file and the field, so a typo never silently stops a rule from applying.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import RuleLoadError
from orchestrator.store.models import Role, Tier

PORTFOLIO_FILE = "portfolio.yaml"
MEASURES = ("revenue_eur", "potential_eur", "pipeline_eur", "won_12m", "lost_12m")
"""What a tier rule may test (see rules/portfolio.yaml); each as `<measure>_min` / `_max`."""
QUADRANTS = (
    "high_service_high_revenue",
    "low_service_high_revenue",
    "high_service_low_revenue",
    "low_service_low_revenue",
)
SEGMENT_FIELDS = ("customer_profile", "purchasing_process", "external_influences")
PACKS = ("weekly_top_accounts", "qualification")


@dataclass(frozen=True)
class Condition:
    measure: str
    bound: str  # "min" | "max"
    value: float

    def holds(self, measures: dict[str, float]) -> bool:
        actual = measures[self.measure]
        return actual >= self.value if self.bound == "min" else actual <= self.value

    @property
    def text(self) -> str:
        return f"{self.measure} {'>=' if self.bound == 'min' else '<='} {self.value:,.0f}"


@dataclass(frozen=True)
class TierMove:
    """A rule that suggests moving an account between tiers."""

    id: str
    from_tiers: tuple[str, ...]
    to_tier: str
    conditions: tuple[Condition, ...]
    reason: str

    def applies(self, tier: str, measures: dict[str, float]) -> bool:
        return tier in self.from_tiers and all(c.holds(measures) for c in self.conditions)


@dataclass(frozen=True)
class RenewalMilestone:
    name: str
    days_before_end: int
    owner_role: str


@dataclass(frozen=True)
class RenewalRules:
    horizon_days: int
    submission_days_before_end: int
    decision_days_before_end: int
    min_days_to_submit: int
    milestones: tuple[RenewalMilestone, ...]


@dataclass(frozen=True)
class PackRules:
    channel: str | None
    tiers: tuple[str, ...] = ()
    due_within_days: int = 14
    changes_since_days: int = 7
    bid_manager_capacity: int = 4


@dataclass(frozen=True)
class PortfolioRules:
    file: str
    sha256: str
    tiers: tuple[str, ...]
    """Highest first."""
    service_levels: tuple[str, ...]
    """Lowest first."""
    default_service_level: dict[str, str]
    high_service_from: str
    high_revenue_from_eur: float
    quadrants: dict[str, str]
    segments: dict[str, tuple[str, ...]]
    moves: tuple[TierMove, ...]
    renewals: RenewalRules
    wake_before_competitor_end_days: int
    packs: dict[str, PackRules]

    def tier_rank(self, tier: str) -> int:
        """0 for the top tier; larger further down (unknown tiers last)."""
        return self.tiers.index(tier) if tier in self.tiers else len(self.tiers)

    def service_rank(self, level: str) -> int:
        return self.service_levels.index(level)

    def service_level_of(self, tier: str, own: str | None) -> str:
        if own in self.service_levels:
            return str(own)
        return self.default_service_level.get(tier, self.service_levels[0])

    def quadrant(self, service_level: str, potential_eur: float) -> str:
        """The tier the matrix places an account in."""
        high_service = self.service_rank(service_level) >= self.service_rank(self.high_service_from)
        high_revenue = potential_eur >= self.high_revenue_from_eur
        key = (
            f"{'high' if high_service else 'low'}_service_"
            f"{'high' if high_revenue else 'low'}_revenue"
        )
        return self.quadrants[key]

    def suggest(self, tier: str, measures: dict[str, float]) -> TierMove | None:
        return next((m for m in self.moves if m.applies(tier, measures)), None)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> RuleLoadError:
        return RuleLoadError(f"{self.path.name}: {where}: {message}")

    def mapping(self, value: Any, where: str, keys: set[str] | None = None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "must be a mapping")
        if keys is not None and set(value) - keys:
            raise self.fail(where, f"unknown keys {sorted(set(value) - keys)}")
        return value

    def names(self, value: Any, where: str, allowed: set[str] | None = None) -> tuple[str, ...]:
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.fail(where, "must be a non-empty list of names")
        if len(set(value)) != len(value):
            raise self.fail(where, "names a value twice")
        if allowed is not None and set(value) - allowed:
            raise self.fail(where, f"unknown {sorted(set(value) - allowed)}")
        return tuple(value)

    def one_of(self, value: Any, where: str, allowed: tuple[str, ...] | set[str]) -> str:
        if value not in allowed:
            raise self.fail(where, f"must be one of {', '.join(sorted(allowed))}, got {value!r}")
        return str(value)

    def whole(self, value: Any, where: str, low: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(where, f"must be a whole number of at least {low}, got {value!r}")
        return value

    def number(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.fail(where, f"must be a number of at least 0, got {value!r}")
        return float(value)

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "must be a text")
        return value.strip()


TIER_NAMES = {t.value for t in Tier}
ROLE_NAMES = {r.value for r in Role}


def _moves(r: _Reader, raw: Any, tiers: tuple[str, ...]) -> tuple[TierMove, ...]:
    if not isinstance(raw, list):
        raise r.fail("moves", "must be a list")
    moves: list[TierMove] = []
    for number, item in enumerate(raw, start=1):
        where = f"moves[{number}]"
        row = r.mapping(item, where, {"id", "from", "to", "when", "reason"})
        move_id = r.text(row.get("id"), f"{where}.id")
        where = f"move '{move_id}'"
        if any(m.id == move_id for m in moves):
            raise r.fail(where, "is listed twice")
        conditions = []
        for key, value in r.mapping(row.get("when"), f"{where}.when").items():
            measure, _, bound = str(key).rpartition("_")
            if measure not in MEASURES or bound not in ("min", "max"):
                raise r.fail(
                    f"{where}.when.{key}",
                    f"must be <measure>_min or <measure>_max; measures: {', '.join(MEASURES)}",
                )
            conditions.append(Condition(measure, bound, r.number(value, f"{where}.when.{key}")))
        if not conditions:
            raise r.fail(f"{where}.when", "needs at least one condition")
        from_tiers = r.names(row.get("from"), f"{where}.from", set(tiers))
        to_tier = r.one_of(row.get("to"), f"{where}.to", tiers)
        if to_tier in from_tiers:
            raise r.fail(where, "moves a tier to itself")
        moves.append(
            TierMove(
                move_id,
                from_tiers,
                to_tier,
                tuple(conditions),
                r.text(row.get("reason"), f"{where}.reason"),
            )
        )
    return tuple(moves)


def _renewals(r: _Reader, raw: Any) -> RenewalRules:
    keys = {
        "horizon_days",
        "submission_days_before_end",
        "decision_days_before_end",
        "min_days_to_submit",
        "milestones",
    }
    data = r.mapping(raw, "renewals", keys)
    milestones = []
    items = data.get("milestones")
    if not isinstance(items, list):
        raise r.fail("renewals.milestones", "must be a list")
    for number, item in enumerate(items, start=1):
        where = f"renewals.milestones[{number}]"
        row = r.mapping(item, where, {"name", "days_before_end", "owner_role"})
        milestones.append(
            RenewalMilestone(
                r.text(row.get("name"), f"{where}.name"),
                r.whole(row.get("days_before_end"), f"{where}.days_before_end"),
                r.one_of(row.get("owner_role"), f"{where}.owner_role", ROLE_NAMES),
            )
        )
    submission = r.whole(
        data.get("submission_days_before_end"), "renewals.submission_days_before_end"
    )
    decision = r.whole(data.get("decision_days_before_end"), "renewals.decision_days_before_end")
    if decision > submission:
        raise r.fail("renewals", "the decision cannot be expected before the submission")
    return RenewalRules(
        horizon_days=r.whole(data.get("horizon_days"), "renewals.horizon_days", 1),
        submission_days_before_end=submission,
        decision_days_before_end=decision,
        min_days_to_submit=r.whole(
            data.get("min_days_to_submit"), "renewals.min_days_to_submit", 1
        ),
        milestones=tuple(milestones),
    )


def _packs(r: _Reader, raw: Any, tiers: tuple[str, ...]) -> dict[str, PackRules]:
    data = r.mapping(raw, "packs", set(PACKS))
    weekly = r.mapping(
        data.get("weekly_top_accounts"),
        "packs.weekly_top_accounts",
        {"channel", "tiers", "due_within_days", "changes_since_days"},
    )
    qualification = r.mapping(
        data.get("qualification"), "packs.qualification", {"channel", "bid_manager_capacity"}
    )

    def channel(value: Any, where: str) -> str | None:
        if value in (None, ""):
            return None
        return r.text(value, where)

    return {
        "weekly_top_accounts": PackRules(
            channel=channel(weekly.get("channel"), "packs.weekly_top_accounts.channel"),
            tiers=r.names(weekly.get("tiers"), "packs.weekly_top_accounts.tiers", set(tiers)),
            due_within_days=r.whole(
                weekly.get("due_within_days"), "packs.weekly_top_accounts.due_within_days", 1
            ),
            changes_since_days=r.whole(
                weekly.get("changes_since_days"), "packs.weekly_top_accounts.changes_since_days", 1
            ),
        ),
        "qualification": PackRules(
            channel=channel(qualification.get("channel"), "packs.qualification.channel"),
            bid_manager_capacity=r.whole(
                qualification.get("bid_manager_capacity"),
                "packs.qualification.bid_manager_capacity",
                1,
            ),
        ),
    }


def parse_portfolio_rules(path: Path, text: str) -> PortfolioRules:
    r = _Reader(path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleLoadError(f"{path.name}: not valid YAML ({exc})".splitlines()[0]) from None
    top = r.mapping(
        raw,
        "(top level)",
        {
            "tiers",
            "service_levels",
            "default_service_level",
            "matrix",
            "segments",
            "moves",
            "renewals",
            "wake",
            "packs",
        },
    )
    tiers = r.names(top.get("tiers"), "tiers", TIER_NAMES)
    if set(tiers) != TIER_NAMES:
        raise r.fail("tiers", f"must list every tier: {', '.join(sorted(TIER_NAMES))}")
    levels = r.names(top.get("service_levels"), "service_levels")
    defaults = {
        r.one_of(tier, f"default_service_level.{tier}", tiers): r.one_of(
            level, f"default_service_level.{tier}", levels
        )
        for tier, level in r.mapping(
            top.get("default_service_level"), "default_service_level"
        ).items()
    }
    matrix = r.mapping(
        top.get("matrix"), "matrix", {"high_service_from", "high_revenue_from_eur", "quadrants"}
    )
    quadrants = r.mapping(matrix.get("quadrants"), "matrix.quadrants", set(QUADRANTS))
    if set(quadrants) != set(QUADRANTS):
        raise r.fail("matrix.quadrants", f"must name {', '.join(QUADRANTS)}")
    segments = r.mapping(top.get("segments"), "segments", set(SEGMENT_FIELDS))
    wake = r.mapping(top.get("wake"), "wake", {"before_competitor_end_days"})
    return PortfolioRules(
        file=path.name,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        tiers=tiers,
        service_levels=levels,
        default_service_level=defaults,
        high_service_from=r.one_of(
            matrix.get("high_service_from"), "matrix.high_service_from", levels
        ),
        high_revenue_from_eur=r.number(
            matrix.get("high_revenue_from_eur"), "matrix.high_revenue_from_eur"
        ),
        quadrants={
            key: r.one_of(value, f"matrix.quadrants.{key}", tiers)
            for key, value in quadrants.items()
        },
        segments={
            field: r.names(segments.get(field), f"segments.{field}") for field in SEGMENT_FIELDS
        },
        moves=_moves(r, top.get("moves"), tiers),
        renewals=_renewals(r, top.get("renewals")),
        wake_before_competitor_end_days=r.whole(
            wake.get("before_competitor_end_days"), "wake.before_competitor_end_days"
        ),
        packs=_packs(r, top.get("packs"), tiers),
    )


@lru_cache(maxsize=8)
def _cached(path: str, _stamp: tuple[int, int]) -> PortfolioRules:
    file = Path(path)
    return parse_portfolio_rules(file, file.read_text(encoding="utf-8"))


def load_portfolio_rules(rules_dir: Path) -> PortfolioRules:
    """rules_dir/portfolio.yaml, read again when it changed on disk."""
    path = Path(rules_dir) / PORTFOLIO_FILE
    try:
        st = os.stat(path)
    except OSError as exc:
        raise RuleLoadError(f"{PORTFOLIO_FILE}: cannot read {path}: {exc.strerror}") from None
    return _cached(str(path), (st.st_mtime_ns, st.st_size))


@dataclass(frozen=True)
class ProposedMove:
    """A tier move the rules propose for one account, with the measures it rests on (what
    `bid portfolio review` records for management to accept or decline)."""

    account_id: int
    account: str
    rule_id: str
    from_tier: str
    to_tier: str
    reason: str
    measures: dict[str, float]
