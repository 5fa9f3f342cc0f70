"""rules/duties.yaml, the segregation of duties: loaded and checked here, and nowhere else.

Each row names a duty, the approval areas it applies to and who it keeps from deciding
(`authority.DutyFact`); `authority.may_decide` applies the rows. Any mistake in the file
raises `RuleLoadError` in one line naming the file and the row, before anyone decides.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import yaml

from orchestrator.decisions.authority import (
    ANY_AREA,
    DUTIES_FILE,
    DutiesTable,
    Duty,
    DutyFact,
)
from orchestrator.errors import RuleLoadError
from orchestrator.store.models import Area

_ROW_KEYS = frozenset({"id", "areas", "forbids", "text"})


def _row(raw: object, path: Path, number: int, seen: set[str]) -> Duty:
    where = f"duties[{number}]"
    if not isinstance(raw, dict):
        keys = ", ".join(sorted(_ROW_KEYS))
        raise RuleLoadError(f"{path}: {where} must be a mapping with {keys}")
    unknown = sorted(str(k) for k in raw if k not in _ROW_KEYS)
    if unknown:
        raise RuleLoadError(f"{path}: {where} has unknown keys {unknown}")
    duty_id = raw.get("id")
    if not isinstance(duty_id, str) or not duty_id.strip():
        raise RuleLoadError(f"{path}: {where}.id must be a name")
    where = f"duties[{number}] ({duty_id})"
    if duty_id in seen:
        raise RuleLoadError(f"{path}: {where}: the id is used twice")
    seen.add(duty_id)
    areas = raw.get("areas")
    if not isinstance(areas, list) or not areas or not all(isinstance(a, str) for a in areas):
        raise RuleLoadError(f"{path}: {where}.areas must be a non-empty list of areas")
    known = {a.value for a in Area}
    wrong = sorted(set(areas) - known - {ANY_AREA})
    if wrong:
        raise RuleLoadError(
            f"{path}: {where}.areas names unknown areas {wrong}; areas are "
            f"{', '.join(sorted(known))} or '*'"
        )
    forbids = raw.get("forbids")
    if forbids not in {f.value for f in DutyFact}:
        raise RuleLoadError(
            f"{path}: {where}.forbids must be one of {', '.join(f.value for f in DutyFact)}"
        )
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        raise RuleLoadError(f"{path}: {where}.text must say what the refusal says")
    return Duty(duty_id.strip(), tuple(areas), DutyFact(forbids), " ".join(text.split()))


def parse_duties(path: Path) -> DutiesTable:
    """Read and check duties.yaml."""
    try:
        content = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleLoadError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        raise RuleLoadError(f"{path}: not valid YAML ({exc})".splitlines()[0]) from None
    if not isinstance(data, dict) or set(data) != {"duties"}:
        raise RuleLoadError(f"{path}: expected a mapping with one key, duties")
    rows = data["duties"]
    if rows is None:
        rows = []
    if not isinstance(rows, list):
        raise RuleLoadError(f"{path}: duties must be a list of rows")
    seen: set[str] = set()
    duties = tuple(_row(raw, path, n, seen) for n, raw in enumerate(rows, start=1))
    return DutiesTable(path.name, hashlib.sha256(content.encode()).hexdigest(), duties)


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=8)
def _duties(path: Path, _stamp: tuple[int, int]) -> DutiesTable:
    return parse_duties(path)


def load_duties(rules_dir: Path) -> DutiesTable:
    """duties.yaml under `rules_dir`, re-read when the file changes."""
    path = (rules_dir / DUTIES_FILE).resolve()
    return _duties(path, _stamp(path))
