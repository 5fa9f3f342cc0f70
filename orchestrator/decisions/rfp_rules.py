"""RFP questionnaires as data: `rules/rfp.yaml`, loaded and validated in one place.

How a customer's file is read (which header names mean which field, what a mandatory or a
compliance cell may hold), who answers a requirement (section → role), the milestone the
answers are due by, and the answer library's settings. A mistake names the file and key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import RuleLoadError
from orchestrator.store.models import Compliance, Role

RFP_FILE = "rfp.yaml"
FIELDS = ("id", "section", "text", "mandatory", "answer", "compliance")
REQUIRED_FIELDS = ("id", "text")


def squeeze(text: object) -> str:
    """A header or cell compared the way people read it: trimmed, lower case, one space."""
    return " ".join(str(text if text is not None else "").split()).lower()


@dataclass(frozen=True)
class OwnerRule:
    pattern: re.Pattern[str]
    owner_role: str


@dataclass(frozen=True)
class MatchSettings:
    """How the matcher fuses its views and calibrates (rules/rfp.yaml `library.match`)."""

    bm25: float = 0.45
    embedding: float = 0.35
    fuzzy: float = 0.20
    answer_weight: float = 0.3
    """BM25 over the answer text counts this much of BM25 over question and tags."""
    bm25_half: float = 4.0
    """The BM25 score that counts as half a lexical match (score / (score + bm25_half))."""
    embedding_floor: float = 0.2
    embedding_ceiling: float = 0.8
    """Cosine similarities mapped onto 0-1 between these two."""
    shortlist: float = 20
    """Answers per requirement scored in full (a whole number)."""
    slope: float = 12.0
    midpoint: float = 0.6
    lead: float = 10.0
    """The confidence: 100 x sigmoid(slope x (relevance - midpoint) + lead x lead over the
    next answer)."""


@dataclass(frozen=True)
class LibrarySettings:
    review_months: int
    suggestions: int
    min_score: float
    won_boost: float
    max_boost: float
    stale_penalty: float
    auto_accept: float = 80.0
    """The calibrated confidence from which `bid rfp suggest --accept` answers on its own."""
    match: MatchSettings = MatchSettings()


SPLIT = re.compile(r"[a-z0-9]+")
"""The words of a text as the synonyms compare them: letters and digits, any other
character a break ("cut-over" is "cut over", "ISO/IEC" is "iso iec")."""


@dataclass(frozen=True)
class Synonyms:
    """Groups of words that mean one thing (rules/synonyms.yaml): each phrase is read as its
    group's first phrase, written as one word ("repair time" is `repair_time`)."""

    file: str
    groups: tuple[tuple[str, ...], ...]

    def words(self, text: str) -> list[str]:
        """The words of `text` in lower case, every synonym replaced by its group's word (the
        longest phrase first, left to right)."""
        canon, sizes = _synonym_table(self.groups)
        found = SPLIT.findall(text.lower())
        if not canon:
            return found
        out: list[str] = []
        index, total = 0, len(found)
        while index < total:
            for size in sizes.get(found[index], ()):
                if index + size > total:
                    continue
                word = canon.get(" ".join(found[index : index + size]))
                if word is not None:
                    out.append(word)
                    index += size
                    break
            else:
                out.append(found[index])
                index += 1
        return out

    def canonical(self, text: str) -> str:
        """`text` as the matcher reads it: its words, synonyms replaced, one space apart."""
        return " ".join(self.words(text))


@lru_cache(maxsize=16)
def _synonym_table(
    groups: tuple[tuple[str, ...], ...],
) -> tuple[dict[str, str], dict[str, tuple[int, ...]]]:
    """Phrase (its words, one space apart) → the group's word; and per first word, the
    lengths of the phrases starting with it, longest first."""
    canon: dict[str, str] = {}
    for group in groups:
        word = "_".join(SPLIT.findall(group[0]))
        for phrase in group:
            canon.setdefault(" ".join(SPLIT.findall(phrase)), word)
    sizes: dict[str, set[int]] = {}
    for phrase in canon:
        parts = phrase.split()
        sizes.setdefault(parts[0], set()).add(len(parts))
    return canon, {first: tuple(sorted(n, reverse=True)) for first, n in sizes.items()}


@dataclass(frozen=True)
class RfpRules:
    file: str
    sha256: str
    columns: dict[str, tuple[str, ...]]
    """Field → header names (squeezed)."""
    mandatory_yes: frozenset[str]
    mandatory_no: frozenset[str]
    compliance_values: dict[Compliance, tuple[str, ...]]
    owners: tuple[OwnerRule, ...]
    due_milestone: str
    sla_keywords: re.Pattern[str]
    max_rows: int
    max_text: int
    max_bytes: int
    library: LibrarySettings

    def field_for_header(self, header: object) -> str | None:
        name = squeeze(header)
        for field, names in self.columns.items():
            if name in names:
                return field
        return None

    def mandatory(self, cell: object) -> bool | None:
        """True, False, or None when the cell says neither."""
        value = squeeze(cell)
        if value in self.mandatory_yes:
            return True
        if value in self.mandatory_no:
            return False
        return None

    def compliance(self, cell: object) -> Compliance | None:
        value = squeeze(cell)
        for status, spellings in self.compliance_values.items():
            if value in {squeeze(s) for s in spellings}:
                return status
        return None

    def compliance_label(self, status: Compliance) -> str:
        """How the customer's file writes a status (the first spelling of rfp.yaml)."""
        return self.compliance_values[status][0]

    def owner_for(self, section: str, text: str) -> str:
        for rule in self.owners:
            if rule.pattern.search(section):
                return rule.owner_role
        for rule in self.owners:
            if rule.pattern.search(text):
                return rule.owner_role
        return self.owners[-1].owner_role

    def asks_for_service_levels(self, text: str) -> bool:
        return self.sla_keywords.search(text) is not None


def _fail(path: Path, where: str, message: str) -> RuleLoadError:
    return RuleLoadError(f"{path}: {where}: {message}")


def _texts(value: object, path: Path, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(path, where, "must be a non-empty list")
    return tuple(str(v) for v in value)


def _number(data: dict[str, Any], key: str, default: float, path: Path, where: str) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _fail(path, f"{where}.{key}", "must be a number >= 0")
    return float(value)


def _regex(value: object, path: Path, where: str) -> re.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise _fail(path, where, "must be a regular expression")
    try:
        return re.compile(value, re.IGNORECASE)
    except re.error as exc:
        raise _fail(path, where, f"is not a valid regular expression ({exc})") from None


def _match_settings(data: object, path: Path) -> MatchSettings:
    if not isinstance(data, dict):
        raise _fail(path, "library.match", "must be a mapping")
    defaults = MatchSettings()
    unknown = sorted(set(data) - set(defaults.__dataclass_fields__))
    if unknown:
        raise _fail(path, "library.match", f"unknown key(s) {unknown}")
    values = {
        key: _number(data, key, getattr(defaults, key), path, "library.match")
        for key in defaults.__dataclass_fields__
    }
    if values["embedding_ceiling"] <= values["embedding_floor"]:
        raise _fail(path, "library.match", "embedding_ceiling must be above embedding_floor")
    return MatchSettings(**{**values, "shortlist": max(1.0, float(int(values["shortlist"])))})


SYNONYMS_FILE = "synonyms.yaml"


def parse_synonyms(path: Path) -> Synonyms:
    """rules/synonyms.yaml: `groups`, each a list of phrases (the first names the group)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser where libyaml is
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except OSError as exc:
        raise RuleLoadError(f"{path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise RuleLoadError(f"{path}: not valid YAML ({exc})".splitlines()[0]) from None
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list):
        raise RuleLoadError(f"{path}: expected a list under 'groups:'")
    seen: dict[str, int] = {}
    parsed = []
    for index, group in enumerate(groups, start=1):
        where = f"groups row {index}"
        if not isinstance(group, list) or len(group) < 2:
            raise _fail(path, where, "must list at least two phrases")
        phrases = tuple(" ".join(str(p).lower().split()) for p in group)
        for phrase in phrases:
            if not phrase or not re.search(r"[a-z0-9]", phrase):
                raise _fail(path, where, f"'{phrase}' holds no letter or digit")
            if phrase in seen and seen[phrase] != index:
                raise _fail(path, where, f"'{phrase}' is already in groups row {seen[phrase]}")
            seen[phrase] = index
        parsed.append(phrases)
    return Synonyms(str(path), tuple(parsed))


@lru_cache(maxsize=8)
def _cached_synonyms(path: Path, mtime: float) -> Synonyms:
    return parse_synonyms(path)


def load_synonyms(rules_dir: Path) -> Synonyms:
    """rules/synonyms.yaml, read again when it changes; no file, no synonyms."""
    path = (rules_dir / SYNONYMS_FILE).resolve()
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return Synonyms(str(path), ())
    return _cached_synonyms(path, mtime)


def parse_rfp_rules(path: Path) -> RfpRules:
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except OSError as exc:
        raise RuleLoadError(f"{path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise RuleLoadError(f"{path}: not valid YAML ({exc})".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise RuleLoadError(f"{path}: expected a mapping at the top level")
    raw_columns = data.get("columns")
    if not isinstance(raw_columns, dict):
        raise _fail(path, "columns", "must map each field to its header names")
    unknown = sorted(set(raw_columns) - set(FIELDS))
    if unknown:
        raise _fail(path, "columns", f"unknown field(s) {unknown}; fields: {', '.join(FIELDS)}")
    columns = {
        field: tuple(squeeze(n) for n in _texts(raw_columns.get(field), path, f"columns.{field}"))
        for field in FIELDS
        if field in raw_columns
    }
    for field in REQUIRED_FIELDS:
        if field not in columns:
            raise _fail(path, "columns", f"field '{field}' needs header names")
    mandatory = data.get("mandatory_values") or {}
    if not isinstance(mandatory, dict):
        raise _fail(path, "mandatory_values", "must have 'yes' and 'no' lists")
    yes = frozenset(squeeze(v) for v in _texts(mandatory.get("yes"), path, "mandatory_values.yes"))
    no = frozenset(squeeze(v) for v in _texts(mandatory.get("no"), path, "mandatory_values.no"))
    raw_compliance = data.get("compliance_values")
    if not isinstance(raw_compliance, dict) or set(raw_compliance) != {c.value for c in Compliance}:
        raise _fail(
            path,
            "compliance_values",
            f"must give spellings for each of {', '.join(c.value for c in Compliance)}",
        )
    compliance = {
        Compliance(key): _texts(value, path, f"compliance_values.{key}")
        for key, value in raw_compliance.items()
    }
    roles = {r.value for r in Role}
    raw_owners = data.get("owners")
    if not isinstance(raw_owners, list) or not raw_owners:
        raise _fail(path, "owners", "must be a non-empty list of {match, owner_role}")
    owners = []
    for index, row in enumerate(raw_owners, start=1):
        where = f"owners row {index}"
        if not isinstance(row, dict) or row.get("owner_role") not in roles:
            raise _fail(path, where, f"owner_role must be one of {', '.join(sorted(roles))}")
        owners.append(OwnerRule(_regex(row.get("match"), path, where), str(row["owner_role"])))
    milestone = data.get("due_milestone")
    if not isinstance(milestone, str) or not milestone:
        raise _fail(path, "due_milestone", "must name a milestone of rules/milestones.yaml")
    limits = data.get("limits") or {}
    library = data.get("library") or {}
    if not isinstance(limits, dict) or not isinstance(library, dict):
        raise _fail(path, "limits/library", "must be mappings")
    settings = LibrarySettings(
        review_months=int(_number(library, "review_months", 12, path, "library")),
        suggestions=max(1, int(_number(library, "suggestions", 3, path, "library"))),
        min_score=_number(library, "min_score", 45, path, "library"),
        won_boost=_number(library, "won_boost", 4, path, "library"),
        max_boost=_number(library, "max_boost", 12, path, "library"),
        stale_penalty=_number(library, "stale_penalty", 5, path, "library"),
        auto_accept=_number(library, "auto_accept", 80, path, "library"),
        match=_match_settings(library.get("match") or {}, path),
    )
    return RfpRules(
        file=str(path),
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        columns=columns,
        mandatory_yes=yes,
        mandatory_no=no,
        compliance_values=compliance,
        owners=tuple(owners),
        due_milestone=milestone,
        sla_keywords=_regex(data.get("sla_keywords"), path, "sla_keywords"),
        max_rows=int(_number(limits, "max_rows", 20000, path, "limits")),
        max_text=int(_number(limits, "max_text", 10000, path, "limits")),
        max_bytes=int(_number(limits, "max_bytes", 50_000_000, path, "limits")),
        library=settings,
    )


@lru_cache(maxsize=8)
def _cached(path: Path, mtime: float) -> RfpRules:
    return parse_rfp_rules(path)


def load_rfp_rules(rules_dir: Path) -> RfpRules:
    """rules/rfp.yaml, read again when it changes."""
    path = (rules_dir / RFP_FILE).resolve()
    try:
        mtime = path.stat().st_mtime
    except OSError:
        raise RuleLoadError(f"{path}: file not found") from None
    return _cached(path, mtime)
