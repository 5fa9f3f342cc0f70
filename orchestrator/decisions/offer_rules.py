"""What we sell and how we pitch it, as data: `rules/delivery.yaml` and `rules/proposal.yaml`.

    rules/delivery.yaml   SLA classes, handover interfaces, resilience, the managed router per
                          band, carrier delivery days, the bid team's calendar country
    rules/proposal.yaml   the service strategies, the proposal sections each one carries,
                          the words of the strategy sections, who we are (name, logo,
                          overview), where accepted answers go, the terms and the offer
                          validity

A mistake raises `RuleLoadError` naming the file and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import RuleLoadError
from orchestrator.store.models import Access

DELIVERY_FILE = "delivery.yaml"
PROPOSAL_FILE = "proposal.yaml"
SECTION_ORDER = (
    "summary",
    "company",
    "solution",
    "quality_of_service",
    "service_levels",
    "cost_breakdown",
    "pricing",
    "transition",
    "compliance",
    "terms",
    "assumptions",
    "acceptance",
)
"""The proposal's sections in the template's order."""
ALWAYS_SECTIONS = (
    "summary",
    "company",
    "solution",
    "service_levels",
    "pricing",
    "transition",
    "terms",
    "assumptions",
    "acceptance",
)
"""Sections every proposal carries, whatever the strategy."""
ANSWER_SECTIONS = ("solution", "service_levels", "transition", "pricing", "terms")
"""The sections accepted answers can be placed in (`answer_sections`); the rest go to
`solution`."""


@dataclass(frozen=True)
class SlaClass:
    name: str
    availability: str
    repair: str
    service_window: str


@dataclass(frozen=True)
class Band:
    up_to_mbps: int
    value: str
    resilient: str = ""


@dataclass(frozen=True)
class Delivery:
    """rules/delivery.yaml."""

    home_country: str
    sla_classes: dict[str, SlaClass]
    default_sla_class: dict[str, str]
    interfaces: tuple[str, ...]
    default_interfaces: tuple[Band, ...]
    resilience: tuple[str, ...]
    default_resilience: str
    cpe: tuple[Band, ...]
    delivery_days: dict[str, int]
    installs_per_day: int
    contract_start_after_decision_days: int

    def sla_class_for(self, access: str, chosen: str | None) -> SlaClass:
        name = chosen or self.default_sla_class.get(access) or next(iter(self.sla_classes))
        return self.sla_classes[name]

    def interface_for(self, bandwidth_mbps: int, chosen: str | None) -> str:
        if chosen:
            return chosen
        for band in self.default_interfaces:
            if bandwidth_mbps <= band.up_to_mbps:
                return band.value
        return self.default_interfaces[-1].value

    def resilience_for(self, chosen: str | None) -> str:
        return chosen or self.default_resilience

    def cpe_for(self, bandwidth_mbps: int, resilience: str) -> str:
        band = next((b for b in self.cpe if bandwidth_mbps <= b.up_to_mbps), self.cpe[-1])
        return band.resilient if resilience != self.default_resilience else band.value

    def delivery_days_for(self, access: str, quoted: int | None) -> int:
        return quoted if quoted is not None else self.delivery_days.get(access, 30)

    wave_stagger_days: int = 10
    """Working days between the starts of two transition waves (one team moves country by
    country)."""


@dataclass(frozen=True)
class Strategy:
    name: str
    label: str
    pitch: str
    sections: tuple[str, ...]


@dataclass(frozen=True)
class Company:
    """Who we are on the proposal's cover and in its company overview."""

    name: str
    logo: str
    """A PNG under templates/ (the cover's logo)."""
    overview: str
    """The overview used when the answer library has no entry tagged `company`."""
    address: str


@dataclass(frozen=True)
class ProposalRules:
    """rules/proposal.yaml."""

    strategies: dict[str, Strategy]
    titles: dict[str, str]
    blocks: dict[str, dict[str, Any]]
    """The words of the strategy sections (service_levels, quality_of_service, cost_breakdown)."""
    company: Company
    answer_sections: dict[str, tuple[str, ...]]
    """Proposal section -> words of a requirement's section or its answer's tags that place
    an accepted answer there (first match in ANSWER_SECTIONS order; else `solution`)."""
    terms: tuple[str, ...]
    """Our standard terms, as the customer reads them."""
    validity_days: int
    """How long the offer stands, in calendar days from its date."""


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuleLoadError(f"{path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise RuleLoadError(f"{path}: not valid YAML ({exc})".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise RuleLoadError(f"{path}: expected a mapping at the top level")
    return data


def _text(value: object, path: Path, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleLoadError(f"{path}: {where} must be a non-empty text")
    return value


def _whole(value: object, path: Path, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RuleLoadError(f"{path}: {where} must be a whole number >= 0")
    return value


def _bands(value: object, path: Path, where: str, key: str) -> tuple[Band, ...]:
    if not isinstance(value, list) or not value:
        raise RuleLoadError(f"{path}: {where} must be a non-empty list of bands")
    bands = []
    for index, row in enumerate(value, start=1):
        if not isinstance(row, dict):
            raise RuleLoadError(f"{path}: {where} band {index} must be a mapping")
        bands.append(
            Band(
                _whole(row.get("up_to_mbps"), path, f"{where} band {index} up_to_mbps"),
                _text(row.get(key), path, f"{where} band {index} {key}"),
                str(row.get("resilient") or row.get(key)),
            )
        )
    return tuple(sorted(bands, key=lambda b: b.up_to_mbps))


def parse_delivery(path: Path) -> Delivery:
    data = _read(path)
    raw_classes = data.get("sla_classes")
    if not isinstance(raw_classes, dict) or not raw_classes:
        raise RuleLoadError(f"{path}: sla_classes must map class names to their levels")
    classes = {}
    for name, row in raw_classes.items():
        if not isinstance(row, dict):
            raise RuleLoadError(f"{path}: sla_classes.{name} must be a mapping")
        classes[str(name)] = SlaClass(
            str(name),
            _text(row.get("availability"), path, f"sla_classes.{name}.availability"),
            _text(row.get("repair"), path, f"sla_classes.{name}.repair"),
            _text(row.get("service_window"), path, f"sla_classes.{name}.service_window"),
        )
    defaults = data.get("default_sla_class") or {}
    if not isinstance(defaults, dict):
        raise RuleLoadError(f"{path}: default_sla_class must map access types to classes")
    for access in Access:
        if defaults.get(access.value) not in classes:
            raise RuleLoadError(
                f"{path}: default_sla_class.{access.value} must be one of {', '.join(classes)}"
            )
    interfaces = data.get("interfaces") or {}
    resilience = data.get("resilience") or {}
    if not isinstance(interfaces, dict) or not isinstance(resilience, dict):
        raise RuleLoadError(f"{path}: interfaces and resilience must be mappings")
    values = tuple(_text(v, path, "interfaces.values") for v in interfaces.get("values") or [])
    default_interfaces = _bands(interfaces.get("default"), path, "interfaces.default", "interface")
    resilience_values = tuple(
        _text(v, path, "resilience.values") for v in resilience.get("values") or []
    )
    default_resilience = _text(resilience.get("default"), path, "resilience.default")
    if default_resilience not in resilience_values:
        raise RuleLoadError(f"{path}: resilience.default must be one of resilience.values")
    delivery_days = data.get("delivery_days") or {}
    if not isinstance(delivery_days, dict):
        raise RuleLoadError(f"{path}: delivery_days must map access types to working days")
    calendar = data.get("calendar") or {}
    home = _text(calendar.get("home_country") if isinstance(calendar, dict) else None, path,
                 "calendar.home_country")  # fmt: skip
    return Delivery(
        home_country=home.upper(),
        sla_classes=classes,
        default_sla_class={str(k): str(v) for k, v in defaults.items()},
        interfaces=tuple(dict.fromkeys(values + tuple(b.value for b in default_interfaces))),
        default_interfaces=default_interfaces,
        resilience=resilience_values,
        default_resilience=default_resilience,
        cpe=_bands(data.get("cpe"), path, "cpe", "model"),
        delivery_days={
            str(k): _whole(v, path, f"delivery_days.{k}") for k, v in delivery_days.items()
        },
        installs_per_day=max(1, _whole(data.get("installs_per_day", 4), path, "installs_per_day")),
        contract_start_after_decision_days=_whole(
            data.get("contract_start_after_decision_days", 10),
            path,
            "contract_start_after_decision_days",
        ),
        wave_stagger_days=_whole(data.get("wave_stagger_days", 10), path, "wave_stagger_days"),
    )


def parse_proposal(path: Path) -> ProposalRules:
    data = _read(path)
    titles = data.get("titles") or {}
    if not isinstance(titles, dict) or set(titles) != set(SECTION_ORDER):
        raise RuleLoadError(f"{path}: titles must name each of {', '.join(SECTION_ORDER)}")
    raw = data.get("strategies")
    if not isinstance(raw, dict) or not raw:
        raise RuleLoadError(f"{path}: strategies must map names to label, pitch and sections")
    strategies = {}
    for name, row in raw.items():
        where = f"strategies.{name}"
        if not isinstance(row, dict):
            raise RuleLoadError(f"{path}: {where} must be a mapping")
        sections = row.get("sections")
        if not isinstance(sections, list) or not set(sections) <= set(SECTION_ORDER):
            raise RuleLoadError(
                f"{path}: {where}.sections must list sections of {', '.join(SECTION_ORDER)}"
            )
        strategies[str(name)] = Strategy(
            str(name),
            _text(row.get("label"), path, f"{where}.label"),
            _text(row.get("pitch"), path, f"{where}.pitch"),
            tuple(str(s) for s in sections),
        )
    blocks = {}
    for key, rows in (("service_levels", "commitments"), ("quality_of_service", "classes"),
                      ("cost_breakdown", "commitments")):  # fmt: skip
        block = data.get(key)
        if not isinstance(block, dict) or not isinstance(block.get(rows), list):
            raise RuleLoadError(f"{path}: {key} must have an intro and {rows}")
        blocks[key] = {
            "intro": _text(block.get("intro"), path, f"{key}.intro"),
            "rows": [
                {
                    "label": _text(r.get("label"), path, f"{key}.{rows}"),
                    "value": _text(r.get("value"), path, f"{key}.{rows}"),
                }
                for r in block[rows]
                if isinstance(r, dict)
            ],
        }
    company = data.get("company")
    if not isinstance(company, dict):
        raise RuleLoadError(f"{path}: company must give name, logo, overview and address")
    placing = data.get("answer_sections") or {}
    if not isinstance(placing, dict) or not set(placing) <= set(ANSWER_SECTIONS):
        raise RuleLoadError(
            f"{path}: answer_sections must map sections of {', '.join(ANSWER_SECTIONS)} to words"
        )
    terms = data.get("terms")
    if not isinstance(terms, list) or not terms:
        raise RuleLoadError(f"{path}: terms must list our standard terms")
    validity = _whole(data.get("offer_validity_days"), path, "offer_validity_days")
    if validity < 1:
        raise RuleLoadError(f"{path}: offer_validity_days must be at least 1")
    return ProposalRules(
        strategies,
        {str(k): str(v) for k, v in titles.items()},
        blocks,
        Company(
            _text(company.get("name"), path, "company.name"),
            _text(company.get("logo"), path, "company.logo"),
            _text(company.get("overview"), path, "company.overview"),
            _text(company.get("address"), path, "company.address"),
        ),
        {str(k): tuple(str(w).lower() for w in (v or [])) for k, v in placing.items()},
        tuple(_text(t, path, "terms") for t in terms),
        validity,
    )


def _stamp(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        raise RuleLoadError(f"{path}: file not found") from None


@lru_cache(maxsize=8)
def _delivery(path: Path, _mtime: float) -> Delivery:
    return parse_delivery(path)


@lru_cache(maxsize=8)
def _proposal(path: Path, _mtime: float) -> ProposalRules:
    return parse_proposal(path)


def load_delivery(rules_dir: Path) -> Delivery:
    """rules/delivery.yaml, read again when it changes."""
    path = (rules_dir / DELIVERY_FILE).resolve()
    return _delivery(path, _stamp(path))


def load_proposal_rules(rules_dir: Path) -> ProposalRules:
    """rules/proposal.yaml, read again when it changes."""
    path = (rules_dir / PROPOSAL_FILE).resolve()
    return _proposal(path, _stamp(path))


def strategy_names(rules_dir: Path) -> tuple[str, ...]:
    return tuple(load_proposal_rules(rules_dir).strategies)
