"""The questionnaire's review workflow as the bid team lives it: the library answers what it
is sure of (compliance "to review"), drafts the rest for each requirement's owner, a
requirement is reassigned to an expert, an answer starts from a suggestion and is edited, a
reviewer accepts or sends it back, and the design is not frozen until every mandatory
answer is reviewed. Runs on SQLite and PostgreSQL (the `ctx` fixture)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlmodel import select

from orchestrator.bid.answers.library import import_library
from orchestrator.bid.answers.rfp import (
    accept_suggestions,
    answer_requirement,
    import_questionnaire,
    rfp_status,
    suggestions,
)
from orchestrator.bid.answers.rfp_review import assign_requirement, review_requirement
from orchestrator.bid.team import people
from orchestrator.context import Context
from orchestrator.decisions.production_rules import parse_exit_rules
from orchestrator.decisions.rfp_rules import load_rfp_rules
from orchestrator.errors import InputError, NotPermitted, TransitionRefused
from orchestrator.intake.answer_library import parse_library
from orchestrator.intake.questionnaire import parse_questionnaire
from orchestrator.store.db import reading
from orchestrator.store.models import Grant, LibraryAnswer, Requirement, RequirementState
from tests.conftest import RunCli
from tests.factories import PEOPLE, new_bid
from tests.support.dump import dump
from tests.support.slack_api import admin_of

ROWS = [
    ("R1", "Network", "The network shall support the IPv6 protocol alongside IPv4.", "Y"),
    ("R2", "Security", "All data in transit over public infrastructure must be encrypted.", "Y"),
    ("R3", "Service", "Describe how an unresolved ticket is escalated within your company.", "N"),
    ("R4", "Other", "Do you supply IoT SIM cards with a pooled data bundle for our vans?", "N"),
    ("R5", "Legal", "Do you accept the draft contract without changes, incl. liability?", "Y"),
]


def _bid_with_questionnaire(ctx: Context, tmp_path: Path) -> str:
    ref = new_bid(ctx)
    import_library(  # as the process's own automation (`bid demo` does the same)
        ctx,
        parse_library(ctx.settings.rules_dir / "answer_library.yaml", ctx.clock().date()),
        by="system",
    )
    path = tmp_path / "questionnaire.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ID", "Section", "Requirement", "Mandatory"])
        writer.writerows(ROWS)
    rules = load_rfp_rules(ctx.settings.rules_dir)
    import_questionnaire(ctx, ref, parse_questionnaire(path, rules), actor=PEOPLE["bid_manager"])
    return ref


def _rows(ctx: Context) -> dict[str, Requirement]:
    with reading(ctx.engine) as session:
        return {r.req_id: r for r in session.exec(select(Requirement)).all()}


def test_the_library_answers_what_it_is_sure_of_and_drafts_the_rest(
    ctx: Context, tmp_path: Path
) -> None:
    ref = _bid_with_questionnaire(ctx, tmp_path)
    rows = _rows(ctx)
    # owners by section: the bid's team member holding the section's role
    assert (rows["R5"].owner_role, rows["R5"].owner) == ("legal", PEOPLE["legal"])
    assert rows["R1"].owner == PEOPLE["solution_consultant"]
    assert {r.state for r in rows.values()} == {RequirementState.OPEN}

    found = {s.req_id: s for s in suggestions(ctx, ref, limit=3)}
    best = found["R1"].to_json()["suggestions"][0]
    assert best["answer_id"] == "IP-001" and best["auto_accept"] is True
    assert best["answer"].startswith("Yes. The backbone, the managed routers")
    assert best["compliance"] == "comply" and 0 <= best["score"] <= 100

    done = accept_suggestions(ctx, ref, by=PEOPLE["bid_manager"])
    rows = _rows(ctx)
    assert "R1" in done.answered and "R4" not in done.answered
    ip = rows["R1"]
    assert (ip.state, ip.library_answer, ip.compliance_confirmed) == (
        RequirementState.ANSWERED,
        "IP-001",
        False,
    )
    status = rfp_status(ctx, ref).to_json()
    by_id = {r["id"]: r for r in status["requirements"]}
    assert by_id["R1"]["compliance"] == "to_review"
    assert status["compliance_to_review"] == len(done.answered)
    # below the threshold: a draft for its owner, not an answer
    for req in done.drafts:
        assert rows[req].state == RequirementState.DRAFT and rows[req].answer is None
        assert rows[req].draft and rows[req].draft_library
    assert set(done.answered) | set(done.drafts) <= {r[0] for r in ROWS}
    assert status["states"]["answered"] == len(done.answered)
    # a second pass changes nothing
    assert accept_suggestions(ctx, ref, by=PEOPLE["bid_manager"]).answered == ()


def test_assign_answer_edited_review_reject_and_save_to_library(
    ctx: Context, tmp_path: Path
) -> None:
    ref = _bid_with_questionnaire(ctx, tmp_path)
    assign_requirement(ctx, ref, "R2", to=PEOPLE["operations"], by=PEOPLE["bid_manager"])
    assert _rows(ctx)["R2"].owner == PEOPLE["operations"]
    before = dump(ctx.engine)
    with pytest.raises(InputError, match=r"no person with e-mail nobody@example\.com"):
        assign_requirement(ctx, ref, "R2", to="nobody@example.com", by=PEOPLE["bid_manager"])
    assert dump(ctx.engine) == before

    edited = "Yes. All traffic on internet paths is encrypted with IPsec AES-256-GCM."
    answer_requirement(ctx, ref, "R2", by=PEOPLE["operations"], library="SEC-002", text=edited)
    row = _rows(ctx)["R2"]
    assert (row.answer, row.library_answer, row.state) == (
        edited,
        "SEC-002",
        RequirementState.ANSWERED,
    )
    assert row.compliance_confirmed  # a person answered: the compliance is theirs

    with pytest.raises(NotPermitted, match="another person reviews it"):
        review_requirement(ctx, ref, "R2", by=PEOPLE["operations"])
    with pytest.raises(InputError, match="needs --reason"):
        review_requirement(ctx, ref, "R2", by=PEOPLE["solution_consultant"], reject=True)
    review_requirement(
        ctx, ref, "R2", by=PEOPLE["solution_consultant"], reject=True, reason="name the IKE"
    )
    row = _rows(ctx)["R2"]
    assert (row.state, row.answer, row.draft, row.review_note) == (
        RequirementState.DRAFT,
        None,
        edited,
        "name the IKE",
    )
    with pytest.raises(TransitionRefused, match="only an answer can be reviewed"):
        review_requirement(ctx, ref, "R2", by=PEOPLE["solution_consultant"])

    answer_requirement(ctx, ref, "R2", by=PEOPLE["operations"], library="SEC-002", text=edited)
    with pytest.raises(NotPermitted, match="library_editor"):
        review_requirement(ctx, ref, "R2", by=PEOPLE["solution_consultant"], save_to_library=True)
    assert _rows(ctx)["R2"].state == RequirementState.ANSWERED  # nothing kept of the refusal
    assert people.grant(ctx, PEOPLE["solution_consultant"], Grant.LIBRARY_EDITOR, by=admin_of(ctx))
    done = review_requirement(
        ctx, ref, "R2", by=PEOPLE["solution_consultant"], save_to_library=True
    )
    assert done.state == RequirementState.REVIEWED and done.library == "SEC-002"
    row = _rows(ctx)["R2"]
    assert (row.reviewed_by, row.compliance_confirmed) == (PEOPLE["solution_consultant"], True)
    with reading(ctx.engine) as session:
        entry = session.exec(
            select(LibraryAnswer).where(LibraryAnswer.answer_id == "SEC-002")
        ).one()
    assert (entry.answer, entry.updated_by) == (edited, PEOPLE["solution_consultant"])
    assert entry.last_reviewed == ctx.clock().date()
    # a changed answer needs its review again
    answer_requirement(ctx, ref, "R2", by=PEOPLE["operations"], text="Yes, IPsec.")
    assert _rows(ctx)["R2"].state == RequirementState.ANSWERED
    assert rfp_status(ctx, ref).mandatory_unreviewed == ("R1", "R2", "R5")


def test_the_freeze_waits_for_the_mandatory_answers_review(tmp_path: Path) -> None:
    rules = parse_exit_rules(Path(__file__).parents[1] / "rules" / "production_exit.yaml")
    assert rules.freeze_requires == ("rfp_reviewed",)
    (criterion,) = [c for c in rules.criteria if c.id == "rfp_reviewed"]
    assert criterion.measure == "rfp_mandatory_reviewed" and criterion.tiers == ("*",)
    assert criterion.holds(0, 0) and not criterion.holds(2, 3)
    broken = tmp_path / "production_exit.yaml"
    text = (Path(__file__).parents[1] / "rules" / "production_exit.yaml").read_text()
    broken.write_text(text.replace("requires: [rfp_reviewed]", "requires: [rfp_reviewd]"))
    with pytest.raises(Exception, match="unknown criteria \\['rfp_reviewd'\\]"):
        parse_exit_rules(broken)


def test_the_cli_suggests_with_full_texts_and_accepts_at_the_calibrated_threshold(
    ctx: Context, tmp_path: Path, run_cli: RunCli
) -> None:
    ref = _bid_with_questionnaire(ctx, tmp_path)
    shown = run_cli("rfp", "suggest", ref, "--top", "2", "--json")
    assert shown.code == 0, shown.err
    data = {r["requirement"]: r for r in json.loads(shown.out)}
    assert len(data["R1"]["suggestions"]) == 2
    assert data["R1"]["suggestions"][0]["answer_id"] == "IP-001"
    assert "dual-stack" in data["R1"]["suggestions"][0]["answer"]
    refused = run_cli("rfp", "suggest", ref, "70")
    assert refused.code == 2 and "--accept" in refused.err and "Traceback" not in refused.err
    accepted = run_cli("rfp", "suggest", ref, "--accept", "--json")
    assert accepted.code == 0, accepted.err
    result = json.loads(accepted.out)
    assert "R1" in result["answered"] and "calibrated threshold >= 90" in result["message"]
    review = run_cli(
        "rfp",
        "review",
        ref,
        "R1",
        "--reject",
        "--reason",
        "too short",
        "--json",
        "--by",
        PEOPLE["solution_consultant"],
    )
    assert review.code == 0, review.err
    assert json.loads(review.out)["state"] == "draft"
    assign = run_cli("rfp", "assign", ref, "R3", "--to", PEOPLE["operations"], "--json")
    assert assign.code == 0, assign.err
    assert json.loads(assign.out)["owner"] == PEOPLE["operations"]
    table = run_cli("rfp", "suggest", ref)
    assert table.code == 0, table.err  # R1 was sent back: suggested again, as sure as before
    assert "IP-001" in table.out and "accept" in table.out and "SUP-004" not in table.out
    listed = run_cli("rfp", "status", ref, "--all")
    assert listed.code == 0, listed.err
    flat = " ".join(listed.out.split())
    assert "states: open" in flat and "compliance to review" in flat, flat


def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    ctx: Context, tmp_path: Path, run_cli: RunCli
) -> None:
    ref = _bid_with_questionnaire(ctx, tmp_path)
    run_cli("rfp", "review", ref, "R1", "--reject")  # the folder's first command makes its admin
    before = dump(ctx.engine)
    for args, says in (
        (("rfp", "review", ref, "R1", "--reject"), "needs --reason"),
        (("rfp", "review", ref, "R1", "--reason", "why"), "--reason goes with --reject"),
        (("rfp", "review", ref, "R9"), "has no requirement 'R9'"),
        (("rfp", "assign", ref, "R1", "--to", "nobody@example.com"), "no person with e-mail"),
        (("rfp", "answer", ref, "R1", "--edit"), "--edit starts from a library answer"),
        (("rfp", "answer", ref, "R1", "--library", "NOPE-1"), "no answer NOPE-1"),
        (("rfp", "suggest", ref, "--accept", "101"), "less than or equal to 100"),
    ):
        refused = run_cli(*args)
        assert refused.code == 2, (args, refused)
        assert says in refused.err and "Traceback" not in refused.err, (args, refused.err)
        assert len(refused.err.strip().splitlines()) <= 3, refused.err
    assert dump(ctx.engine) == before
