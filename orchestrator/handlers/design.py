"""Handlers that resolve what an import flagged for a person: another design for a site
(`design.propose`, one site or a CSV of them), an outlier quote accepted or asked again
(`quotes.accept`, `quotes.requote`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.bid.facts import parse_ref
from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.errors import InputError, InputErrors
from orchestrator.handlers.registry import handles, uploaded
from orchestrator.runtime.runner import FlowRunner
from orchestrator.store.models import format_ref

if TYPE_CHECKING:
    from orchestrator.bid.producing.design import Proposal

PROPOSAL_COLUMNS = ("site_id", "access", "reason")
"""A proposals CSV's columns; `bandwidth_mbps` may be added (empty: the customer's)."""
MAX_PROPOSALS = 20_000


def read_proposals(path: Path) -> list[Proposal]:
    """The proposals of a CSV (site_id, access, bandwidth_mbps, reason); every bad row named,
    nothing taken when one is wrong."""
    from orchestrator.bid.producing.design import Proposal
    from orchestrator.intake.files import csv_rows
    from orchestrator.intake.sheets import column_key

    name = str(path)
    rows = csv_rows(path)
    _, cells = next(rows, (1, []))
    header = [column_key(cell) for cell in cells]
    missing = [column for column in PROPOSAL_COLUMNS if column not in header]
    if missing:
        raise InputError(f"missing column(s): {', '.join(missing)}", file=name, row=1)
    problems: list[InputError] = []
    proposals: list[Proposal] = []
    for line, values in rows:
        row = dict(zip(header, (v.strip() for v in values), strict=False))
        if line > MAX_PROPOSALS:
            raise InputError(f"more than {MAX_PROPOSALS:,} proposals", file=name, row=line)
        raw = row.get("bandwidth_mbps", "")
        bandwidth = None
        if raw:
            if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
                problems.append(
                    InputError(
                        f"'{raw[:20]}' is not a whole number of Mbit/s from 1 to 100,000",
                        file=name,
                        row=line,
                        field="bandwidth_mbps",
                    )
                )
                continue
            bandwidth = int(raw)
        empty = [f for f in PROPOSAL_COLUMNS if not row.get(f)]
        if empty:
            problems.append(InputError("is empty", file=name, row=line, field=empty[0]))
            continue
        proposals.append(
            Proposal(
                site_id=row["site_id"],
                access=row["access"].lower(),
                bandwidth_mbps=bandwidth,
                reason=row["reason"][: c.MAX_TEXT],
                row=line,
            )
        )
    if problems:
        raise InputErrors(name, problems, outcome="nothing proposed")
    if not proposals:
        raise InputError("no proposals in the file", file=name, row=2)
    return proposals


@handles(c.ProposeDesign)
def _propose(ctx: Context, command: c.ProposeDesign, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.producing.design import Proposal, propose_design

    if command.file is not None:
        with uploaded(command.file) as path:
            proposals = read_proposals(path)
            done = propose_design(ctx, command.opportunity, proposals, actor=actor, file=str(path))
    else:
        proposal = Proposal(
            site_id=command.site or "",
            access=command.access or "",
            bandwidth_mbps=command.bandwidth,
            reason=(command.reason or "").strip(),
        )
        done = propose_design(ctx, command.opportunity, [proposal], actor=actor)
    ref = format_ref(parse_ref(command.opportunity))
    left = f"; {done.still_open:,} exception(s) still open" if done.still_open else ""
    return c.DesignProposed(
        command=command.name,
        opportunity=ref,
        message=f"design proposed for {len(done.sites):,} site(s) of {ref}; "
        f"{done.resolved:,} exception(s) resolved{left}",
        sites=list(done.sites),
        resolved=done.resolved,
        still_open=done.still_open,
    )


def _decide(
    ctx: Context, command: c.AcceptQuote | c.RequoteSite, actor: str, *, accept: bool
) -> c.Result:
    from orchestrator.bid.producing.design import decide_outlier

    done = decide_outlier(
        ctx, command.opportunity, command.site, accept=accept, reason=command.reason, actor=actor
    )
    ref = format_ref(parse_ref(command.opportunity))
    what = (
        "accepted: the margin counts it"
        if accept
        else "dropped: the site waits for a new quote (bid qrf)"
    )
    left = f"; {done.still_open:,} exception(s) still open" if done.still_open else ""
    return c.QuoteDecision(
        command=command.name,
        opportunity=ref,
        message=f"outlier quote of site {command.site} {what}{left}",
        site=command.site,
        quotes=done.quotes,
        still_open=done.still_open,
    )


@handles(c.AcceptQuote)
def _accept(ctx: Context, command: c.AcceptQuote, actor: str, runner: FlowRunner) -> c.Result:
    return _decide(ctx, command, actor, accept=True)


@handles(c.RequoteSite)
def _requote(ctx: Context, command: c.RequoteSite, actor: str, runner: FlowRunner) -> c.Result:
    return _decide(ctx, command, actor, accept=False)
