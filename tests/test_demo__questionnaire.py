"""The demo's questionnaire step: a small customer questionnaire imported and answered from
the starter answer library, the answers written back into a copy of the customer's file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rich.console import Console

from orchestrator.bid.answers.rfp import rfp_status
from orchestrator.cli.demo import DEMO_QUESTIONNAIRE, DEMO_TEAM, answer_the_questionnaire
from orchestrator.context import Context
from tests.factories import new_bid


def test_demo_answers_its_questionnaire_from_the_starter_library(
    ctx: Context, tmp_path: Path
) -> None:
    ref = new_bid(ctx, team={role: person["email"] for role, person in DEMO_TEAM.items()})
    out = io.StringIO()
    answer_the_questionnaire(ctx, ref, tmp_path, Console(file=out, width=200))
    status = rfp_status(ctx, ref)
    assert (status.total, status.answered, status.mandatory_open) == (6, 6, ())
    assert status.compliance == {"comply": 6, "partial": 0, "non_comply": 0, "n_a": 0}
    # the mandatory answers reviewed (the freeze waits for it); the optional one to review
    assert status.mandatory_unreviewed == () and status.compliance_to_review == 1
    assert status.states == {"open": 0, "draft": 0, "answered": 1, "reviewed": 5}
    with (tmp_path / "questionnaire-answered.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Req ID", "Section", "Requirement", "Mandatory", "Response", "Compliance"]
    assert [r[:4] for r in rows[1:]] == [list(q) for q in DEMO_QUESTIONNAIRE]
    assert all(r[4] and r[5] == "C" for r in rows[1:])
    assert rows[3][4].startswith("Yes. Traffic is classified at the site router")  # QoS
    printed = out.getvalue()
    assert "6 requirements from questionnaire.csv" in printed
    assert "6 answered from it" in printed
    assert "5 mandatory answers reviewed by" in " ".join(printed.split())
