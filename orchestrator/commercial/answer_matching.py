"""Proposing library answers for requirements: the matcher's calibrated confidence, then
the library's ranking.

The match itself (BM25, fuzzy and word embeddings, fused and calibrated to 0-100) is
`orchestrator.commercial.rfp_match`. Here it ranks with what the library knows: answers used
in won bids rise (rules/rfp.yaml `won_boost` per win, at most `max_boost`), answers past
their review date sink (`stale_penalty`) and are flagged. A match below `min_score` is not
proposed. Only the match — never the boost — decides an automatic acceptance, and an answer
due for review is never accepted automatically (`auto_acceptable`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.commercial.rfp_match import AnswerIndex, Document
from orchestrator.decisions.rfp_rules import LibrarySettings, Synonyms


@dataclass(frozen=True)
class Candidate:
    """A library answer as the matcher reads it."""

    answer_id: str
    question: str
    tags: tuple[str, ...]
    won_uses: int = 0
    review_due: bool = False
    answer: str = ""
    compliance: str = "comply"


@dataclass(frozen=True)
class Suggestion:
    answer_id: str
    score: float
    """What ranks it: the match, plus the won-bid boost, minus the review penalty (0-100)."""
    match: float
    """The matcher's calibrated confidence that this is the answer (0-100)."""
    review_due: bool


def auto_acceptable(suggestion: Suggestion, threshold: float) -> bool:
    """Whether a suggestion may be recorded without a person: confident enough on the match
    alone, and not past its review date."""
    return suggestion.match >= threshold and not suggestion.review_due


def index_library(
    candidates: Sequence[Candidate], settings: LibrarySettings, synonyms: Synonyms, cache_dir: Path
) -> None:
    """Index the library into `cache_dir` now (after an import), so that the next
    questionnaire's suggestions start from it."""
    AnswerIndex(
        [Document(c.answer_id, c.question, c.tags, c.answer) for c in candidates],
        synonyms,
        settings.match,
        cache_dir=cache_dir,
    )


def suggest(
    requirements: Sequence[str],
    candidates: Sequence[Candidate],
    settings: LibrarySettings,
    limit: int | None = None,
    synonyms: Synonyms | None = None,
    cache_dir: Path | None = None,
) -> list[list[Suggestion]]:
    """Per requirement (in order), the best library answers, best first."""
    if not requirements or not candidates:
        return [[] for _ in requirements]
    wanted = limit or settings.suggestions
    index = AnswerIndex(
        [Document(c.answer_id, c.question, c.tags, c.answer) for c in candidates],
        synonyms or Synonyms("", ()),
        settings.match,
        cache_dir=cache_dir,
    )
    results: list[list[Suggestion]] = []
    for found in index.match(requirements, max(wanted, settings.suggestions) + 2):
        ranked = []
        for match in found:
            if match.confidence < settings.min_score:
                continue
            candidate = candidates[match.position]
            boost = min(settings.max_boost, settings.won_boost * candidate.won_uses)
            penalty = settings.stale_penalty if candidate.review_due else 0.0
            score = max(0.0, min(100.0, match.confidence + boost - penalty))
            ranked.append(
                Suggestion(
                    candidate.answer_id,
                    round(score, 1),
                    match.confidence,
                    candidate.review_due,
                )
            )
        ranked.sort(key=lambda s: (-s.score, -s.match, s.answer_id))
        results.append(ranked[:wanted])
    return results
