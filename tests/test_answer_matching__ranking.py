"""The answer library's first pass: rapidfuzz matches ranked with what the library knows —
answers used in won bids rise, answers past their review date sink and are flagged."""

from __future__ import annotations

from datetime import date

from orchestrator.bid.answers.library import review_due
from orchestrator.commercial.answer_matching import Candidate, suggest
from orchestrator.decisions.rfp_rules import LibrarySettings

SETTINGS = LibrarySettings(
    review_months=12, suggestions=3, min_score=45, won_boost=4, max_boost=12, stale_penalty=5
)
QUESTION = "Describe your service desk, its opening hours and languages."


def test_won_answers_rise_and_stale_answers_sink() -> None:
    candidates = [
        Candidate("DESK-A", QUESTION, ("support",)),
        Candidate("DESK-WON", QUESTION, ("support",), won_uses=5),
        Candidate("DESK-OLD", QUESTION, ("support",), review_due=True),
        Candidate("NET-001", "Which bandwidths and access technologies are available?", ()),
    ]
    [found] = suggest(["Describe your service desk and its hours."], candidates, SETTINGS)
    assert [s.answer_id for s in found] == ["DESK-WON", "DESK-A", "DESK-OLD"]
    won, plain, old = found
    assert won.match == plain.match == old.match
    assert won.score == round(plain.score + 12, 1)  # 5 wins x 4, capped at 12
    assert old.score == round(plain.score - 5, 1) and old.review_due
    assert not won.review_due


def test_nothing_is_proposed_below_the_minimum_score() -> None:
    candidates = [Candidate("DESK-A", QUESTION, ("support",))]
    assert suggest(["Quantum entanglement of pallets?"], candidates, SETTINGS) == [[]]
    assert suggest([], candidates, SETTINGS) == []


def test_an_answer_is_due_for_review_after_its_period() -> None:
    assert not review_due(date(2025, 12, 1), 12, date(2026, 11, 30))
    assert review_due(date(2025, 12, 1), 12, date(2026, 12, 1))
    assert review_due(date(2026, 1, 31), 1, date(2026, 2, 28))
