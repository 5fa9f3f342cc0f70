"""The answer library: approved answers every bid reuses, with their owner and review date.

Entries come in from YAML or CSV (`bid rfp library import`; the same id updates an entry)
and go out the same way. How often an answer is used, and in how many won bids, is counted
from the requirements it answers, never kept by hand: answers used in won bids rise in the
suggestions; answers older than their review period are flagged "review due".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as columns  # sqlmodel's select takes at most four columns
from sqlmodel import Session, col, select

from orchestrator.bid.team.people import require_grant
from orchestrator.commercial.answer_matching import Candidate, index_library
from orchestrator.context import Context
from orchestrator.decisions.rfp_rules import load_rfp_rules, load_synonyms
from orchestrator.intake.answer_library import LibraryEntry
from orchestrator.lifecycle.table import WON_STATES
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import (
    Compliance,
    Grant,
    LibraryAnswer,
    Opportunity,
    Requirement,
)


def review_due(last_reviewed: date, months: int, today: date) -> bool:
    """True when the answer was last reviewed `months` or more months before `today`."""
    year, month = divmod(last_reviewed.month - 1 + months, 12)
    return today >= date(last_reviewed.year + year, month + 1, min(last_reviewed.day, 28))


def usage(session: Session) -> tuple[dict[str, int], dict[str, int]]:
    """Per library answer: requirements it answers, and those of won bids."""
    used = dict(
        session.exec(
            select(Requirement.library_answer, func.count())
            .where(col(Requirement.library_answer).is_not(None))
            .group_by(col(Requirement.library_answer))
        ).all()
    )
    won = dict(
        session.exec(
            select(
                Requirement.library_answer, func.count(func.distinct(Requirement.opportunity_id))
            )
            .where(col(Requirement.library_answer).is_not(None))
            .where(Requirement.opportunity_id == Opportunity.id)
            .where(col(Opportunity.state).in_([s.value for s in WON_STATES]))
            .group_by(col(Requirement.library_answer))
        ).all()
    )
    return {str(k): int(v) for k, v in used.items()}, {str(k): int(v) for k, v in won.items()}


def candidates_for(session: Session, ctx: Context) -> list[Candidate]:
    """Every library answer as the matcher reads it (won-bid uses, review due)."""
    months = load_rfp_rules(ctx.settings.rules_dir).library.review_months
    today = ctx.clock().date()
    _, won = usage(session)
    rows = session.execute(
        columns(
            col(LibraryAnswer.answer_id),
            col(LibraryAnswer.question),
            col(LibraryAnswer.tags),
            col(LibraryAnswer.last_reviewed),
            col(LibraryAnswer.review_months),
            col(LibraryAnswer.answer),
            col(LibraryAnswer.compliance),
        ).order_by(col(LibraryAnswer.answer_id))
    ).all()
    candidates = []
    for answer_id, question, tags, reviewed, review_months, answer, compliance in rows:
        candidates.append(
            Candidate(
                answer_id,
                question,
                tuple(str(t) for t in tags or ()),
                won.get(answer_id, 0),
                review_due(reviewed, review_months or months, today),
                answer,
                compliance.value if isinstance(compliance, Compliance) else str(compliance),
            )
        )
    return candidates


@dataclass(frozen=True)
class LibraryImport:
    added: int
    updated: int
    unchanged: int


def import_library(ctx: Context, entries: list[LibraryEntry], *, by: str) -> LibraryImport:
    """Add or update library answers (by id) in one transaction; by a library editor or an
    admin (the company's answers are not any bid's: a role on a bid is not enough), or the
    process's own automation (`bid demo`'s starter library)."""
    default_months = load_rfp_rules(ctx.settings.rules_dir).library.review_months
    with transaction(ctx.engine) as session:
        editor = require_grant(session, by, [Grant.LIBRARY_EDITOR], "change the answer library")
        held = {e.answer_id: e for e in session.exec(select(LibraryAnswer)).all()}
        added = updated = unchanged = 0
        now = ctx.clock()
        for entry in entries:
            row = held.get(entry.answer_id)
            values: dict[str, Any] = {
                "question": entry.question,
                "answer": entry.answer,
                "compliance": entry.compliance,
                "tags": list(entry.tags),
                "owner": entry.owner,
                "owner_role": entry.owner_role,
                "last_reviewed": entry.last_reviewed,
                "review_months": entry.review_months or default_months,
            }
            if row is None:
                session.add(
                    LibraryAnswer(
                        answer_id=entry.answer_id, updated_by=editor, updated_at=now, **values
                    )
                )
                added += 1
                continue
            if all(getattr(row, key) == value for key, value in values.items()):
                unchanged += 1
                continue
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_by, row.updated_at = editor, now
            session.add(row)
            updated += 1
    if added or updated:
        with reading(ctx.engine) as session:
            candidates = candidates_for(session, ctx)
        rules_dir = ctx.settings.rules_dir
        index_library(
            candidates,
            load_rfp_rules(rules_dir).library,
            load_synonyms(rules_dir),
            ctx.settings.cache_dir,
        )
    return LibraryImport(added, updated, unchanged)


def library_rows(ctx: Context, *, tag: str | None = None) -> list[dict[str, Any]]:
    """Every library answer with its usage counts and whether its review is due."""
    default_months = load_rfp_rules(ctx.settings.rules_dir).library.review_months
    today = ctx.clock().date()
    with reading(ctx.engine) as session:
        used, won = usage(session)
        entries = session.exec(select(LibraryAnswer).order_by(col(LibraryAnswer.answer_id))).all()
    return [
        {
            "id": e.answer_id,
            "question": e.question,
            "answer": e.answer,
            "compliance": e.compliance.value,
            "tags": list(e.tags),
            "owner": e.owner,
            "owner_role": e.owner_role,
            "last_reviewed": e.last_reviewed.isoformat(),
            "review_months": e.review_months,
            "used": used.get(e.answer_id, 0),
            "used_in_won_bids": won.get(e.answer_id, 0),
            "review_due": review_due(e.last_reviewed, e.review_months or default_months, today),
        }
        for e in entries
        if tag is None or tag.lower() in e.tags
    ]
