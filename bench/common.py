"""What every benchmark reports, so that `bench/run_all.py` can put them in one table.

A benchmark prints its figures for people, and with `--json-out FILE` also writes them as
a list of `Figure`s. Figures are measurements, never assertions: the test suite asserts
correctness only.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    """One measured figure, its target and, where there is one, its baseline."""

    name: str
    value: float
    unit: str
    target: float | None = None
    higher_is_better: bool = False
    baseline: float | None = None
    """The same work done the plain way (e.g. the docxtpl floor, the direct call)."""
    baseline_name: str | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    @property
    def ratio(self) -> float | None:
        """value / baseline (how many times the plain way it costs)."""
        if not self.baseline:
            return None
        return self.value / self.baseline


def add_output_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json-out", type=Path, help="also write the figures here as JSON")


def write_figures(path: Path | None, figures: list[Figure]) -> None:
    if path is None:
        return
    path.write_text(json.dumps([asdict(f) for f in figures], indent=2), encoding="utf-8")


def read_figures(path: Path) -> list[Figure]:
    return [Figure(**item) for item in json.loads(path.read_text(encoding="utf-8"))]
