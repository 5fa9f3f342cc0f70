"""The meeting packs and the renewal scan as scheduled flows.

- `weekly-top-accounts-pack` (Monday 08:00): the weekly update per top account;
- `qualification-pack` (Thursday 09:00): the qualification meeting's pack;
- `renewal-scan` (daily 06:00): renewals of contracts nearing their end, sleeping accounts
  woken.

Each pack run writes the pack's HTML page, PDF and figures into `<output dir>/packs`, queues
its short Slack summary and publishes the pack as a markdown artifact (`weekly-top-accounts`,
`qualification-pack`) so the Prefect UI shows the latest one. The work is in `orchestrator`.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from flows.context import current
from orchestrator.bid.contracting.contracts import scan_renewals
from orchestrator.bid.reports.packs import post_pack_summary
from orchestrator.funnel.pack_pages import (
    qualification_markdown,
    weekly_markdown,
    write_qualification,
    write_weekly,
)
from orchestrator.funnel.packs import qualification_pack, weekly_top_accounts
from orchestrator.store.db import reading

WEEKLY_ARTIFACT = "weekly-top-accounts"
QUALIFICATION_ARTIFACT = "qualification-pack"
RENEWALS_ARTIFACT = "renewal-scan"


@flow(
    name="weekly-top-accounts-pack", flow_run_name="weekly top-account update", persist_result=False
)
def weekly_top_accounts_pack(pdf: bool = True) -> dict[str, Any]:
    """Write the weekly top-account pack, queue its Slack summary, publish it as an artifact."""
    ctx = current()
    with reading(ctx.engine) as session:
        pack = weekly_top_accounts(session, ctx.settings.rules_dir, ctx.clock())
    files = write_weekly(
        pack, ctx.settings.templates_dir, ctx.settings.output_dir / "packs", pdf=pdf
    )
    told = post_pack_summary(
        ctx,
        kind="weekly_top_accounts",
        period=pack.week,
        title="Weekly top-account update",
        summary=files.summary,
        location=str(files.pdf or files.html),
        opportunity_ids=pack.opportunity_ids,
    )
    create_markdown_artifact(
        key=WEEKLY_ARTIFACT, markdown=weekly_markdown(pack), description=files.summary
    )
    return {"week": pack.week, "html": str(files.html), "totals": pack.totals, "told": told}


@flow(name="qualification-pack", flow_run_name="qualification meeting pack", persist_result=False)
def qualification_meeting_pack(pdf: bool = True) -> dict[str, Any]:
    """Write the qualification meeting's pack, queue its summary, publish it as an artifact."""
    ctx = current()
    with reading(ctx.engine) as session:
        pack = qualification_pack(session, ctx.settings.rules_dir, ctx.clock())
    files = write_qualification(
        pack, ctx.settings.templates_dir, ctx.settings.output_dir / "packs", pdf=pdf
    )
    told = post_pack_summary(
        ctx,
        kind="qualification",
        period=files.period,
        title="Qualification meeting",
        summary=files.summary,
        location=str(files.pdf or files.html),
        opportunity_ids=pack.opportunity_ids,
    )
    create_markdown_artifact(
        key=QUALIFICATION_ARTIFACT, markdown=qualification_markdown(pack), description=files.summary
    )
    return {"date": files.period, "html": str(files.html), "totals": pack.totals, "told": told}


@flow(name="renewal-scan", flow_run_name="renewal scan", persist_result=False)
def renewal_scan() -> dict[str, Any]:
    """Open the renewals now due and wake sleeping accounts whose date has come."""
    result = scan_renewals(current())
    lines = ["# Renewal scan", "", "| renewal | contract | account | ends | proposal due |"]
    lines.append("|---|---|---|---|---|")
    lines += [
        f"| {r.opportunity} | {r.contract} | {r.account.replace('|', '/')} | {r.end_date} | "
        f"{r.submission_deadline} |"
        for r in result.opened
    ]
    lines += ["", f"Woken: {', '.join(w.account for w in result.woken) or 'none'}"]
    create_markdown_artifact(
        key=RENEWALS_ARTIFACT,
        markdown="\n".join(lines) + "\n",
        description=f"{len(result.opened)} renewal(s) opened, {len(result.woken)} woken",
    )
    return {
        "opened": [r.opportunity for r in result.opened],
        "woken": [w.account for w in result.woken],
    }
