"""Answer suggestions on customers' own words: how often the library's answer is found, and
how safe the automatic acceptance is.

The two questionnaires of tests/scenarios/rfp/ (written independently of the starter library,
each requirement with the library answers a person accepts as correct) are matched against
the shipped starter library, synonyms and calibrated threshold (rules/). Per questionnaire:

- top-1 and top-3: requirements whose correct answer is first / in the first three;
- at the threshold (rules/rfp.yaml `library.auto_accept`): precision (accepted answers that
  are right) and recall (answerable requirements accepted with the right answer), and the
  number of wrong automatic acceptances (the target is none);
- what each part adds: the same figures without the word embeddings, and without synonyms.

    .venv/bin/python bench/bench_answers.py [--json-out FILE]

The time of import + suggestions for 1,000 requirements is bench/bench_rfp.py's.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Figure, add_output_option, write_figures  # noqa: E402
from orchestrator.bid.answers.library import review_due  # noqa: E402
from orchestrator.commercial.answer_matching import (  # noqa: E402
    Candidate,
    auto_acceptable,
    suggest,
)
from orchestrator.decisions.rfp_rules import (  # noqa: E402
    LibrarySettings,
    Synonyms,
    load_rfp_rules,
    load_synonyms,
)
from orchestrator.intake.answer_library import parse_library  # noqa: E402

RULES = ROOT / "rules"
SCENARIOS = ROOT / "tests" / "scenarios" / "rfp"
QUESTIONNAIRES = {
    "WAN 2027 (held out)": "questionnaire_wan_2027.yaml",
    "calibration": "questionnaire_calibration.yaml",
}
TODAY = date(2026, 12, 1)


@dataclass(frozen=True)
class Scores:
    requirements: int
    answerable: int
    top1: int
    top3: int
    accepted: int
    accepted_right: int
    seconds: float

    @property
    def precision(self) -> float:
        return self.accepted_right / self.accepted if self.accepted else 1.0

    @property
    def recall(self) -> float:
        return self.accepted_right / self.answerable


def _library() -> list[Candidate]:
    months = load_rfp_rules(RULES).library.review_months
    return [
        Candidate(
            e.answer_id,
            e.question,
            e.tags,
            0,
            review_due(e.last_reviewed, e.review_months or months, TODAY),
            e.answer,
            e.compliance.value,
        )
        for e in parse_library(RULES / "answer_library.yaml", TODAY)
    ]


def measure(name: str, settings: LibrarySettings, synonyms: Synonyms) -> Scores:
    rows = yaml.safe_load((SCENARIOS / name).read_text(encoding="utf-8"))["requirements"]
    library = _library()
    start = time.perf_counter()
    found = suggest([r["text"] for r in rows], library, settings, limit=3, synonyms=synonyms)
    seconds = time.perf_counter() - start
    top1 = top3 = accepted = right = answerable = 0
    for row, suggestions in zip(rows, found, strict=True):
        expected = set(row["expected"])
        ids = [s.answer_id for s in suggestions]
        answerable += bool(expected)
        top1 += bool(ids) and ids[0] in expected
        top3 += bool(expected & set(ids))
        if suggestions and auto_acceptable(suggestions[0], settings.auto_accept):
            accepted += 1
            right += ids[0] in expected
    return Scores(len(rows), answerable, top1, top3, accepted, right, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_output_option(parser)
    args = parser.parse_args(argv)
    settings = replace(load_rfp_rules(RULES).library, min_score=0)
    synonyms = load_synonyms(RULES)
    variants = {
        "all parts": (settings, synonyms),
        "without embeddings": (
            replace(settings, match=replace(settings.match, embedding=0.0)),
            synonyms,
        ),
        "without synonyms": (settings, Synonyms("", ())),
    }
    figures: list[Figure] = []
    ok = True
    print(f"threshold: {settings.auto_accept:g} (rules/rfp.yaml library.auto_accept)")
    print(
        f"{'questionnaire':<22} {'variant':<20} {'top-1':>6} {'top-3':>6} {'accepted':>9} "
        f"{'wrong':>6} {'precision':>9} {'recall':>7} {'time':>6}"
    )
    for label, name in QUESTIONNAIRES.items():
        for variant, (used, words) in variants.items():
            s = measure(name, used, words)
            print(
                f"{label:<22} {variant:<20} {s.top1 / s.answerable:>6.0%} "
                f"{s.top3 / s.answerable:>6.0%} {s.accepted:>9} "
                f"{s.accepted - s.accepted_right:>6} {s.precision:>9.0%} {s.recall:>7.0%} "
                f"{s.seconds:>5.2f}s"
            )
            if variant != "all parts":
                continue
            ok = ok and s.top3 >= 0.8 * s.answerable and s.accepted == s.accepted_right
            figures += [
                Figure(
                    f"answers, {label}: top-3",
                    round(s.top3 / s.answerable, 3),
                    "share",
                    0.8,
                    higher_is_better=True,
                ),
                Figure(
                    f"answers, {label}: wrong automatic acceptances",
                    s.accepted - s.accepted_right,
                    "answers",
                    0,
                ),
            ]
    write_figures(args.json_out, figures)
    print("OK" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
