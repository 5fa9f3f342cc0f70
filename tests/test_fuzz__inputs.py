"""Hundreds of malformed inputs — opportunity YAML, sites CSV, quote files, questionnaires
(the workbook bombs of issue 23 among them), answer libraries, account files, free text and
numbers on the command line, Slack payloads — generated field by field. For each one: exit
code 2 (or HTTP 4xx), one line naming the file, the row and the field (or the limit), no
traceback, a database dump byte-identical before and after, and (issue 23) each refused
within 10 s and 500 MB.

Everything runs in this process (`bid.main`, the Slack ASGI app), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

from orchestrator.bid.progress import services
from orchestrator.context import Context
from orchestrator.doors.slack import SlackAsgi, build_door
from orchestrator.slack.blocks import ButtonValue
from tests.conftest import RunCli
from tests.factories import PEOPLE, new_bid
from tests.support import bombs
from tests.support.dump import dump
from tests.support.slack_api import (
    SLACK_USERS,
    FakeSlackApi,
    block_actions,
    form_body,
    signed_post,
    slack_context,
    view_submission,
)


@dataclass(frozen=True)
class Case:
    """One malformed file: its bytes, and the row and field its one error line must name."""

    name: str
    content: bytes
    row: int | None = None
    field: str | None = None
    suffix: str = ".in"
    says: str | None = None
    """Text the error line must hold (the limit it names)."""


# --- opportunity YAML --------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "account": {"name": "Fuzz Logistics", "tier": "top"},
    "title": "Managed WAN",
    "source": "rfp",
    "rfp_reference": "FUZZ-1",
    "submission_deadline": "2027-01-15",
    "decision_date": "2027-03-01",
    "estimated_revenue": {"short_term": 300000, "medium_term": 500000, "long_term": 400000},
    "currency": "EUR",
    "team": {"bid_manager": "bm@example.com", "finance": {"email": "fin@example.com"}},
    "bants": {
        "budget_eur": 1500000,
        "authority": "decision_maker",
        "need": "clear",
        "timeframe_months": 6,
        "sales_ready": True,
    },
    "services": ["managed_network"],
    "strategy": "QoS first",
    "strategic_fit": "high",
    "pricing": {"contract_months": 36, "discount_pct": 5},
    "order": {"legal_entity": "Fuzz Logistics NV"},
}

YAML_FLOATS = (".inf", "-.inf", ".nan", "1.0e+309", "1.0e+300")
TEXT_FIELDS = ("title", "rfp_reference", "account.name", "team.finance.name", "strategy")
BAD_TEXT = {
    "nul": "a\0b",
    "escape": "a\x1b[2Jb",
    "bell": "a\x07b",
    "too-long": "x" * 10_001,
    "delete": "a\x7fb",
    "vertical tab": "a\x0bb",
    "C1 control": "a\x9bb",
}
BAD_VALUES: dict[str, list[Any]] = {
    "account.tier": ["gold", 3, None, ["top"]],
    "source": ["fax", "", 7],
    "submission_deadline": ["2027-02-30", "2027-13-01", "tomorrow", "2020-01-01", "2999-01-01", 5],
    "decision_date": ["2027-01-01", "2027-02-29", "soon"],
    "estimated_revenue.short_term": [".inf", "-.inf", ".nan", "1.0e+309", "1.0e+300", -1, "x"],
    "estimated_revenue.medium_term": [2**70, -5, "lots", 1e13],
    "currency": ["XYZ", "eur", "EURO", "", 978],
    "bants.budget_eur": [".inf", -1, "much", 1e15],
    "bants.authority": ["ceo", 1],
    "bants.need": ["urgent"],
    "bants.timeframe_months": [-1, 10**6, 2.5, "soon"],
    "bants.sales_ready": ["perhaps", [1]],
    "services": [[], ["teleport"], "managed_network", [["managed_network"]]],
    "strategic_fit": ["huge", 1],
    "team.bid_manager": ["not-an-email", "a@b", "a b@c.de", {"email": "x@y.z", "role": "boss"}],
    "team.finance.slack_user_id": ["evil", "<@U1>", "u123"],
    "team.finance.email": ["fin", "", "x" * 250 + "@example.com"],
    "pricing.contract_months": [0, 500, 12.5, "three years"],
    "pricing.discount_pct": [100, -1, ".inf"],
    "pricing.monthly_price": [
        {"teleport": 10},
        {"fiber": -1},
        {"fiber": ".inf"},
        {"fiber": ".nan"},
        {"fiber": "1.0e+308"},
        {"fiber": 1e13},
        "cheap",
    ],
    "pricing.one_off_price": [{"fiber": ".nan"}, {"fiber": "1.0e+308"}],
    "order.contract_start": ["2999-01-01", "someday"],
    "incumbent": ["sometimes", [True]],
}


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    for key in keys[:-1]:
        data = data[key]
    data[keys[-1]] = value


def _yaml(data: dict[str, Any], replacements: dict[str, str] | None = None) -> bytes:
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=False)
    for old, new in (replacements or {}).items():
        text = text.replace(old, new)
    return text.encode("utf-8")


def _copy() -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(BASE))
    return copied


def yaml_cases() -> Iterator[Case]:
    for path, values in BAD_VALUES.items():
        for index, value in enumerate(values):
            data = _copy()
            marker = f"__FUZZ{index}__"
            if isinstance(value, dict) and any(
                isinstance(v, str) and (v.startswith(".") or "e+" in v) for v in value.values()
            ):
                _set(data, path, {k: marker for k in value})
                raw = next(iter(value.values()))
                content = _yaml(data, {f"'{marker}'": raw, marker: raw})
            elif (isinstance(value, str) and value.startswith((".", "-."))) or value in (
                "1.0e+309",
                "1.0e+300",
            ):
                _set(data, path, marker)
                content = _yaml(data, {f"'{marker}'": str(value), marker: str(value)})
            else:
                _set(data, path, value)
                content = _yaml(data)
            yield Case(f"yaml {path}={value!r}"[:80], content, field=None)
    for path in TEXT_FIELDS:
        for kind, value in BAD_TEXT.items():
            data = _copy()
            _set(data, path, value)
            yield Case(f"yaml {path} {kind}", _yaml(data))
    for path in ("title", "account", "estimated_revenue", "services", "source"):
        data = _copy()
        keys = path.split(".")
        del data[keys[0]]
        yield Case(f"yaml missing {path}", _yaml(data))
    for extra in ("colour", "team.ceo", "bants.mood", "account.size"):
        data = _copy()
        _set(data, extra, "ceo@example.com")
        yield Case(f"yaml unknown {extra}", _yaml(data))
    good = _yaml(_copy()).decode()
    raw = {
        "empty": b"",
        "a list": b"- 1\n- 2\n",
        "a scalar": b"just text\n",
        "two documents": good.encode() + b"---\n" + good.encode(),
        "latin-1": good.replace("Managed WAN", "Caf\xe9").encode("latin-1"),
        "utf-16": good.encode("utf-16"),
        "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "tab indent": good.replace("  name: Fuzz", "\tname: Fuzz").encode(),
        "unclosed flow": b"title: [unclosed\n",
        "unclosed quote": b'title: "unclosed\n',
        "bad indent": b"account:\n  name: A\n tier: top\n",
        "duplicate key": (good + "title: Again\n").encode(),
        "duplicate nested key": good.replace("tier: top", "tier: top\n  tier: major").encode(),
        "deep nesting": b"title: " + b"[" * 3000 + b"]" * 3000 + b"\n",
        "deep mapping": b"title: " + b"{a: " * 200 + b"1" + b"}" * 200 + b"\n",
        "alias bomb": (
            b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            b"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
            b"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
        ),
        "many aliases": b"x: &x 1\ny: [" + b",".join([b"*x"] * 150) + b"]\n",
        "unknown alias": b"title: *nothing\n",
        "python tag": b"title: !!python/object/apply:os.system ['id']\n",
        "oversized": good.encode() + b"#" * 1_000_100,
        "control char": b"title: a\x07b\n",
        "bom and garbage": b"\xef\xbb\xbf\xff\xfe",
    }
    for name, content in raw.items():
        yield Case(f"yaml {name}", content)


# --- sites CSV ----------------------------------------------------------------------------------

SITE_HEADER = [
    "site_id",
    "name",
    "street",
    "postcode",
    "city",
    "country",
    "bandwidth_mbps",
    "access",
]
GOOD_SITE = ["F1", "HQ", "Wetstraat 16", "1000", "Brussel", "BE", "100", "fiber"]
BAD_SITE_VALUES: dict[str, list[str]] = {
    "site_id": ["", "=1+1", "-x", "S 1", "S\x1b1", "x" * 65, "S0001", "Ünï"],
    "name": ["", "a\x1bb", "a\x07b", "x" * 301],
    "street": ["", "a\x01b", "x" * 301],
    "postcode": ["", "1\x0b0"],
    "city": ["", "c\x7fity"],
    "country": ["", "XX", "BEL", "1"],
    "bandwidth_mbps": ["", "0", "-1", "abc", "1e3", "1.5", str(2**63), str(2**31), "100001"],
    "access": ["", "pigeon", "FIBRE"],
}
BAD_SITE_OPTIONAL: dict[str, list[str]] = {
    "requested_install_date": ["2999-01-01", "2027-02-30", "soon"],
    "contact_name": ["a\x1bb"],
}


def _csv(rows: list[list[str]]) -> bytes:
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def sites_cases() -> Iterator[Case]:
    for column, values in BAD_SITE_VALUES.items():
        for value in values:
            row = list(GOOD_SITE)
            row[SITE_HEADER.index(column)] = value
            rows = [SITE_HEADER, ["F0", *GOOD_SITE[1:]], row]
            yield Case(f"sites {column}={value[:20]!r}", _csv(rows), row=3, field=column)
    yield Case(
        "sites service", _csv([[*SITE_HEADER, "service"], [*GOOD_SITE, "teleport"]]), 2, "service"
    )
    for column, values in BAD_SITE_OPTIONAL.items():
        for value in values:
            rows = [[*SITE_HEADER, column], [*GOOD_SITE, value]]
            yield Case(f"sites {column}={value[:20]!r}", _csv(rows), row=2, field=column)
    many = [SITE_HEADER, *([f"M{n}", *GOOD_SITE[1:]] for n in range(20_001))]
    yield Case("sites 20,001 in one bid", _csv(many), says="the limit of sites per bid")
    yield Case("sites extra value", _csv([SITE_HEADER, [*GOOD_SITE, "surprise"]]), row=2)
    yield Case(
        "sites duplicate id", _csv([SITE_HEADER, GOOD_SITE, GOOD_SITE]), row=3, field="site_id"
    )
    for missing in ("site_id", "country", "access"):
        header = [c for c in SITE_HEADER if c != missing]
        row = [v for c, v in zip(SITE_HEADER, GOOD_SITE, strict=True) if c != missing]
        yield Case(f"sites missing column {missing}", _csv([header, row]), row=1)
    yield Case("sites unknown column", _csv([[*SITE_HEADER, "vlan"], [*GOOD_SITE, "7"]]), row=1)
    good = _csv([SITE_HEADER, GOOD_SITE])
    raw = {
        "empty": b"",
        "header only": _csv([SITE_HEADER]),
        "latin-1": good.replace(b"Brussel", "Br\xfcssel".encode("latin-1")),
        "utf-16": good.decode().encode("utf-16"),
        "binary": b"\x00\x01\x02\x03",
        "nul in a cell": good.replace(b"HQ", b"H\x00Q"),
        "huge cell": _csv([SITE_HEADER, [*GOOD_SITE[:1], "x" * 5000, *GOOD_SITE[2:]]]),
        "unterminated quote": good + b'F2,"HQ,street\n',
    }
    for name, content in raw.items():
        yield Case(f"sites {name}", content)


# --- quote files ------------------------------------------------------------------------------

QUOTE_HEADER = [
    "site_id",
    "provider",
    "kind",
    "monthly_cost",
    "one_off_cost",
    "currency",
    "valid_until",
]
GOOD_QUOTE = ["S0001", "in-house", "budgetary", "100", "0", "EUR", "2027-06-30"]
BAD_QUOTE_VALUES: dict[str, list[str]] = {
    "site_id": ["", "S9999", "=1+1", "S0001\x1b"],
    "provider": ["", "acme-telecom", "IN-HOUSE", "in_house"],
    "kind": ["", "final", "1"],
    "monthly_cost": [
        "",
        "-1",
        "nan",
        "inf",
        "1e400",
        "1,000",
        "abc",
        "1e12",
        "12.1234567",
        "1e308",
        "NaN",
        "+1",
        "1_000",
    ],
    "one_off_cost": ["", "-0.5", "Infinity", "0x10", "1e308", "-inf"],
    "currency": ["", "XYZ", "€"],
    "valid_until": ["", "2027-02-30", "30/06/2027", "soon", "2027-6-31", "2999-12-31"],
}


def quotes_cases() -> Iterator[Case]:
    for column, values in BAD_QUOTE_VALUES.items():
        for value in values:
            row = list(GOOD_QUOTE)
            row[QUOTE_HEADER.index(column)] = value
            yield Case(
                f"quotes {column}={value[:20]!r}", _csv([QUOTE_HEADER, row]), row=2, field=column
            )
    for column, value in (
        ("provider_reference", "a\x1bb"),
        ("provider_reference", "x" * 101),
        ("delivery_days", "0"),
        ("delivery_days", "1001"),
        ("delivery_days", "-3"),
        ("delivery_days", "1e3"),
    ):
        rows = [[*QUOTE_HEADER, column], [*GOOD_QUOTE, value]]
        yield Case(f"quotes {column}={value[:20]!r}", _csv(rows), row=2, field=column)
    yield Case("quotes extra value", _csv([QUOTE_HEADER, [*GOOD_QUOTE, "x"]]), row=2)
    yield Case(
        "quotes second budgetary", _csv([QUOTE_HEADER, GOOD_QUOTE, GOOD_QUOTE]), 3, "site_id"
    )
    for missing in ("provider", "valid_until"):
        header = [c for c in QUOTE_HEADER if c != missing]
        row = [v for c, v in zip(QUOTE_HEADER, GOOD_QUOTE, strict=True) if c != missing]
        yield Case(f"quotes missing column {missing}", _csv([header, row]), 1, missing)
    good = _csv([QUOTE_HEADER, GOOD_QUOTE])
    raw = {
        "empty": b"",
        "header only": _csv([QUOTE_HEADER]),
        "latin-1": good + "S0002,in-house,budgetary,1,0,EUR,2027-06-30 \xe9\n".encode("latin-1"),
        "binary": b"PK\x03\x04\x00\x00",
        "field over 128 KB": _csv([QUOTE_HEADER, ["S0001", "x" * 131_073, *GOOD_QUOTE[2:]]]),
        "nul": good.replace(b"EUR", b"E\x00R"),
    }
    for name, content in raw.items():
        yield Case(f"quotes {name}", content)


# --- questionnaires, the workbook bombs among them -------------------------------------------

QUESTIONNAIRE_HEADER = ["Req ID", "Requirement", "Mandatory"]


def questionnaire_cases() -> Iterator[Case]:
    for name in bombs.BOMBS:
        yield Case(f"questionnaire {name}", bombs.built(name), suffix=".xlsx", says="the limit")
    good = bombs.questionnaire()
    raw = {
        "not a zip": (b"PK\x03\x04 not really", ".xlsx"),
        "a truncated workbook": (good[: len(good) // 2], ".xlsx"),
        "a zip without a workbook": (_zip({"hello.txt": b"hi"}), ".xlsx"),
        "a text file named .xlsx": (b"Req ID,Requirement\nR1,x\n", ".xlsx"),
        "an old .xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".xls"),
        "a .txt": (b"Req ID,Requirement\n", ".txt"),
        "an empty .csv": (b"", ".csv"),
        "a .csv without a header": (b"a,b\nc,d\n", ".csv"),
        "a binary .csv": (b"\x00\x01\x02", ".csv"),
        "a latin-1 .csv": ("Req ID,Requirement\nR1,Caf\xe9\n".encode("latin-1"), ".csv"),
    }
    for name, (content, suffix) in raw.items():
        yield Case(f"questionnaire {name}", content, suffix=suffix)
    rows = {
        "an id twice": [["R1", "a", "M"], ["R1", "b", "M"]],
        "no text": [["R1", "", "M"]],
        "no id": [["", "text", "M"]],
        "a control character": [["R1", "a\x1bb", "M"]],
        "an unreadable mandatory": [["R1", "text", "perhaps"]],
        "text past the limit": [["R1", "x" * 10_001, "M"]],
        "an id past 100 characters": [["R" * 101, "text", "M"]],
    }
    for name, body in rows.items():
        content = _csv([QUESTIONNAIRE_HEADER, *body])
        yield Case(f"questionnaire csv {name}", content, row=2, suffix=".csv")
    many = [QUESTIONNAIRE_HEADER, *([f"R{n}", "text", "M"] for n in range(20_100))]
    yield Case("questionnaire 20,100-row csv", _csv(many), suffix=".csv", says="rows")


def _zip(parts: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


# --- answer libraries -------------------------------------------------------------------------

LIBRARY_HEADER = ["id", "question", "answer", "compliance", "tags", "owner", "last_reviewed"]
GOOD_ANSWER = [
    "SEC-001",
    "Do you hold ISO 27001?",
    "Yes.",
    "comply",
    "security",
    "sofie@example.com",
    "2026-09-01",
]
BAD_LIBRARY_VALUES: dict[str, list[str]] = {
    "id": ["", "=cmd", "a b", "x" * 65, "SEC\x1b"],
    "question": ["", "a\x07b", "x" * 20_001],
    "answer": ["", "a\x1b[2Jb", "x" * 20_001],
    "compliance": ["always", "1"],
    "tags": ["x" * 61, "a\x1bb"],
    "owner": ["", "sofie", "a b@c.de", "x\x7f@y.z"],
    "last_reviewed": ["", "2026-02-30", "2999-01-01", "yesterday"],
}


def library_cases() -> Iterator[Case]:
    for column, values in BAD_LIBRARY_VALUES.items():
        for value in values:
            row = list(GOOD_ANSWER)
            row[LIBRARY_HEADER.index(column)] = value
            yield Case(
                f"library {column}={value[:20]!r}",
                _csv([LIBRARY_HEADER, row]),
                row=2,
                field=column,
                suffix=".csv",
            )
    months = [*LIBRARY_HEADER, "review_months"]
    for value in ("0", "121", "often", "1e3"):
        yield Case(
            f"library review_months={value}",
            _csv([months, [*GOOD_ANSWER, value]]),
            row=2,
            field="review_months",
            suffix=".csv",
        )
    yield Case(
        "library duplicate id",
        _csv([LIBRARY_HEADER, GOOD_ANSWER, GOOD_ANSWER]),
        row=3,
        field="id",
        suffix=".csv",
    )
    yield Case(
        "library unknown column",
        _csv([[*LIBRARY_HEADER, "secret"], [*GOOD_ANSWER, "x"]]),
        row=1,
        suffix=".csv",
    )
    raw = {
        "empty csv": (b"", ".csv"),
        "header only": (_csv([LIBRARY_HEADER]), ".csv"),
        "yaml without answers": (b"questions: []\n", ".yaml"),
        "yaml answers not a list": (b"answers: 7\n", ".yaml"),
        "yaml entry not a mapping": (b"answers:\n  - just text\n", ".yaml"),
        "yaml unknown field": (b"answers:\n  - id: A\n    colour: red\n", ".yaml"),
        "yaml alias bomb": (
            b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            b"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
            b"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
            ".yaml",
        ),
        "a .json": (b"{}", ".json"),
        "oversized csv": (_csv([LIBRARY_HEADER]) + b"#" * 20_000_100, ".csv"),
    }
    for name, (content, suffix) in raw.items():
        yield Case(f"library {name}", content, suffix=suffix)


# --- account files ----------------------------------------------------------------------------

ACCOUNT_HEADER = ["name", "tier", "country", "owner", "potential_revenue_eur"]
GOOD_ACCOUNT = ["Fuzz Logistics", "major", "BE", "am@example.com", "250000"]
BAD_ACCOUNT_VALUES: dict[str, list[str]] = {
    "name": ["", "a\x1bb", "x" * 301, "a\x7fb"],
    "tier": ["", "gold", "TOP"],
    "country": ["XX", "BEL", "1"],
    "owner": ["am", "a b@c.de", "x" * 250 + "@example.com"],
    "potential_revenue_eur": ["inf", "nan", "1e308", "-1", "1e12", "lots", "1,000", "Infinity"],
}


def account_cases() -> Iterator[Case]:
    for column, values in BAD_ACCOUNT_VALUES.items():
        for value in values:
            row = list(GOOD_ACCOUNT)
            row[ACCOUNT_HEADER.index(column)] = value
            yield Case(
                f"accounts {column}={value[:20]!r}",
                _csv([ACCOUNT_HEADER, row]),
                row=2,
                field=column,
            )
    end = [*ACCOUNT_HEADER, "competitor_contract_end"]
    for value in ("2999-01-01", "2027-02-30", "soon"):
        yield Case(
            f"accounts competitor_contract_end={value}",
            _csv([end, [*GOOD_ACCOUNT, value]]),
            row=2,
            field="competitor_contract_end",
        )
    yield Case(
        "accounts twice, by case and accents",
        _csv([ACCOUNT_HEADER, GOOD_ACCOUNT, ["FUZZ LOGISTICS", *GOOD_ACCOUNT[1:]]]),
        row=3,
        field="name",
    )
    yield Case("accounts short row", _csv([ACCOUNT_HEADER, GOOD_ACCOUNT[:2]]), row=2)
    for header in (["tier"], ["name", "tier", "colour"], ["name", "tier", "tier"]):
        yield Case(f"accounts header {header}", _csv([header, ["x"] * len(header)]), row=1)
    raw = {
        "empty": b"",
        "binary": b"\x00\x01",
        "latin-1": _csv([ACCOUNT_HEADER]) + "Caf\xe9,major,BE,,\n".encode("latin-1"),
        "unterminated quote": _csv([ACCOUNT_HEADER]) + b'"Fuzz,major\n',
    }
    for name, content in raw.items():
        yield Case(f"accounts {name}", content)


# --- free text and numbers on the command line --------------------------------------------------


@dataclass(frozen=True)
class ArgsCase:
    """A command whose option breaks a limit: one line naming the field, exit 2."""

    name: str
    args: tuple[str, ...]
    field: str


def args_cases(ref: str) -> Iterator[ArgsCase]:
    long_reason = "x" * 4_097
    for name, reason in (
        ("4 KB + 1", long_reason),
        ("128 KB", "y" * 131_072),
        ("escape", "why\x1b[2J"),
        ("NUL", "a\x00b"),
        ("bell", "a\x07b"),
        ("multi-byte past 4 KB", "é" * 2_049),
    ):
        yield ArgsCase(
            f"withdraw --reason {name}",
            ("withdraw", ref, "--reason", reason, "--category", "price"),
            "reason",
        )
        yield ArgsCase(
            f"result --reason {name}", ("result", ref, "--lost", "--reason", reason), "reason"
        )
        yield ArgsCase(
            f"update --reason {name}",
            ("opportunity", "update", ref, "--reason", reason, "--contract-months", "24"),
            "reason",
        )
    for value in ("inf", "nan", "1e308", "-inf", "-1", "1e13"):
        for option, key in (("--monthly", "monthly_price"), ("--one-off", "one_off_price")):
            yield ArgsCase(
                f"pricing {option} fiber={value}",
                ("pricing", ref, "--by", PEOPLE["bid_manager"], option, f"fiber={value}"),
                f"pricing.{key}.fiber",
            )
    for value in ("nan", "inf", "100", "-1"):
        yield ArgsCase(
            f"pricing --discount {value}",
            ("pricing", ref, "--by", PEOPLE["bid_manager"], "--discount", value),
            "pricing.discount_pct",
        )
    yield ArgsCase(
        "update --deadline 2999",
        ("opportunity", "update", ref, "--reason", "x", "--deadline", "2999-01-01"),
        "deadline",
    )


# --- Slack payloads -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SlackCase:
    name: str
    body: bytes
    timestamp: str | None = None


def slack_cases(ref: str, version: str) -> Iterator[SlackCase]:
    good = ButtonValue(ref=ref, area="financial", proposal_hash=version).encode()
    click = block_actions("UFIN", "approval_approve", good)
    for stamp in ("", "soon", "-1", "1.5", "9" * 30, " 1700000000"):
        yield SlackCase(f"slack timestamp {stamp!r}", form_body(click).encode(), timestamp=stamp)
    values = [
        "",
        "not json",
        "[]",
        '{"ref": 7}',
        json.dumps({"ref": ref, "area": "financial"}),
        json.dumps({"ref": ref, "area": "catering", "hash": version}),
        json.dumps({"ref": ref, "hash": version}),
        json.dumps({"ref": ref, "area": ["financial"], "hash": version}),
        json.dumps({"ref": ref, "area": "financial", "hash": 12}),
        "[" * 50_000,
    ]
    for action_id in ("approval_approve", "approval_reject"):
        for value in values:
            payload = block_actions("UFIN", action_id, value)
            yield SlackCase(f"slack {action_id} value {value[:30]!r}", form_body(payload).encode())
    for outcome in ("", "maybe", None):
        value = json.dumps({"ref": ref, "outcome": outcome})
        payload = block_actions("UBM", "go_no_go_bid", value)
        yield SlackCase(f"slack go/no-go outcome {outcome!r}", form_body(payload).encode())
    shapes: list[Any] = [
        "x",
        7,
        None,
        [],
        {},
        {"type": "block_actions"},
        {"type": "block_actions", "user": "UFIN"},
        {"type": "block_actions", "user": {"id": ""}},
        {"type": "block_actions", "user": {"id": 5}},
        {"type": "block_actions", "user": {"id": "UFIN"}},
        {"type": "block_actions", "user": {"id": "UFIN"}, "actions": []},
        {"type": "block_actions", "user": {"id": "UFIN"}, "actions": {"a": 1}},
        {"type": "block_actions", "user": {"id": "UFIN"}, "actions": ["x"]},
        {"type": "block_actions", "user": {"id": "UFIN"}, "actions": [{"action_id": None}]},
        {
            "type": "block_actions",
            "user": {"id": "UFIN"},
            "actions": [{"action_id": "approval_approve", "value": good, "action_ts": 5}],
        },
        {**click, "channel": "D0001"},
        {**click, "container": []},
        {"type": "view_submission", "user": {"id": "UFIN"}},
        {"type": "view_submission", "user": {"id": "UFIN"}, "view": "v"},
        {"type": "view_submission", "user": {"id": "UFIN"}, "view": {"callback_id": 3}},
    ]
    for shape in shapes:
        body = urlencode({"payload": json.dumps(shape)}).encode()
        yield SlackCase(f"slack payload {json.dumps(shape)[:40]}", body)
    metadata_values = ["", "x", "[]", "{}", json.dumps({"value": good, "channel": 5})]
    for callback in ("approval_reject_modal", "go_no_go_modal"):
        for metadata in metadata_values:
            payload = view_submission("UFIN", callback, metadata, {})
            yield SlackCase(
                f"slack {callback} metadata {metadata[:20]!r}", form_body(payload).encode()
            )
        states: list[dict[str, Any]] = [{"values": []}, {"values": {"reason": 5}}, {"nothing": 1}]
        for state in states:
            payload = view_submission("UFIN", callback, json.dumps({"value": good}), {})
            payload["view"]["state"] = state
            yield SlackCase(f"slack {callback} state {state}", form_body(payload).encode())
    for raw in (b"payload=%ff%fe", b"payload=a&payload=b", b"payload=" + b"%5B" * 1000):
        yield SlackCase(f"slack raw {raw[:20]!r}", raw)


def _count_slack_cases() -> int:
    return len(list(slack_cases("OPP-0001", "0" * 64)))


FILE_CASES = {
    "yaml": list(yaml_cases()),
    "sites": list(sites_cases()),
    "quotes": list(quotes_cases()),
    "library": list(library_cases()),
    "accounts": list(account_cases()),
}
"""The questionnaires are generated in their test (the bombs take seconds to build)."""
QUESTIONNAIRE_COUNT = len(bombs.BOMBS) + 10 + 7 + 1
SECONDS_PER_REFUSAL = 10.0
MEGABYTES_PER_REFUSAL = 500


def test_the_suite_generates_at_least_450_malformed_inputs() -> None:
    total = (
        sum(len(cases) for cases in FILE_CASES.values())
        + QUESTIONNAIRE_COUNT
        + len(list(args_cases("OPP-0001")))
        + _count_slack_cases()
    )
    assert total >= 450, total


# --- running them -----------------------------------------------------------------------------


def _check_one_line(case: Case, code: int, out: str, err: str, path: Path) -> list[str]:
    problems: list[str] = []
    lines = err.strip().splitlines()
    if code != 2:
        problems.append(f"exit code {code}")
    if "Traceback" in out + err:
        problems.append("a traceback")
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines: {lines[:3]}")
    elif not lines[0].startswith(f"error: {path}"):
        problems.append(f"does not name the file: {lines[0][:120]}")
    elif case.says is not None and case.says not in lines[0]:
        problems.append(f"does not say '{case.says}': {lines[0][:160]}")
    else:
        if case.row is not None and f"row {case.row}" not in lines[0]:
            problems.append(f"does not name row {case.row}: {lines[0][:160]}")
        if case.field is not None and f"field '{case.field}'" not in lines[0]:
            problems.append(f"does not name field {case.field}: {lines[0][:160]}")
    return [f"{case.name}: {p}" for p in problems]


def _run_files(
    run_cli: RunCli,
    ctx: Context,
    tmp_path: Path,
    cases: list[Case],
    command: Callable[[Path], tuple[str, ...]],
) -> None:
    assert run_cli("whoami").code == 0  # the folder's admin exists before the first dump
    before = dump(ctx.engine)
    failures: list[str] = []
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for number, case in enumerate(cases):
        path = tmp_path / f"case-{number:03d}{case.suffix}"
        path.write_bytes(case.content)
        started = time.monotonic()
        result = run_cli(*command(path))
        took = time.monotonic() - started
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
        if took > SECONDS_PER_REFUSAL or grown > MEGABYTES_PER_REFUSAL:
            failures.append(f"{case.name}: refused after {took:.1f} s, peak +{grown:.0f} MB")
        failures += _check_one_line(case, result.code, result.out, result.err, path)
        after = dump(ctx.engine)
        if after != before:
            failures.append(f"{case.name}: the database changed")
            before = after
    assert failures == [], "\n".join(failures)


def test_malformed_opportunity_files(run_cli: RunCli, ctx: Context, tmp_path: Path) -> None:
    _run_files(
        run_cli, ctx, tmp_path, FILE_CASES["yaml"], lambda p: ("opportunity", "create", str(p))
    )


def test_malformed_site_files(run_cli: RunCli, ctx: Context, tmp_path: Path) -> None:
    ref = new_bid(ctx, site_count=6)
    _run_files(
        run_cli, ctx, tmp_path, FILE_CASES["sites"], lambda p: ("sites", "import", ref, str(p))
    )


def test_malformed_quote_files(run_cli: RunCli, ctx: Context, tmp_path: Path) -> None:
    ref = new_bid(ctx, site_count=6)
    _run_files(
        run_cli,
        ctx,
        tmp_path,
        FILE_CASES["quotes"],
        lambda p: ("quotes", "import", ref, str(p), "--by", PEOPLE["sales_support"]),
    )


def test_malformed_questionnaires_and_workbook_bombs(
    run_cli: RunCli, ctx: Context, tmp_path: Path
) -> None:
    cases = list(questionnaire_cases())
    assert len(cases) == QUESTIONNAIRE_COUNT
    ref = new_bid(ctx, site_count=6)
    _run_files(
        run_cli,
        ctx,
        tmp_path,
        cases,
        lambda p: ("rfp", "import", ref, str(p), "--by", PEOPLE["bid_manager"]),
    )


def test_malformed_answer_libraries(run_cli: RunCli, ctx: Context, tmp_path: Path) -> None:
    new_bid(ctx)
    _run_files(
        run_cli,
        ctx,
        tmp_path,
        FILE_CASES["library"],
        lambda p: ("rfp", "library", "import", str(p)),
    )


def test_malformed_account_files(run_cli: RunCli, ctx: Context, tmp_path: Path) -> None:
    new_bid(ctx)
    _run_files(
        run_cli, ctx, tmp_path, FILE_CASES["accounts"], lambda p: ("account", "import", str(p))
    )


def test_free_text_and_numbers_past_their_limits(run_cli: RunCli, ctx: Context) -> None:
    ref = new_bid(ctx, site_count=6)
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
    services.run_to_wait(ctx, ref)
    assert run_cli("whoami").code == 0
    before = dump(ctx.engine)
    failures: list[str] = []
    for case in args_cases(ref):
        result = run_cli(*case.args)
        lines = result.err.strip().splitlines()
        if result.code != 2 or len(lines) != 1 or "Traceback" in result.err:
            failures.append(f"{case.name}: exit {result.code}, {lines[:2]}")
        elif f"field '{case.field}'" not in lines[0]:
            failures.append(f"{case.name}: names no field {case.field}: {lines[0][:160]}")
        if dump(ctx.engine) != before:
            failures.append(f"{case.name}: the database changed")
            before = dump(ctx.engine)
    assert failures == [], "\n".join(failures)


def test_malformed_slack_payloads(ctx: Context) -> None:
    with FakeSlackApi(users=dict(SLACK_USERS)) as api:
        slack_ctx = slack_context(ctx, api)
        ref = new_bid(slack_ctx)
        services.run_to_wait(slack_ctx, ref)
        services.decide(slack_ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
        services.run_to_wait(slack_ctx, ref)
        from orchestrator.store.db import reading

        with reading(ctx.engine) as session:
            version = services.get_opportunity(session, ref).proposal_hash or ""
        door = build_door(slack_ctx)
        asgi = SlackAsgi(door)
        before = dump(ctx.engine)
        failures: list[str] = []
        try:
            for case in slack_cases(ref, version):
                answer = signed_post(asgi, case.body, timestamp=case.timestamp)
                if not 400 <= answer.status < 500:
                    failures.append(f"{case.name}: HTTP {answer.status} {answer.text[:80]}")
                elif "\n" in answer.text.strip() or not answer.text.strip():
                    failures.append(f"{case.name}: not one line: {answer.text[:80]!r}")
                elif answer.status == 400 and "field '" not in answer.text:
                    failures.append(f"{case.name}: names no field: {answer.text[:80]}")
                assert door.wait_idle(timeout=30)
                if dump(ctx.engine) != before:
                    failures.append(f"{case.name}: the database changed")
                    before = dump(ctx.engine)
        finally:
            door.close()
        assert api.calls("chat.postEphemeral") == []  # nothing reached a listener
        assert failures == [], "\n".join(failures)


def test_the_generators_start_from_accepted_files(tmp_path: Path) -> None:
    """Each case breaks one thing: the documents they are made from are accepted."""
    from datetime import date

    from orchestrator.commercial.quotes import catalogue_for
    from orchestrator.config import load_settings
    from orchestrator.intake.opportunity import parse_opportunity, parse_sites
    from orchestrator.intake.quotes import parse_quote_file

    yaml_file = tmp_path / "good.yaml"
    yaml_file.write_bytes(_yaml(_copy()))
    assert parse_opportunity(yaml_file, date(2026, 11, 27)).title == "Managed WAN"
    sites_file = tmp_path / "good-sites.csv"
    sites_file.write_bytes(_csv([SITE_HEADER, GOOD_SITE]))
    assert [s.site_id for s in parse_sites(sites_file)] == ["F1"]
    quotes_file = tmp_path / "good-quotes.csv"
    quotes_file.write_bytes(_csv([QUOTE_HEADER, GOOD_QUOTE]))
    catalogue = catalogue_for(load_settings().rules_dir)
    assert len(parse_quote_file(quotes_file, ["S0001"], catalogue)) == 1
