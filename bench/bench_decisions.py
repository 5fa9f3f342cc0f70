"""Throughput of the decision tables: BANTS then go/no-go for generated opportunities.

Each opportunity is qualified (bants.json) and then gets a go/no-go recommendation
(go_no_go.json) fed with the BANTS result, so every opportunity yields two full `Decision`
records (validated facts, outputs, matched rows from the trace, rule hash, timestamp).

    .venv/bin/python bench/bench_decisions.py [--opportunities 10000] [--seed 7]

Target: at least 10,000 decisions per second on one process.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Figure, add_output_option, write_figures  # noqa: E402
from orchestrator.decisions.engine import Decision, ZenRulesEngine, go_no_go, qualify_lead  # noqa: E402

TARGET_PER_SECOND = 10_000


def generate_opportunities(count: int, seed: int) -> list[dict[str, Any]]:
    """Plausible opportunities: tiers, budgets around the tier minimum, deadlines, team load."""
    rng = random.Random(seed)
    minimum = {"top": 500_000, "major": 100_000, "installed_base": 10_000}
    opportunities = []
    for _ in range(count):
        tier = rng.choice(["top", "major", "major", "installed_base"])
        budget = round(minimum[tier] * rng.uniform(0.2, 3.0), 2)
        opportunities.append(
            {
                "tier": tier,
                "budget_eur": budget,
                "authority": rng.choice(["decision_maker", "influencer", "unknown"]),
                "need": rng.choice(["clear", "clear", "vague", "none"]),
                "timeframe_months": rng.randint(0, 36),
                "sales_ready": rng.random() < 0.7,
                "revenue_eur": round(budget * rng.uniform(0.5, 1.5), 2),
                "days_to_deadline": rng.randint(-5, 60),
                "open_bids_per_bid_manager": rng.randint(0, 8),
                "strategic_fit": rng.choice(["high", "medium", "low"]),
            }
        )
    return opportunities


def decide(engine: ZenRulesEngine, opportunity: dict[str, Any]) -> tuple[Decision, Decision]:
    bants = qualify_lead(
        engine,
        tier=opportunity["tier"],
        budget_eur=opportunity["budget_eur"],
        authority=opportunity["authority"],
        need=opportunity["need"],
        timeframe_months=opportunity["timeframe_months"],
        sales_ready=opportunity["sales_ready"],
    )
    recommendation = go_no_go(
        engine,
        bants_result=bants.outputs["result"],
        tier=opportunity["tier"],
        revenue_eur=opportunity["revenue_eur"],
        days_to_deadline=opportunity["days_to_deadline"],
        open_bids_per_bid_manager=opportunity["open_bids_per_bid_manager"],
        strategic_fit=opportunity["strategic_fit"],
    )
    return bants, recommendation


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opportunities", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rules-dir", type=Path, default=ROOT / "rules")
    add_output_option(parser)
    args = parser.parse_args(argv)

    engine = ZenRulesEngine(args.rules_dir)
    opportunities = generate_opportunities(args.opportunities, args.seed)
    decide(engine, opportunities[0])  # load and compile the tables outside the timing

    started = time.perf_counter()
    records = [decide(engine, opportunity) for opportunity in opportunities]
    elapsed = time.perf_counter() - started

    decisions = 2 * len(records)
    rate = decisions / elapsed
    by_table = {
        "bants": Counter(b.outputs["result"] for b, _ in records),
        "go_no_go": Counter(g.outputs["recommendation"] for _, g in records),
    }
    print(f"{len(records)} opportunities -> {decisions} decisions in {elapsed:.3f} s")
    print(f"{rate:,.0f} decisions/s ({len(records) / elapsed:,.0f} opportunities/s)")
    for table, counts in by_table.items():
        print(f"  {table}: {dict(counts.most_common())}")
    write_figures(
        args.json_out,
        [
            Figure(
                f"rules: decisions/s ({len(records):,} opportunities × BANTS + go/no-go)",
                round(rate),
                "/s",
                TARGET_PER_SECOND,
                higher_is_better=True,
            )
        ],
    )
    verdict = "meets" if rate >= TARGET_PER_SECOND else "MISSES"
    print(f"{verdict} the target of {TARGET_PER_SECOND:,} decisions/s")
    return 0 if rate >= TARGET_PER_SECOND else 1


if __name__ == "__main__":
    raise SystemExit(main())
