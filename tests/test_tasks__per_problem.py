"""Order-sheet tasks per problem, not per cell: a won bid whose sites lack a contact gets ONE
task per kind of problem with its sites listed ("40 sites without a contact phone: ..."),
and a fix (`bid sites update`) re-checks at once through its render effect: the task keeps
the sites left, and closes when none is — no `bid advance` in between."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.bid.opportunity.onboarding import import_sites
from orchestrator.bid.progress import services
from orchestrator.context import Context
from orchestrator.intake.opportunity import SiteSpec
from tests.conftest import RunCli
from tests.factories import carry_to_governance, grant_all, new_bid, submit

SITES = 40


def _tasks(run_cli: RunCli, ref: str) -> list[str]:
    listed = run_cli("tasks", ref, "--json")
    assert listed.code == 0, listed.err
    return [task["text"] for task in json.loads(listed.out)]


def test_one_task_per_kind_of_problem_closed_as_the_fix_lands(
    run_cli: RunCli, ctx: Context, tmp_path: Path
) -> None:
    ref = new_bid(ctx, site_count=0)
    sites = [  # no site contact on any of them
        SiteSpec(f"S{n:04d}", f"Store {n}", f"Ring {n}", "20095", "Hamburg", "DE", 100, "fiber")
        for n in range(1, SITES + 1)
    ]
    import_sites(ctx, ref, sites, actor="test")
    carry_to_governance(ctx, ref)
    grant_all(ctx, ref)
    services.run_to_wait(ctx, ref)
    submit(ctx, ref)  # the offer goes out (bid submit)
    details = run_cli(
        "order",
        "details",
        ref,
        "--legal-entity",
        "Kunde GmbH",
        "--billing-entity",
        "Kunde GmbH",
        "--po",
        "PO-1",
        "--contract-start",
        "2027-03-01",
    )
    assert details.code == 0, details.err
    won = run_cli("result", ref, "--won", "--reason", "best plan")
    assert won.code == 0, won.err
    said = " ".join(won.out.split())  # the terminal wraps long lines
    assert (
        "signing waits for 2 order-sheet fix(es) (sales_support): 40 sites without a contact "
        "name; 40 sites without a contact phone"
    ) in said
    every = ", ".join(f"S{n:04d}" for n in range(1, SITES + 1))
    assert _tasks(run_cli, ref) == [
        f"40 sites without a contact name: {every}",
        f"40 sites without a contact phone: {every}",
    ]

    fix = tmp_path / "contacts.csv"
    fix.write_text(
        "site_id,contact_name,contact_phone\n"
        + "".join(f"S{n:04d},Lead {n},+4930123{n:04d}\n" for n in range(1, SITES))
    )
    assert run_cli("sites", "update", ref, str(fix)).code == 0
    assert _tasks(run_cli, ref) == [
        "1 site without a contact name: S0040",
        "1 site without a contact phone: S0040",
    ]
    status = json.loads(run_cli("status", ref, "--json").out)
    assert status["state"] == "contract_preparation"
    trail = json.loads(run_cli("history", ref, "--json").out)
    rows = trail["events"] if isinstance(trail, dict) else trail
    narrowed = [r for r in rows if r["trigger"] == "order_tasks"][-1]
    # the system re-checked the tasks, on the fixer's fix (nobody ran bid advance)
    assert narrowed["actor"].startswith("the system, on ") and narrowed["actor"].endswith("'s fix")
    assert narrowed["reason"] == "0 order-sheet problem(s) to fix, 0 fixed, 2 changed"

    last = tmp_path / "last.csv"
    last.write_text("site_id,contact_name,contact_phone\nS0040,Lead 40,+49301230040\n")
    fixed = run_cli("sites", "update", ref, str(last))
    assert fixed.code == 0, fixed.err
    assert _tasks(run_cli, ref) == []
    assert run_cli("tasks", ref).out.strip() == f"{ref}: nothing to fix"
