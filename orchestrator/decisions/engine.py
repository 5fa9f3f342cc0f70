"""Business decisions as data: JDM decision tables under rules/, evaluated by GoRules zen-engine.

Four tables decide what people used to decide from memory: BANTS lead qualification
(`bants.json`), the go/no-go recommendation (`go_no_go.json`), which governance approvals a
proposal needs (`governance.json`) and who leads, is told and decides at each lifecycle step
(`routing.json`). A bid manager edits the tables (see docs/rules.md); the code only checks the
facts against each file's declared input schema, runs the table and records a `Decision` that
names the rule version (sha256 of the file) and the rows that matched, for the audit trail.

Why the checks around zen-engine (docs/decisions/0001-zen-engine-for-decision-tables.md):
a missing field silently matches the catch-all row, and a malformed file or a broken cell
surfaces as a RuntimeError carrying a Rust backtrace (or, for a bad cell, never matches).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zen

from orchestrator.errors import RuleError, RuleInputError, RuleLoadError
from orchestrator.ports import Decision, RulesEngine

__all__ = ["Decision", "RulesEngine", "ZenRulesEngine"]

DECISION_TABLES: tuple[str, ...] = ("bants", "go_no_go", "governance", "routing")
HIT_POLICIES = frozenset({"first", "collect"})
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_KINDS: dict[type, frozenset[str]] = {  # Python type -> the JSON-Schema types it satisfies
    str: frozenset({"string"}),
    int: frozenset({"integer", "number"}),
    float: frozenset({"number"}),
    bool: frozenset({"boolean"}),
    type(None): frozenset({"null"}),
    list: frozenset({"array"}),
    dict: frozenset({"object"}),
}


@dataclass(frozen=True)
class _Version:
    """One loaded, checked version of a decision file."""

    table: str
    file: str
    sha256: str
    fields: dict[str, _Field]
    required: tuple[str, ...]
    closed: bool
    outputs: tuple[str, ...]
    row_ids: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.table}@{self.sha256}"


@dataclass
class _Slot:
    """What serves for one table, the file stamp last read, and why the last edit failed."""

    current: _Version | None = None
    stamp: tuple[int, int, int] | None = None
    error: str | None = None


def _one_line(exc: BaseException) -> str:
    """zen-engine's message without the Rust backtrace, on one line."""
    text = str(exc).split("\n\nStack backtrace", 1)[0].strip()
    if text.startswith("{"):
        try:
            detail = json.loads(text.splitlines()[0])
        except ValueError:
            detail = None
        if isinstance(detail, dict) and "source" in detail:
            return str(detail["source"])
    lines = [line.strip() for line in text.splitlines()]
    return ": ".join(line for line in lines if line and line != "Caused by:")


def _node_schema(node: Mapping[str, Any], file: str) -> dict[str, Any]:
    raw = (node.get("content") or {}).get("schema")
    if not raw:
        raise RuleLoadError(f"{file}: the {node.get('type')} declares no schema")
    try:
        schema = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise RuleLoadError(f"{file}: the {node.get('type')} schema is not JSON: {exc}") from None
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        raise RuleLoadError(f"{file}: the {node.get('type')} schema has no properties")
    return schema


def _compile_cells(node: Mapping[str, Any], file: str) -> list[str]:
    """Compile every cell so a typo fails the load instead of silently never matching."""
    content, name = node.get("content") or {}, node.get("name", node.get("id"))
    if node["type"] == "decisionTableNode" and content.get("hitPolicy") not in HIT_POLICIES:
        raise RuleLoadError(f"{file}: table '{name}' needs an explicit hitPolicy (first/collect)")
    inputs = {col["id"]: col for col in content.get("inputs", [])}
    outputs = {col["id"]: col for col in content.get("outputs", [])}
    checks = [
        (f"expression '{e.get('key')}'", str(e.get("value")), False)
        for e in content.get("expressions", [])
    ]
    checks += [
        (f"column '{c.get('name')}'", str(c.get("field") or ""), False) for c in inputs.values()
    ]
    row_ids: list[str] = []
    for number, row in enumerate(content.get("rules", []), start=1):
        if not row.get("_id"):
            raise RuleLoadError(f"{file}: table '{name}' row {number} has no _id")
        row_ids.append(str(row["_id"]))
        for col_id, cell in row.items():
            col = inputs.get(col_id) or outputs.get(col_id)
            if col is not None:
                where = f"row '{row['_id']}' column '{col.get('name')}'"
                checks.append((where, str(cell), col_id in inputs))
    for where, text, unary in checks:
        try:
            if text.strip():
                (zen.compile_unary_expression if unary else zen.compile_expression)(text)
        except RuntimeError as exc:
            raise RuleLoadError(
                f"{file}: {where}: cannot read {text!r}: {_one_line(exc)}"
            ) from None
    return row_ids


def _parse(table: str, file: str, text: str) -> _Version:
    """Check a decision file's text; raise RuleLoadError naming the file on any defect."""
    try:
        graph = json.loads(text)
    except ValueError as exc:
        raise RuleLoadError(f"{file}: not valid JSON: {exc}") from None
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    if not isinstance(nodes, list) or not all(isinstance(n, dict) and "type" in n for n in nodes):
        raise RuleLoadError(f"{file}: not a JDM decision graph (no list of typed nodes)")
    by_type = {n["type"]: n for n in nodes}
    if "inputNode" not in by_type or "outputNode" not in by_type:
        raise RuleLoadError(f"{file}: needs one inputNode and one outputNode")
    row_ids: list[str] = []
    for node in nodes:
        if node["type"] in ("decisionTableNode", "expressionNode"):
            row_ids += _compile_cells(node, file)
    duplicates = sorted({r for r in row_ids if row_ids.count(r) > 1})
    if duplicates:
        raise RuleLoadError(f"{file}: row ids used twice: {', '.join(duplicates)}")
    in_schema = _node_schema(by_type["inputNode"], file)
    return _Version(
        table=table,
        file=file,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        fields=_fields(in_schema),
        required=tuple(in_schema.get("required", ())),
        closed=in_schema.get("additionalProperties") is False,
        outputs=tuple(_node_schema(by_type["outputNode"], file)["properties"]),
        row_ids=tuple(row_ids),
    )


@dataclass(frozen=True, slots=True)
class _Field:
    """One declared input field: JSON types, allowed values and bounds."""

    name: str
    kinds: frozenset[str]
    enum: tuple[Any, ...] | None
    minimum: float | None
    maximum: float | None

    def check(self, value: Any, table: str) -> Any:
        """The value, normalised (StrEnum -> str), or RuleInputError naming the field."""
        if isinstance(value, str) and type(value) is not str:
            value = str(value)
        kinds = _KINDS.get(type(value), frozenset())
        if self.kinds and self.kinds.isdisjoint(kinds):
            expected = " or ".join(sorted(self.kinds))
            got = f"{type(value).__name__} {value!r}"
            raise RuleInputError(f"{table}: field '{self.name}' must be {expected}, got {got}")
        if type(value) is float and not math.isfinite(value):
            raise RuleInputError(f"{table}: field '{self.name}' must be a finite number")
        if self.enum is not None and value not in self.enum:
            allowed = ", ".join(repr(v) for v in self.enum)
            raise RuleInputError(
                f"{table}: field '{self.name}' must be one of {allowed}, got {value!r}"
            )
        if "number" in kinds and self.minimum is not None and value < self.minimum:
            raise RuleInputError(
                f"{table}: field '{self.name}' must be >= {self.minimum}, got {value!r}"
            )
        if "number" in kinds and self.maximum is not None and value > self.maximum:
            raise RuleInputError(
                f"{table}: field '{self.name}' must be <= {self.maximum}, got {value!r}"
            )
        return value


def _fields(schema: Mapping[str, Any]) -> dict[str, _Field]:
    fields = {}
    for name, spec in schema["properties"].items():
        kinds = spec.get("type", [])
        fields[name] = _Field(
            name=name,
            kinds=frozenset([kinds] if isinstance(kinds, str) else kinds),
            enum=tuple(spec["enum"]) if "enum" in spec else None,
            minimum=spec.get("minimum"),
            maximum=spec.get("maximum"),
        )
    return fields


def _matched_rows(trace: Mapping[str, Any]) -> list[str]:
    """Row ids of every decision-table row that matched, in evaluation order."""
    rows: list[str] = []
    for node in sorted(trace.values(), key=lambda n: n.get("order", 0)):
        data = node.get("traceData")
        for hit in data if isinstance(data, list) else [data]:
            if isinstance(hit, dict) and isinstance(hit.get("rule"), dict):
                rows.append(str(hit["rule"].get("_id")))
    return rows


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ZenRulesEngine:
    """Evaluates rules/<table>.json with zen-engine; picks up edits without a restart.

    Every evaluation stats the file (about a microsecond); a changed mtime, size or inode
    makes it re-read and checked. A broken edit is refused: the previous good version keeps
    serving and `load_errors()` says why. Each version is compiled once and kept by sha256;
    zen-engine gets it through a loader, which measured ~15x faster than calling
    `ZenDecision.evaluate` on a decision object.
    """

    def __init__(self, rules_dir: Path, clock: Callable[[], datetime] | None = None) -> None:
        self.rules_dir = Path(rules_dir)
        self._clock = clock or _utc_now
        self._slots: dict[str, _Slot] = {}
        self._compiled: dict[str, zen.ZenDecisionContent] = {}
        self._zen = zen.ZenEngine({"loader": self._compiled.__getitem__})
        self._lock = threading.Lock()

    def evaluate(self, table: str, inputs: Mapping[str, Any]) -> Decision:
        """Check `inputs` against the table's input schema, evaluate it, record the Decision."""
        version = self._current(table)
        if not isinstance(inputs, Mapping):
            raise RuleInputError(f"{table}: facts must be a mapping, got {type(inputs).__name__}")
        for name in version.required:
            if name not in inputs:
                raise RuleInputError(f"{table}: field '{name}' is missing")
        facts: dict[str, Any] = {}
        for name, value in inputs.items():
            declared = version.fields.get(name)
            if declared is None and version.closed:
                expected = ", ".join(version.fields)
                raise RuleInputError(f"{table}: field '{name}' is not expected ({expected})")
            facts[name] = declared.check(value, table) if declared else value
        try:
            response = self._zen.evaluate(version.key, facts, {"trace": True})
        except RuntimeError as exc:  # includes outputs that break the output schema
            raise RuleError(f"{version.file}: evaluation failed: {_one_line(exc)}") from None
        result = response["result"]
        outputs = {name: result[name] for name in version.outputs if name in result}
        evaluated_at = self._clock()
        if evaluated_at.tzinfo is None:
            raise ValueError("the clock must return timezone-aware datetimes")
        return Decision(
            table=table,
            rule_file=version.file,
            rule_hash=version.sha256,
            inputs=facts,
            outputs=outputs,
            matched_rows=_matched_rows(response.get("trace") or {}),
            evaluated_at=evaluated_at.astimezone(UTC),
        )

    def load_errors(self) -> dict[str, str]:
        """File name -> why its newest edit was refused (the previous version still serves)."""
        return {f"{name}.json": s.error for name, s in self._slots.items() if s.error is not None}

    def reload(self) -> dict[str, str]:
        """Re-read every decision table now, changed or not; return `load_errors()`."""
        for name in sorted(set(DECISION_TABLES) | set(self._slots)):
            self._slots.setdefault(name, _Slot()).stamp = None
            with contextlib.suppress(RuleLoadError):  # recorded in the slot; reported below
                self._current(name)
        return self.load_errors()

    def row_ids(self, table: str) -> tuple[str, ...]:
        """Every row id of the serving version (for coverage checks and documentation)."""
        return self._current(table).row_ids

    def _current(self, table: str) -> _Version:
        """The serving version of `table`, re-read first if its file changed on disk."""
        if not _TABLE_NAME.match(table):
            raise RuleLoadError(f"'{table}' is not a decision table name")
        slot = self._slots.setdefault(table, _Slot())
        path = self.rules_dir / f"{table}.json"
        try:
            st = os.stat(path)
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        if stamp is not None and stamp == slot.stamp and slot.current is not None:
            return slot.current
        with self._lock:
            if stamp is None or stamp != slot.stamp:
                slot.stamp = stamp
                try:
                    slot.current, slot.error = self._load(table, path), None
                except RuleLoadError as exc:
                    slot.error = str(exc)
            if slot.current is None:
                raise RuleLoadError(slot.error or f"{path.name}: never loaded")
            return slot.current

    def _load(self, table: str, path: Path) -> _Version:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RuleLoadError(f"{path.name}: cannot read {path}: {exc.strerror}") from None
        version = _parse(table, path.name, text)
        if version.key not in self._compiled:
            try:
                content = zen.ZenDecisionContent(text)
                self._zen.create_decision(content).validate()
            except RuntimeError as exc:
                raise RuleLoadError(
                    f"{path.name}: zen-engine refuses it: {_one_line(exc)}"
                ) from None
            self._compiled[version.key] = content
        return version


def rules_fingerprint(rules_dir: Path) -> dict[str, str]:
    """File name -> sha256 of each decision table present: the rule set's version."""
    return {
        f"{name}.json": hashlib.sha256((Path(rules_dir) / f"{name}.json").read_bytes()).hexdigest()
        for name in DECISION_TABLES
        if (Path(rules_dir) / f"{name}.json").is_file()
    }


def qualify_lead(
    engine: RulesEngine,
    *,
    tier: str,
    budget_eur: float,
    authority: str,
    need: str,
    timeframe_months: int,
    sales_ready: bool,
) -> Decision:
    """BANTS: is this lead worth pursuing? outputs result, score (0-100) and failed criteria."""
    facts = {
        "tier": tier,
        "budget_eur": budget_eur,
        "authority": authority,
        "need": need,
        "timeframe_months": timeframe_months,
        "sales_ready": sales_ready,
    }
    return engine.evaluate("bants", facts)


def go_no_go(
    engine: RulesEngine,
    *,
    bants_result: str,
    tier: str,
    revenue_eur: float,
    days_to_deadline: int,
    open_bids_per_bid_manager: int,
    strategic_fit: str,
    incumbent: bool | None = None,
) -> Decision:
    """Recommend bid, no_bid or redefine_strategy; `hard` marks a no-bid nobody may override.

    `incumbent`: whether we hold the contract today (None: not known — the table then decides
    as it did before the fact existed)."""
    facts: dict[str, Any] = {
        "bants_result": bants_result,
        "tier": tier,
        "revenue_eur": revenue_eur,
        "days_to_deadline": days_to_deadline,
        "open_bids_per_bid_manager": open_bids_per_bid_manager,
        "strategic_fit": strategic_fit,
    }
    if incumbent is not None:
        facts["incumbent"] = incumbent
    return engine.evaluate("go_no_go", facts)


GOVERNANCE_THRESHOLDS = (
    "margin_floor_pct",
    "management_tcv_eur",
    "discount_escalation_pct",
    "budgetary_share_max",
    "one_off_review_eur",
)


def governance_requirements(
    engine: RulesEngine,
    *,
    tier: str,
    total_contract_value_eur: float,
    margin_pct: float | None,
    monthly_recurring_eur: float = 0.0,
    one_off_eur: float = 0.0,
    discount_pct: float = 0.0,
    budgetary_share: float = 0.0,
    non_standard_terms: int = 0,
) -> Decision:
    """Judge the priced deal: which approval areas it needs, who may approve each, and
    whether it is refused outright (`verdict` "refused", e.g. a negative margin).

    None margin: no quotes yet. The table lists one row per reason an area is needed; an
    area needed for two reasons (management for a large deal with a thin margin) appears
    once in `required`, with both reasons.
    """
    facts = {
        "tier": tier,
        "total_contract_value_eur": total_contract_value_eur,
        "monthly_recurring_eur": monthly_recurring_eur,
        "one_off_eur": one_off_eur,
        "margin_pct": margin_pct,
        "discount_pct": discount_pct,
        "budgetary_share": budgetary_share,
        "non_standard_terms": non_standard_terms,
    }
    decision = engine.evaluate("governance", facts)
    required: list[str] = []
    approver_roles: dict[str, list[str]] = {}
    reasons: dict[str, list[str]] = {}
    for approval in decision.outputs["approvals"]:
        area = approval["area"]
        if area not in approver_roles:
            required.append(area)
            approver_roles[area] = list(approval["roles"])
        reasons.setdefault(area, []).append(approval["reason"])
    outputs = {
        "required": required,
        "approver_roles": approver_roles,
        "reasons": reasons,
        "verdict": decision.outputs.get("verdict", "review"),
        "refusal": decision.outputs.get("refusal", ""),
        **{key: decision.outputs[key] for key in GOVERNANCE_THRESHOLDS if key in decision.outputs},
    }
    return replace(decision, outputs=outputs)


def routing(engine: RulesEngine, *, tier: str, step: str) -> Decision:
    """Who leads a lifecycle step, who is notified, and who may take the go/no-go decision."""
    return engine.evaluate("routing", {"tier": tier, "step": step})
