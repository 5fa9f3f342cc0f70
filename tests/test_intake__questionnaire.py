"""A customer's questionnaire as customers send them: merged cells, empty rows, duplicate
ids, formulas, 5,000 rows, Jinja in the text. Imported or refused naming the row and field,
never a traceback and never a silent drop."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from orchestrator.config import load_settings
from orchestrator.context import Context
from orchestrator.decisions.rfp_rules import RfpRules, load_rfp_rules
from orchestrator.errors import InputError
from orchestrator.intake.questionnaire import parse_questionnaire
from tests.conftest import RunCli
from tests.factories import new_bid

HEADER: list[object] = ["ID", "Section", "Requirement", "Mandatory"]


@pytest.fixture(scope="module")
def rules() -> RfpRules:
    return load_rfp_rules(load_settings().rules_dir)


def _book(path: Path, rows: list[list[object]], merge: str | None = None) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    book.save(path)
    return path


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [HEADER, ["1", "A", "x", "Y"], ["1", "A", "y", "Y"]],
            "row 3, field 'id': duplicate requirement id '1' (first on row 2); nothing imported",
        ),
        (
            [HEADER, ["1", "A", "=1+1", "Y"]],
            "row 2, field 'text': is a formula without a saved result",
        ),
        (
            [HEADER, ["1", "A", "x", "perhaps"]],
            "row 2, field 'mandatory': 'perhaps' is neither mandatory nor optional",
        ),
    ],
    ids=["duplicate-id", "formula", "mandatory"],
)
def test_a_bad_row_refuses_the_file_naming_row_and_field(
    tmp_path: Path, rules: RfpRules, rows: list[list[object]], message: str
) -> None:
    path = _book(tmp_path / "q.xlsx", rows)
    with pytest.raises(InputError) as raised:
        parse_questionnaire(path, rules)
    assert str(raised.value).startswith(f"{path}, ")
    assert message in str(raised.value)


def test_empty_rows_merged_sections_and_jinja_are_read_as_written(
    tmp_path: Path, rules: RfpRules
) -> None:
    rows: list[list[object]] = [
        ["Tender WAN-17"],
        HEADER,
        ["1", "Network", "{{ 7*7 }} {% if true %}x{% endif %}", "Y"],
        [None, None, None, None],
        ["2", None, "Second requirement", "N"],
    ]
    path = _book(tmp_path / "q.xlsx", rows, merge="B3:B5")
    parsed = parse_questionnaire(path, rules)
    assert parsed.header_row == 2
    assert [(r.req_id, r.row, r.section, r.text, r.mandatory) for r in parsed.requirements] == [
        ("1", 3, "Network", "{{ 7*7 }} {% if true %}x{% endif %}", True),
        ("2", 5, "Network", "Second requirement", False),
    ]


def test_five_thousand_rows_are_imported(tmp_path: Path, rules: RfpRules) -> None:
    rows: list[list[object]] = [HEADER]
    rows += [[f"R{n}", f"S{n % 7}", f"Requirement {n}", "Y" if n % 2 else "N"] for n in range(5000)]
    parsed = parse_questionnaire(_book(tmp_path / "big.xlsx", rows), rules)
    assert len(parsed.requirements) == 5000
    assert parsed.requirements[-1].req_id == "R4999" and parsed.requirements[-1].row == 5001


def test_the_command_refuses_with_one_line_and_exit_code_2(
    ctx: Context, run_cli: RunCli, tmp_path: Path
) -> None:
    ref = new_bid(ctx)
    path = _book(tmp_path / "q.xlsx", [HEADER, ["1", "A", "x", "Y"], ["1", "A", "y", "Y"]])
    result = run_cli("rfp", "import", ref, str(path))
    assert result.code == 2, result
    assert "Traceback" not in result.err
    assert result.err.strip().splitlines()[0].startswith("error: ")
    assert "row 3, field 'id': duplicate requirement id" in result.err
    status = run_cli("rfp", "status", ref, "--json")
    assert status.code == 0, status.err
    assert '"total": 0' in status.out
