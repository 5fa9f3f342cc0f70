"""Proposing library answers for requirements: rapidfuzz scores, then the library's ranking.

Every requirement is compared with every library answer's question and tags in one
`rapidfuzz.process.cdist` call over token-sorted text (rapidfuzz's token-sort ratio, on all
cores); the best few per requirement are scored again with `fuzz.token_set_ratio`, which
rewards a short library question found whole inside a long requirement. The match (0-100)
then ranks with what the library knows: answers used in won bids rise (rules/rfp.yaml
`won_boost` per win, at most `max_boost`), answers past their review date sink
(`stale_penalty`). A match below `min_score` is not proposed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.decisions.rfp_rules import LibrarySettings

SHORTLIST = 12
"""Library answers per requirement scored again with the token-set ratio."""


@dataclass(frozen=True)
class Candidate:
    """A library answer as the matcher reads it."""

    answer_id: str
    question: str
    tags: tuple[str, ...]
    won_uses: int = 0
    review_due: bool = False


@dataclass(frozen=True)
class Suggestion:
    answer_id: str
    score: float
    """What ranks it: the match, plus the won-bid boost, minus the review penalty."""
    match: float
    """The rapidfuzz similarity of requirement and library question (0-100)."""
    review_due: bool


def _prepared(texts: Sequence[str]) -> tuple[list[str], list[str]]:
    from rapidfuzz import utils

    processed = [utils.default_process(text) for text in texts]
    return processed, [" ".join(sorted(set(p.split()))) for p in processed]


def suggest(
    requirements: Sequence[str],
    candidates: Sequence[Candidate],
    settings: LibrarySettings,
    limit: int | None = None,
) -> list[list[Suggestion]]:
    """Per requirement (in order), the best library answers, best first."""
    if not requirements or not candidates:
        return [[] for _ in requirements]
    import numpy as np
    from rapidfuzz import fuzz, process

    wanted = limit or settings.suggestions
    queries, query_keys = _prepared(requirements)
    choices, choice_keys = _prepared([f"{c.question} {' '.join(c.tags)}" for c in candidates])
    matrix = process.cdist(query_keys, choice_keys, scorer=fuzz.ratio, workers=-1)
    shortlist = min(SHORTLIST, len(candidates))
    results: list[list[Suggestion]] = []
    for index, row in enumerate(matrix):
        if shortlist < len(candidates):
            best = np.argpartition(row, -shortlist)[-shortlist:]
        else:
            best = np.arange(len(candidates))
        found = []
        for position in best.tolist():
            candidate = candidates[position]
            match = max(
                float(row[position]), fuzz.token_set_ratio(queries[index], choices[position])
            )
            if match < settings.min_score:
                continue
            boost = min(settings.max_boost, settings.won_boost * candidate.won_uses)
            penalty = settings.stale_penalty if candidate.review_due else 0.0
            found.append(
                Suggestion(
                    candidate.answer_id,
                    round(match + boost - penalty, 1),
                    round(match, 1),
                    candidate.review_due,
                )
            )
        found.sort(key=lambda s: (-s.score, -s.match, s.answer_id))
        results.append(found[:wanted])
    return results
