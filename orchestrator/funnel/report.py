"""The monthly business review: targets versus actuals, forecast versus results, win/loss.

The study's monthly business review compares targets with actuals, new opportunities and
churn with reasons, for the Belgian and the Dutch results (bid-process.md; study §3.5.2).
`monthly_review` gathers the figures (pure data; the money figures — BE/NL split, revenue
against targets, slipped deals, pipeline change, churn — are defined in `review_money`);
`write_monthly_report` writes them as one HTML page (`templates/report/monthly.html.j2`,
autoescaped), its PDF (headless Chromium, `render.print_pdf`), a PNG chart per figure and
the same figures as CSV files beside it.

Matplotlib is imported inside the writer only, with the Agg backend (no display), so the
CLI starts fast and reports render on servers.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from orchestrator.decisions.funnel_rules import Period, add_months, load_funnel_config, quarter_of
from orchestrator.funnel.contracts import load_contracts
from orchestrator.funnel.forecast import Accuracy, Forecast, build_forecast, forecast_accuracy
from orchestrator.funnel.measure import FunnelReport, as_utc_naive, load_trails, measure_funnel
from orchestrator.funnel.render import print_pdf, write_page
from orchestrator.funnel.review_money import MoneyReview, money_review
from orchestrator.funnel.winloss import (
    ReasonCount,
    SleepingAccount,
    WinRate,
    closed_at,
    outcome,
    reasons_breakdown,
    sleeping_accounts,
    win_rates,
)
from orchestrator.lifecycle.table import ENDS
from orchestrator.store.db import reading
from orchestrator.store.models import format_ref
from orchestrator.text import spreadsheet_cell

TEMPLATE = "report/monthly.html.j2"
ACCURACY_MONTHS = 12
WIN_LOSS_MONTHS = 12
NO_OWNER = "(no owner)"
_FUNNEL_COLUMNS = (
    "count",
    "target",
    "percent_of_target",
    "expected_conversion",
    "conversion",
    "decided",
    "expected_weeks",
    "median_weeks",
    "p90_weeks",
)


@dataclass(frozen=True)
class OwnerMonth:
    """One account manager's bids: open at the month's end, new, won and lost in the month."""

    owner: str
    open: int
    new: int
    won: int
    lost: int


@dataclass(frozen=True)
class ClosedBid:
    """A bid that closed in the month: the churn with its reason."""

    ref: str
    account: str
    outcome: str
    category: str | None
    reason: str | None


@dataclass(frozen=True)
class MonthlyReview:
    month: Period
    as_of: datetime
    funnel: FunnelReport
    forecast: Forecast
    accuracy: tuple[Accuracy, ...]
    win_rates: tuple[WinRate, ...]
    reasons: tuple[ReasonCount, ...]
    owners: tuple[OwnerMonth, ...]
    closed: tuple[ClosedBid, ...]
    new_bids: int
    sleeping: tuple[SleepingAccount, ...]
    money: MoneyReview


def monthly_review(
    session: Session, rules_dir: Path, month: Period, *, now: datetime
) -> MonthlyReview:
    """Every figure of the review of `month`, measured as of its end (or now, if earlier)."""
    config = load_funnel_config(rules_dir)
    trails = load_trails(session)
    contracts = load_contracts(session)
    as_of = min(as_utc_naive(now), month.end_at)
    in_month = [
        t for t in trails if (c := closed_at(t)) is not None and month.start_at <= c < as_of
    ]
    owners: dict[str, Counter[str]] = {}
    for trail in trails:
        counts = owners.setdefault(trail.owner_email or NO_OWNER, Counter())
        state = trail.state_at(as_of)
        counts["open"] += int(state is not None and state not in ENDS)
        counts["new"] += int(month.start_at <= trail.entered_at < as_of)
    for trail in in_month:
        counts = owners[trail.owner_email or NO_OWNER]
        counts[outcome(trail) or ""] += 1
    since = add_months(month, 1 - WIN_LOSS_MONTHS).start_at
    accuracy = [
        a for a in forecast_accuracy(session, rules_dir, now=now) if a.period <= month.label
    ]
    return MonthlyReview(
        month=month,
        as_of=as_of,
        funnel=measure_funnel(trails, config, quarter_of(month.start), now=as_of),
        forecast=build_forecast(
            trails, config, now=now, contracts={c.opportunity_id: c for c in contracts}
        ),
        accuracy=tuple(accuracy[-ACCURACY_MONTHS:]),
        win_rates=tuple(win_rates(trails, since=since, until=as_of)),
        reasons=tuple(reasons_breakdown(trails, since=since, until=as_of)),
        owners=tuple(
            OwnerMonth(owner, c["open"], c["new"], c["won"], c["lost"])
            for owner, c in sorted(owners.items())
        ),
        closed=tuple(
            ClosedBid(
                format_ref(t.opportunity_id),
                t.account_name,
                outcome(t) or t.state,
                t.result_category,
                t.result_reason,
            )
            for t in in_month
        ),
        new_bids=sum(1 for t in trails if month.start_at <= t.entered_at < as_of),
        sleeping=tuple(sleeping_accounts(session, as_utc_naive(now).date())),
        money=money_review(session, trails, contracts, config, month, as_of),
    )


def _tables(review: MonthlyReview) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """The figures as CSV tables: file stem → (header, rows)."""
    return {
        "funnel_vs_target": (
            ["stage", *_FUNNEL_COLUMNS],
            [
                [s.stage.value, *(getattr(s, column) for column in _FUNNEL_COLUMNS)]
                for s in review.funnel.stages
            ],
        ),
        "forecast_vs_actual": (
            ["period", "forecast", "actual", "abs_pct_error", "taken_at"],
            [
                [a.period, a.forecast, a.actual, a.abs_pct_error, a.taken_at.isoformat()]
                for a in review.accuracy
            ],
        ),
        "forecast": (
            ["period", "committed", "weighted", "expected"],
            [[m.period, m.committed, m.weighted, m.expected] for m in review.forecast.months],
        ),
        "win_loss_reasons": (
            ["outcome", "category", "count"],
            [[r.outcome, r.category, r.count] for r in review.reasons],
        ),
        "win_rates": (
            ["group", "key", "won", "lost", "win_rate"],
            [[w.group, w.key, w.won, w.lost, w.rate] for w in review.win_rates],
        ),
        "bids_per_owner": (
            ["owner", "open", "new", "won", "lost"],
            [[o.owner, o.open, o.new, o.won, o.lost] for o in review.owners],
        ),
        "countries": (
            [
                "country",
                "new_bids",
                "won",
                "lost",
                "pipeline_eur",
                "order_intake_eur",
                "order_intake_target_eur",
                "recurring_revenue_eur",
                "recurring_revenue_target_eur",
                "one_off_revenue_eur",
            ],
            [
                [
                    c.country,
                    c.new_bids,
                    c.won,
                    c.lost,
                    c.pipeline_eur,
                    c.order_intake_eur,
                    c.order_intake_target_eur,
                    c.recurring_revenue_eur,
                    c.recurring_revenue_target_eur,
                    c.one_off_revenue_eur,
                ]
                for c in review.money.countries
            ],
        ),
        "slipped_deals": (
            ["bid", "account", "country", "state", "decision_date", "days_late", "revenue_eur"],
            [
                [s.ref, s.account, s.country, s.state, s.decision_date, s.days_late, s.revenue_eur]
                for s in review.money.slipped
            ],
        ),
        "pipeline_change": (
            ["month", "at", "bids", "value_eur"],
            [[p.label, p.at.isoformat(), p.bids, p.value_eur] for p in review.money.pipeline],
        ),
        "churn": (
            [
                "contract",
                "account",
                "tier",
                "country",
                "end_date",
                "monthly_recurring_eur",
                "category",
                "reason",
            ],
            [
                [
                    c.contract,
                    c.account,
                    c.tier,
                    c.country,
                    c.end_date.isoformat(),
                    c.monthly_recurring_eur,
                    c.reason_category,
                    c.reason,
                ]
                for c in review.money.churn
            ],
        ),
    }


review_tables = _tables
"""The review's figures as tables (the workspace's monthly page shows the CSVs' content)."""


def _write_csv(path: Path, header: list[str], rows: Sequence[Sequence[Any]]) -> None:
    """A figure as CSV; text cells (owner e-mails, categories) cannot start a formula."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(
            ["" if value is None else spreadsheet_cell(value) for value in row] for row in rows
        )


def _charts(review: MonthlyReview, out_dir: Path) -> dict[str, str]:
    """Draw the four charts as PNG files; returns figure name → file name."""
    import matplotlib

    matplotlib.use("Agg")
    # Labels are user text (owner e-mails, categories): `$…$` must not be read as mathtext.
    with matplotlib.rc_context({"text.parse_math": False}):
        return _draw_charts(review, out_dir)


def _draw_charts(review: MonthlyReview, out_dir: Path) -> dict[str, str]:
    from matplotlib.figure import Figure

    charts: dict[str, str] = {}

    def save(figure: Any, name: str) -> None:
        figure.tight_layout()
        figure.savefig(out_dir / f"{name}.png", dpi=100, metadata={"Software": None})
        charts[name] = f"{name}.png"

    stages = review.funnel.stages
    figure = Figure(figsize=(9, 4))
    axes = figure.add_subplot()
    positions = list(range(len(stages)))
    axes.bar([p - 0.2 for p in positions], [s.count for s in stages], 0.4, label="actual")
    axes.bar([p + 0.2 for p in positions], [s.target or 0 for s in stages], 0.4, label="target")
    axes.set_xticks(positions, [s.stage.value.replace("_", "\n") for s in stages], fontsize=7)
    axes.set_title(f"Funnel vs target, {review.funnel.period.label}")
    axes.legend()
    save(figure, "funnel_vs_target")

    figure = Figure(figsize=(9, 4))
    axes = figure.add_subplot()
    past = list(review.accuracy)
    ahead = list(review.forecast.months)
    labels = [a.period for a in past] + [m.period for m in ahead]
    x = list(range(len(labels)))
    axes.bar(x[: len(past)], [a.actual for a in past], 0.6, label="actual won revenue")
    axes.plot(x[: len(past)], [a.forecast for a in past], "o-", color="black", label="forecast")
    axes.bar(x[len(past) :], [m.committed for m in ahead], 0.6, label="committed")
    axes.bar(
        x[len(past) :],
        [m.weighted for m in ahead],
        0.6,
        bottom=[m.committed for m in ahead],
        label="weighted pipeline",
    )
    axes.set_xticks(x, labels, rotation=60, fontsize=7)
    axes.set_title("Forecast vs actual (past), expected revenue (ahead)")
    axes.legend(fontsize=7)
    save(figure, "forecast_vs_actual")

    figure = Figure(figsize=(9, 4))
    axes = figure.add_subplot()
    outcomes = sorted({r.outcome for r in review.reasons})
    categories = sorted({r.category for r in review.reasons})
    bottoms = [0] * len(outcomes)
    for category in categories:
        heights = [
            sum(r.count for r in review.reasons if r.outcome == o and r.category == category)
            for o in outcomes
        ]
        axes.bar(outcomes, heights, bottom=bottoms, label=category)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    axes.set_title("Win/loss reasons (last 12 months)")
    if categories:
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    save(figure, "win_loss_reasons")

    figure = Figure(figsize=(9, 4))
    axes = figure.add_subplot()
    owners = list(review.owners)
    y = list(range(len(owners)))
    for i, (field, label) in enumerate((("open", "open"), ("new", "new"), ("won", "won"))):
        axes.barh(
            [p + (i - 1) * 0.27 for p in y],
            [getattr(o, field) for o in owners],
            0.27,
            label=label,
        )
    axes.set_yticks(y, [o.owner for o in owners], fontsize=7)
    axes.set_title(f"Bids per owner, {review.month.label}")
    axes.legend(fontsize=7)
    save(figure, "bids_per_owner")

    figure = Figure(figsize=(9, 4))
    axes = figure.add_subplot()
    countries = list(review.money.countries)
    x = list(range(len(countries)))
    for offset, field, label in (
        (-0.3, "order_intake_eur", "order intake"),
        (-0.1, "order_intake_target_eur", "target"),
        (0.1, "recurring_revenue_eur", "recurring revenue"),
        (0.3, "recurring_revenue_target_eur", "target"),
    ):
        axes.bar(
            [p + offset for p in x],
            [getattr(c, field) or 0.0 for c in countries],
            0.2,
            label=label,
        )
    axes.set_xticks(x, [c.country for c in countries])
    axes.set_title(f"Revenue against target (EUR), {review.month.label}")
    axes.legend(fontsize=7)
    save(figure, "revenue_vs_target")
    return charts


PDF_NAME = "monthly-review.pdf"


def write_monthly_report(
    review: MonthlyReview, templates_dir: Path, out_dir: Path, *, pdf: bool = True
) -> Path:
    """Write index.html, its PDF (when Chromium is installed), the PNG charts and the CSV
    figures into `out_dir`; returns the page."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = _tables(review)
    for name, (header, rows) in tables.items():
        _write_csv(out_dir / f"{name}.csv", header, rows)
    charts = _charts(review, out_dir)
    index = write_page(
        templates_dir,
        TEMPLATE,
        out_dir / "index.html",
        review=review,
        charts=charts,
        csv_files=sorted(f"{name}.csv" for name in tables),
    )
    if pdf:
        print_pdf(index, out_dir / PDF_NAME)
    return index


def monthly_report(
    engine: Engine,
    *,
    rules_dir: Path,
    templates_dir: Path,
    month: Period,
    out_dir: Path,
    now: datetime,
    pdf: bool = True,
) -> Path:
    """Build and write the monthly business review for `month`; returns index.html's path."""
    with reading(engine) as session:
        review = monthly_review(session, rules_dir, month, now=now)
    return write_monthly_report(review, templates_dir, out_dir, pdf=pdf)
