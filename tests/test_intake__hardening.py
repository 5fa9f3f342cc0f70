"""Inputs that used to crash or to be taken and then stick: each now refused at intake with one
`InputError` naming the file, the row (or YAML line) and the field."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

from orchestrator.bid.opportunity.onboarding import create_opportunity
from orchestrator.commercial.quotes import catalogue_for
from orchestrator.config import load_settings
from orchestrator.context import Context
from orchestrator.errors import InputError, InputErrors
from orchestrator.intake.opportunity import parse_opportunity, parse_sites
from orchestrator.intake.quotes import parse_quote_file
from tests.factories import opportunity_yaml
from tests.support.dump import dump

TODAY = date(2026, 11, 27)
SITES_HEADER = "site_id,name,street,postcode,city,country,bandwidth_mbps,access\n"
GOOD_SITE = "S1,HQ,Wetstraat 16,1000,Brussel,BE,100,fiber\n"
QUOTES_HEADER = "site_id,provider,kind,monthly_cost,one_off_cost,currency,valid_until\n"
GOOD_QUOTE = "S1,in_house,budgetary,100,0,EUR,2027-06-30\n"
OPPORTUNITY = """\
account: {name: Acme, tier: top}
title: WAN
source: rfp
submission_deadline: 2027-01-15
estimated_revenue: {short_term: 100000}
currency: EUR
team: {bid_manager: bm@example.com}
services: [managed_network]
"""


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _refused(call: object, *args: object) -> InputError:
    with pytest.raises(InputError) as refused:
        call(*args)  # type: ignore[operator]
    error = refused.value
    text = str(error)
    assert "\n" not in text and "Traceback" not in text
    return error.problems[0] if isinstance(error, InputErrors) else error


def _quotes(path: Path) -> object:
    return parse_quote_file(path, ["S1", "S2"], catalogue_for(load_settings().rules_dir))


# --- item 4: files that raised a traceback ------------------------------------------------


@pytest.mark.parametrize(
    "parse",
    [
        lambda p: parse_opportunity(p, TODAY),
        lambda p: parse_sites(p),
        _quotes,
    ],
    ids=["opportunity", "sites", "quotes"],
)
@pytest.mark.parametrize(
    ("content", "message", "row"),
    [
        (b"title: caf\xe9\n", "is not UTF-8 text (byte 0xe9)", 1),
        (b"a,b\n\x89PNG\r\n\x1a\n\x00\x00", "is a binary file", 4),
        (b"", None, None),
    ],
    ids=["latin-1", "binary", "empty"],
)
def test_unreadable_files_name_the_file_and_line(
    tmp_path: Path, parse: object, content: bytes, message: str | None, row: int | None
) -> None:
    path = _write(tmp_path / "input.txt", content)
    error = _refused(parse, path)
    assert error.file == str(path)
    if message is not None:
        assert message in str(error) and error.row == row


def test_a_quote_field_past_the_size_limit(tmp_path: Path) -> None:
    path = _write(tmp_path / "q.csv", QUOTES_HEADER + "S1," + "x" * 131_073 + "\n")
    error = _refused(_quotes, path)
    assert (error.row, "field larger than field limit" in str(error)) == (2, True)


def test_an_impossible_date_names_its_line(tmp_path: Path) -> None:
    text = OPPORTUNITY.replace("2027-01-15", "2027-02-30")
    error = _refused(parse_opportunity, _write(tmp_path / "o.yaml", text), TODAY)
    assert error.row == 4 and "'2027-02-30' is not a date" in str(error)


def test_deeply_nested_yaml(tmp_path: Path) -> None:
    path = _write(tmp_path / "o.yaml", "title: " + "[" * 5000 + "]" * 5000 + "\n")
    error = _refused(parse_opportunity, path, TODAY)
    assert "nested deeper than 32 levels" in str(error) and error.row == 1


@pytest.mark.parametrize("bandwidth", [str(2**63), str(2**31), "100001", "1e3", "١٢"])
def test_bandwidth_out_of_any_column(tmp_path: Path, bandwidth: str) -> None:
    path = _write(
        tmp_path / "s.csv", SITES_HEADER + f"S1,HQ,W 1,1000,Brussel,BE,{bandwidth},fiber\n"
    )
    error = _refused(parse_sites, path)
    assert (error.row, error.field) == (2, "bandwidth_mbps")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('title: "WAN\\0"', "title"),
        ('title: "WAN\\e[2J"', "title"),
        ('account: {name: "Ac\\u0000me", tier: top}', "account.name"),
    ],
)
def test_control_characters_in_yaml_text(tmp_path: Path, text: str, field: str) -> None:
    content = OPPORTUNITY.replace("title: WAN", "title: WAN").replace(
        "title: WAN" if field == "title" else "account: {name: Acme, tier: top}", text
    )
    error = _refused(parse_opportunity, _write(tmp_path / "o.yaml", content), TODAY)
    assert error.field == field and "control character" in str(error)


# --- item 6: taken, then stuck ------------------------------------------------------------


@pytest.mark.parametrize("amount", [".inf", "1.0e+309", "1.0e+300", ".nan", "-1"])
def test_revenue_that_no_rule_could_read(tmp_path: Path, amount: str) -> None:
    text = OPPORTUNITY.replace("short_term: 100000", f"short_term: {amount}")
    error = _refused(parse_opportunity, _write(tmp_path / "o.yaml", text), TODAY)
    assert (error.row, error.field) == (5, "estimated_revenue.short_term")


def test_a_currency_without_an_exchange_rate_is_refused_at_intake(
    ctx: Context, tmp_path: Path
) -> None:
    path = opportunity_yaml(ctx, tmp_path / "o.yaml", currency="XYZ")
    spec = parse_opportunity(path, ctx.clock().date())
    before = dump(ctx.engine)
    error = _refused(create_opportunity, ctx, spec)
    line = path.read_text().splitlines().index("currency: XYZ") + 1
    assert (error.file, error.row, error.field) == (str(path), line, "currency")
    assert dump(ctx.engine) == before


# --- item 9: the alias bomb ---------------------------------------------------------------

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    started = time.perf_counter()
    error = _refused(parse_opportunity, _write(tmp_path / "bomb.yaml", BOMB), TODAY)
    assert "YAML aliases" in str(error) and error.row is not None
    assert time.perf_counter() - started < 5  # it used to take 34 s; expansion never happens


def test_a_few_aliases_still_work(tmp_path: Path) -> None:
    text = OPPORTUNITY.replace(
        "team: {bid_manager: bm@example.com}",
        "team:\n  bid_manager: &bm {email: bm@example.com}\n  account_manager: *bm",
    )
    spec = parse_opportunity(_write(tmp_path / "o.yaml", text), TODAY)
    assert {p.email for p in spec.team_people().values()} == {"bm@example.com"}


def test_a_file_past_the_size_limit(tmp_path: Path) -> None:
    path = _write(tmp_path / "o.yaml", OPPORTUNITY + "#" * 1_000_001 + "\n")
    assert "larger than 1,000,000 bytes" in str(_refused(parse_opportunity, path, TODAY))


# --- item 12: silently accepted -------------------------------------------------------------


def test_a_duplicate_yaml_key_names_both_lines(tmp_path: Path) -> None:
    text = OPPORTUNITY + "title: Other WAN\n"
    error = _refused(parse_opportunity, _write(tmp_path / "o.yaml", text), TODAY)
    assert error.row == 9 and "duplicate key 'title' (first on line 2)" in str(error)


def test_extra_values_on_a_quotes_row(tmp_path: Path) -> None:
    path = _write(tmp_path / "q.csv", QUOTES_HEADER + GOOD_QUOTE.rstrip() + ",surprise\n")
    error = _refused(_quotes, path)
    assert (error.row, str(error).endswith("row 2: more values than columns")) == (2, True)


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("S1,H\x1bQ,W 1,1000,Brussel,BE,100,fiber", "name"),
        ("S1,HQ,W 1,10\x0700,Brussel,BE,100,fiber", "postcode"),
        ('S1,"HQ\nnext",W 1,1000,Brussel,BE,100,fiber', "name"),
        ("=1+1,HQ,W 1,1000,Brussel,BE,100,fiber", "site_id"),
        ("-SITE,HQ,W 1,1000,Brussel,BE,100,fiber", "site_id"),
        ("S 1,HQ,W 1,1000,Brussel,BE,100,fiber", "site_id"),
    ],
)
def test_site_text_with_control_characters_and_site_ids_outside_the_charset(
    tmp_path: Path, row: str, field: str
) -> None:
    error = _refused(parse_sites, _write(tmp_path / "s.csv", SITES_HEADER + row + "\n"))
    assert (error.row, error.field) == (2, field)


def test_a_nul_byte_in_a_site_name(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "s.csv", SITES_HEADER.encode() + b"S1,H\x00Q,W 1,1000,B,BE,100,fiber\n"
    )
    error = _refused(parse_sites, path)
    assert (error.row, "binary file" in str(error)) == (2, True)
