"""The limits of issue 23 (`config.LIMITS`), each refused before the work in one line that
names the limit: free text, amounts, dates, sites per bid, and the shape of a workbook read
from its zip directory and a streaming scan of its XML (never by opening it)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from orchestrator.bid.opportunity.onboarding import import_sites
from orchestrator.config import LIMITS
from orchestrator.context import Context
from orchestrator.errors import InputError
from orchestrator.intake import limits
from orchestrator.intake.limits import MergedRange, check_workbook
from orchestrator.intake.opportunity import read_sites
from tests.factories import PEOPLE, new_bid, sites
from tests.support import bombs
from tests.support.dump import dump

TODAY = date(2026, 12, 6)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("x" * 4_097, "more than the limit of 4,096 bytes for free text"),
        ("é" * 2_049, "4,098 bytes, more than the limit"),  # bytes, not characters
        ("why\x1b[2J", "control character"),
        ("a\x00b", "control character"),
        ("a\x85b", "control character"),
        ("   ", "is empty"),
    ],
)
def test_free_text_refusals_name_the_limit(text: str, says: str) -> None:
    with pytest.raises(InputError) as refused:
        limits.free_text(text, "reason")
    assert says in str(refused.value) and refused.value.field == "reason"
    assert "\n" not in str(refused.value)


def test_free_text_takes_4_kb_and_line_breaks_where_allowed() -> None:
    assert limits.free_text(" " + "x" * 4_096 + " ", "reason") == "x" * 4_096
    assert limits.free_text("one\ntwo", "reason", newlines=True) == "one\ntwo"
    with pytest.raises(InputError):
        limits.free_text("one\ntwo", "title")
    assert limits.optional_free_text("  ", "reason") is None


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 1e308, -1.0, 1e12 + 1])
def test_amounts_are_finite_and_bounded(value: float) -> None:
    with pytest.raises(InputError, match="the limit for amounts"):
        limits.amount(value, "monthly_price")


def test_dates_within_ten_years() -> None:
    assert limits.date_within(date(2036, 12, 31), TODAY, "valid_until") == date(2036, 12, 31)
    with pytest.raises(InputError, match="more than 10 years ahead"):
        limits.date_within(date(2999, 1, 1), TODAY, "valid_until")
    with pytest.raises(InputError, match="more than 10 years ahead"):
        limits.date_within(date(2037, 1, 1), TODAY, "valid_until")


def test_a_firm_quote_valid_until_2999_is_refused(tmp_path: Path) -> None:
    from orchestrator.commercial.quotes import catalogue_for
    from orchestrator.config import load_settings
    from orchestrator.intake.quotes import parse_quote_file

    file = tmp_path / "quotes.csv"
    file.write_text(
        "site_id,provider,kind,monthly_cost,one_off_cost,currency,valid_until\n"
        "S0001,in-house,firm,100,0,EUR,2999-12-31\n"
    )
    with pytest.raises(InputError) as refused:
        parse_quote_file(file, ["S0001"], catalogue_for(load_settings().rules_dir), today=TODAY)
    line = str(refused.value)
    assert "row 2" in line and "field 'valid_until'" in line and "the limit for dates" in line


# --- sites per bid ------------------------------------------------------------------------------


def test_a_sites_file_past_the_limit_is_refused_at_the_row_that_breaks_it(tmp_path: Path) -> None:
    file = tmp_path / "sites.csv"
    rows = [f"M{n},HQ,Wetstraat 16,1000,Brussel,BE,100,fiber" for n in range(20_001)]
    file.write_text(
        "site_id,name,street,postcode,city,country,bandwidth_mbps,access\n" + "\n".join(rows)
    )
    with pytest.raises(InputError) as refused:
        read_sites(file, existing_ids=["A", "B"])
    assert "more than 20,000 sites in one bid" in str(refused.value)
    assert refused.value.row == 20_000  # 2 held + 19,999 read


def test_the_service_refuses_sites_that_take_a_bid_past_the_limit(ctx: Context) -> None:
    ref = new_bid(ctx, site_count=6)
    before = dump(ctx.engine)
    with pytest.raises(InputError, match="the limit of sites per bid"):
        import_sites(ctx, ref, sites(LIMITS.sites_per_bid - 5, prefix="N"), PEOPLE["bid_manager"])
    assert dump(ctx.engine) == before


# --- workbooks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(bombs.BOMBS))
def test_every_bomb_is_refused_before_openpyxl_opens_it(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openpyxl

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("openpyxl opened a bomb")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    with pytest.raises(InputError) as refused:
        check_workbook("bomb.xlsx", bombs.built(name))
    assert "(the limit" in str(refused.value)


def test_merged_ranges_are_read_from_the_xml_across_chunk_boundaries() -> None:
    # 60,000 merged ranges: about 1.7 MB of <mergeCell> tags, across two 1 MB chunk
    # boundaries of the streaming scan
    ranges = [f"{a}{n}:{b}{n}" for a, b in ("DE", "GH", "JK") for n in range(10, 20_010)]
    content = bombs.workbook(bombs._header_and_rows(3), ranges)
    roomy = replace(LIMITS, merged_ranges=100_000, merged_cells=10_000_000)
    found = check_workbook("big.xlsx", content, roomy)["Requirements"]
    assert len(found) == len(ranges)  # each once: none lost, none counted twice
    assert len(set(found)) == len(ranges)
    assert found[0] == MergedRange(10, 4, 10, 5) and found[-1] == MergedRange(
        20_009, 10, 20_009, 11
    )


def test_the_limits_are_one_object_a_check_can_be_given() -> None:
    tight = replace(LIMITS, merged_ranges=2)
    content = bombs.workbook(bombs._header_and_rows(3), ["D1:E1", "D2:E2", "D3:E3"])
    with pytest.raises(InputError, match="more than 2 merged ranges"):
        check_workbook("three.xlsx", content, tight)
    assert len(check_workbook("three.xlsx", content)["Requirements"]) == 3
