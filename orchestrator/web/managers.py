"""The managers' pages: the funnel, the forecast, the monthly review, the weekly and
qualification packs and the portfolio matrix, each with links to the bids it names.

    GET /managers                       the index
    GET /managers/funnel?period=…       `bid funnel`
    GET /managers/forecast              `bid forecast`
    GET /managers/monthly?month=…       `bid report monthly` (its figures, as tables)
    GET /managers/weekly                `bid pack weekly`
    GET /managers/qualification         `bid pack qualification`
    GET /managers/portfolio             `bid portfolio`

The figures are computed by the same functions the CLI and the packs call (`funnel.measure`,
`funnel.forecast`, `funnel.report`, `funnel.packs`, `funnel.portfolio`); this module only
lays them out as tables: a cell holding a bid's reference links to the bid's page, a stage
to the bid list in that state, an account to the bids of that account. Read-only; the CLI
shows these figures to anyone with a folder, so here to anyone signed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from orchestrator.context import Context
from orchestrator.store.db import reading
from orchestrator.store.models import Person

REF = re.compile(r"^OPP-\d{4,}$")
PAGES: tuple[tuple[str, str], ...] = (
    ("funnel", "Funnel"),
    ("forecast", "Forecast"),
    ("monthly", "Monthly review"),
    ("weekly", "Weekly pack"),
    ("qualification", "Qualification pack"),
    ("portfolio", "Portfolio"),
)


@dataclass(frozen=True)
class Cell:
    text: str
    href: str | None = None
    number: bool = False


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


def _text(value: Any) -> Cell:
    if value is None:
        return Cell("—")
    if isinstance(value, bool):
        return Cell("yes" if value else "no")
    if isinstance(value, float):
        return Cell(f"{value:,.2f}" if abs(value) < 10 else f"{value:,.0f}", number=True)
    if isinstance(value, int):
        return Cell(f"{value:,}", number=True)
    if isinstance(value, (list, tuple)):
        return Cell(", ".join(str(v) for v in value))
    text = str(value)
    if REF.match(text):
        return Cell(text, f"/bids/{quote(text)}")
    return Cell(text)


def _stage(value: str) -> Cell:
    return Cell(value.replace("_", " "), "/bids?" + urlencode({"scope": "all", "state": value}))


def _account(name: str) -> Cell:
    return Cell(name, "/bids?" + urlencode({"scope": "all", "search": name}))


def table(
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    special: dict[int, Callable[[Any], Cell]] | None = None,
) -> Table:
    """A table of plain values; columns in `special` get their own cell (a link)."""
    made = Table(title, [h.replace("_", " ") for h in header])
    for row in rows:
        made.rows.append(
            [
                (special or {}).get(index, _text)(value) if value is not None else Cell("—")
                for index, value in enumerate(row)
            ]
        )
    return made


def funnel_tables(ctx: Context, period_text: str) -> tuple[str, list[Table]]:
    from orchestrator.decisions.funnel_rules import parse_period, quarter_of
    from orchestrator.funnel.measure import funnel_report

    now = ctx.clock()
    period = parse_period(period_text) if period_text else quarter_of(now.date())
    with reading(ctx.engine) as session:
        result = funnel_report(session, ctx.settings.rules_dir, period, now=now)
    data = result.as_dict()
    columns = [k for k in data["stages"][0] if k != "stage"] if data["stages"] else []
    stages = table(
        "Stages",
        ["stage", *columns],
        [[s["stage"], *(s[k] for k in columns)] for s in data["stages"]],
        {0: _stage},
    )
    shape = table("Shape", list(data["shape"]), [list(data["shape"].values())])
    lede = f"{period.label}: {result.cohort_size} bid(s) in the cohort, as of {now:%Y-%m-%d}"
    return lede, [stages, shape]


def forecast_tables(ctx: Context) -> tuple[str, list[Table]]:
    from orchestrator.funnel.forecast import forecast

    now = ctx.clock()
    with reading(ctx.engine) as session:
        result = forecast(session, ctx.settings.rules_dir, now=now)
    pipeline = table(
        "Weighted pipeline",
        ["stage", "bids", "revenue", "P(win)", "weighted"],
        [[p.stage.value, p.bids, p.revenue, p.probability, p.weighted] for p in result.pipeline],
        {0: _stage},
    )
    months = table(
        "Expected revenue",
        ["period", "committed", "weighted", "expected"],
        [
            [m.period, m.committed, m.weighted, m.expected]
            for m in [*result.months, *result.quarters()]
        ],
    )
    lede = (
        f"taken {now:%Y-%m-%d %H:%M}; {result.undated_bids} open bid(s) without a decision date "
        f"({result.undated_revenue:,.0f}) are not in the months"
    )
    return lede, [pipeline, months]


def monthly_tables(ctx: Context, month_text: str) -> tuple[str, list[Table]]:
    from orchestrator.decisions.funnel_rules import month_of, parse_period
    from orchestrator.funnel.report import monthly_review, review_tables

    now = ctx.clock()
    month = parse_period(month_text) if month_text else month_of(now.date())
    with reading(ctx.engine) as session:
        review = monthly_review(session, ctx.settings.rules_dir, month, now=now)
    tables = [
        table(stem, header, rows, {0: _stage} if stem == "funnel_vs_target" else None)
        for stem, (header, rows) in review_tables(review).items()
    ]
    closed = table(
        "closed_bids",
        ["bid", "account", "outcome", "category", "reason"],
        [[c.ref, c.account, c.outcome, c.category, c.reason] for c in review.closed],
        {1: _account},
    )
    lede = f"{month.label}: {review.new_bids} new bid(s), {len(review.closed)} closed"
    return lede, [closed, *tables]


def weekly_tables(ctx: Context) -> tuple[str, list[Table]]:
    from orchestrator.funnel.packs import weekly_top_accounts

    with reading(ctx.engine) as session:
        pack = weekly_top_accounts(session, ctx.settings.rules_dir, ctx.clock())
    kinds = [kind for kind in pack.totals if kind != "accounts"]  # the pack's own order
    counts = table(
        "Accounts",
        ["account", "tier", "owner", *kinds],
        [[a.name, a.tier, a.owner, *(a.counts()[k] for k in kinds)] for a in pack.accounts],
        {0: _account},
    )
    bids = table(
        "Open bids",
        ["bid", "account", "title", "state", "submission deadline", "decision date"],
        [
            [b.ref, a.name, b.title, b.state, b.submission_deadline, b.decision_date]
            for a in pack.accounts
            for b in a.open_bids
        ],
        {1: _account, 3: _stage},
    )
    due = table(
        "Milestones due or overdue",
        ["bid", "milestone", "due", "owner role", "days"],
        [
            [m.ref, m.name, m.due_at, m.owner_role, m.days]
            for a in pack.accounts
            for m in [*a.overdue, *a.due_soon]
        ],
    )
    approvals = table(
        "Approvals pending",
        ["bid", "area", "round", "requested", "waiting days"],
        [
            [p.ref, p.area, p.round, p.requested_at, p.waiting_days]
            for a in pack.accounts
            for p in a.approvals_pending
        ],
    )
    problems = table(
        "Order problems",
        ["bid", "site", "problem"],
        [[p.ref, p.site_id, p.problem] for a in pack.accounts for p in a.order_problems],
    )
    lede = f"week {pack.week}: {len(pack.accounts)} account(s) of tier {', '.join(pack.tiers)}"
    return lede, [counts, bids, due, approvals, problems]


def qualification_tables(ctx: Context) -> tuple[str, list[Table]]:
    from orchestrator.funnel.packs import qualification_pack

    with reading(ctx.engine) as session:
        pack = qualification_pack(session, ctx.settings.rules_dir, ctx.clock())
    leads = table(
        "Leads to qualify",
        [
            "bid",
            "account",
            "tier",
            "title",
            "state",
            "days waiting",
            "revenue (EUR)",
            "BANTS",
            "missing",
            "recommendation",
            "why",
        ],
        [
            [
                lead.ref,
                lead.account,
                lead.tier,
                lead.title,
                lead.state,
                lead.days_waiting,
                lead.revenue_eur,
                lead.bants_result,
                lead.bants_missing,
                lead.recommendation,
                lead.recommendation_reason,
            ]
            for lead in pack.leads
        ],
        {1: _account, 4: _stage},
    )
    capacity = table(
        "Bid managers' capacity",
        ["bid manager", "open bids", "capacity", "free"],
        [[c.bid_manager, c.open_bids, c.capacity, c.free] for c in pack.capacity],
    )
    waking = table(
        "Accounts waking up",
        ["account", "tier", "owner", "sleeping until", "competitor", "their contract ends"],
        [
            [w.name, w.tier, w.owner, w.sleeping_until, w.competitor, w.competitor_contract_end]
            for w in pack.waking
        ],
        {0: _account},
    )
    return f"{pack.month}: {len(pack.leads)} lead(s)", [leads, capacity, waking]


def portfolio_tables(ctx: Context) -> tuple[str, list[Table]]:
    from orchestrator.funnel.portfolio import portfolio

    with reading(ctx.engine) as session:
        result = portfolio(session, ctx.settings.rules_dir, ctx.clock().date())
    quadrants: dict[str, list[str]] = {}
    for p in result.positions:
        quadrants.setdefault(p.quadrant, []).append(p.name)
    matrix = table(
        "Matrix",
        ["quadrant", "accounts"],
        [[name, len(names)] for name, names in sorted(quadrants.items())],
    )
    tiers = table(
        "Tiers",
        [
            "tier",
            "accounts",
            "revenue (EUR)",
            "potential (EUR)",
            "pipeline (EUR)",
            "placed elsewhere",
        ],
        [
            [t.tier, t.accounts, t.revenue_eur, t.potential_eur, t.pipeline_eur, t.placed_elsewhere]
            for t in result.tiers
        ],
    )
    accounts = table(
        "Accounts",
        [
            "account",
            "tier",
            "quadrant",
            "owner",
            "revenue (EUR)",
            "potential (EUR)",
            "pipeline (EUR)",
            "open bids",
            "won 12m",
            "lost 12m",
            "suggested tier",
        ],
        [
            [
                p.name,
                p.tier,
                p.quadrant,
                p.owner,
                p.revenue_eur,
                p.potential_eur,
                p.pipeline_eur,
                p.open_bids,
                p.won_12m,
                p.lost_12m,
                p.suggestion.to_tier if p.suggestion else None,
            ]
            for p in result.positions
        ],
        {0: _account},
    )
    return f"as of {result.as_of}: {len(result.positions)} account(s)", [matrix, tiers, accounts]


def add(
    app: FastAPI,
    *,
    context: Callable[[], Context],
    render: Callable[..., HTMLResponse],
    signed_in: Callable[[Request], Person],
) -> None:
    """Add the managers' pages to the workspace `app`."""

    def page(
        request: Request, kind: str, lede: str, tables: list[Table], **extra: Any
    ) -> HTMLResponse:
        title = dict(PAGES)[kind]
        values = {"kind": kind, "title": title, "lede": lede, "tables": tables, "pages": PAGES}
        return render(request, "managers.html", {**values, **extra})

    @app.get("/managers", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        signed_in(request)
        return render(request, "managers_index.html", {"pages": PAGES})

    @app.get("/managers/funnel", response_class=HTMLResponse)
    def funnel(request: Request, period: str = "") -> HTMLResponse:
        signed_in(request)
        lede, tables = funnel_tables(context(), period[:20])
        return page(request, "funnel", lede, tables, period=period[:20], ask="period")

    @app.get("/managers/forecast", response_class=HTMLResponse)
    def forecast(request: Request) -> HTMLResponse:
        signed_in(request)
        return page(request, "forecast", *forecast_tables(context()))

    @app.get("/managers/monthly", response_class=HTMLResponse)
    def monthly(request: Request, month: str = "") -> HTMLResponse:
        signed_in(request)
        lede, tables = monthly_tables(context(), month[:20])
        return page(request, "monthly", lede, tables, period=month[:20], ask="month")

    @app.get("/managers/weekly", response_class=HTMLResponse)
    def weekly(request: Request) -> HTMLResponse:
        signed_in(request)
        return page(request, "weekly", *weekly_tables(context()))

    @app.get("/managers/qualification", response_class=HTMLResponse)
    def qualification(request: Request) -> HTMLResponse:
        signed_in(request)
        return page(request, "qualification", *qualification_tables(context()))

    @app.get("/managers/portfolio", response_class=HTMLResponse)
    def portfolio(request: Request) -> HTMLResponse:
        signed_in(request)
        return page(request, "portfolio", *portfolio_tables(context()))
