"""The meeting packs as files: an HTML page, its PDF (headless Chromium, as the monthly
review), the figures as JSON, and the markdown a Prefect artifact shows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from orchestrator.funnel.packs import (
    QualificationPack,
    WeeklyPack,
    qualification_summary,
    weekly_summary,
)
from orchestrator.funnel.render import print_pdf, write_page

WEEKLY = "weekly-top-accounts"
QUALIFICATION = "qualification"


@dataclass(frozen=True)
class PackFiles:
    kind: str
    period: str
    html: Path
    pdf: Path | None
    """None when no Chromium is installed (the page is still written)."""
    figures: Path
    summary: str


def write_weekly(
    pack: WeeklyPack, templates_dir: Path, out_dir: Path, *, pdf: bool = True
) -> PackFiles:
    stem = f"{WEEKLY}-{pack.week}"
    page = write_page(
        templates_dir,
        "report/weekly_top_accounts.html.j2",
        out_dir / f"{stem}.html",
        pack=pack,
        totals=pack.totals,
    )
    figures = out_dir / f"{stem}.json"
    figures.write_text(json.dumps(pack.as_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    printed = print_pdf(page, out_dir / f"{stem}.pdf") if pdf else None
    return PackFiles(WEEKLY, pack.week, page, printed, figures, weekly_summary(pack))


def write_qualification(
    pack: QualificationPack, templates_dir: Path, out_dir: Path, *, pdf: bool = True
) -> PackFiles:
    stem = f"{QUALIFICATION}-{pack.as_of:%Y-%m-%d}"
    page = write_page(
        templates_dir, "report/qualification.html.j2", out_dir / f"{stem}.html", pack=pack
    )
    figures = out_dir / f"{stem}.json"
    figures.write_text(json.dumps(pack.as_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    printed = print_pdf(page, out_dir / f"{stem}.pdf") if pdf else None
    return PackFiles(
        QUALIFICATION, f"{pack.as_of:%Y-%m-%d}", page, printed, figures, qualification_summary(pack)
    )


def _md(value: object) -> str:
    """A markdown table cell: pipes and line breaks would break the table."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def weekly_markdown(pack: WeeklyPack) -> str:
    """The weekly pack as the Prefect artifact shows it: totals and one row per account."""
    lines = [
        f"# Weekly top-account update {pack.week}",
        "",
        weekly_summary(pack),
        "",
        "| account | open bids | due soon | overdue | approvals | order problems | MACDs "
        "| changes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for account in pack.accounts:
        c = account.counts()
        lines.append(
            f"| {_md(account.name)} | {c['open_bids']} | {c['due_soon']} | {c['overdue']} | "
            f"{c['approvals_pending']} | {c['order_problems']} | {c['macds']} | {c['changes']} |"
        )
    return "\n".join(lines) + "\n"


def qualification_markdown(pack: QualificationPack) -> str:
    lines = [
        f"# Qualification meeting {pack.as_of:%Y-%m-%d}",
        "",
        qualification_summary(pack),
        "",
        "| bid | account | tier | step | BANTS | recommendation |",
        "|---|---|---|---|---|---|",
    ]
    for lead in pack.leads:
        lines.append(
            f"| {lead.ref} | {_md(lead.account)} | {lead.tier} | {lead.state} | "
            f"{lead.bants_result or 'missing ' + ', '.join(lead.bants_missing)} | "
            f"{lead.recommendation or '—'} |"
        )
    lines += ["", "| bid manager | open bids | capacity |", "|---|---:|---:|"]
    lines += [f"| {_md(c.bid_manager)} | {c.open_bids} | {c.capacity} |" for c in pack.capacity]
    return "\n".join(lines) + "\n"
