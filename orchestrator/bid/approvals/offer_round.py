"""Smart re-approval of a new offer round: which approvals a best-and-final offer asks again.

The offer the customer holds is the submitted bid version; the new round's deal is compared
with it, kind by kind (the kinds of `rules/changes.yaml`: prices, quotes, sites,
site_details, terms, dates), and the table's `offer_round` rows say which approvals each kind
touches (a BAFO on price only: finance, and management when the margin falls under the
floor). The approvals nothing touched are carried over from the round the customer holds:
the person who gave them is named, and the trail says the system carried them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.context import Context
from orchestrator.decisions.production_rules import load_change_table

PRICE_FIELDS = ("access", "bandwidth_mbps", "service", "country")
"""A site field whose change changes a price or a cost (the rest are site details)."""


def _sites(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(site["site_id"]): dict(site) for site in snapshot.get("sites", [])}


def changed_kinds(held: dict[str, Any], now: dict[str, Any]) -> frozenset[str]:
    """What changed between two version snapshots, as the change table's kinds."""
    kinds: set[str] = set()
    before, after = _sites(held), _sites(now)
    both = before.keys() & after.keys()
    if set(before) != set(after) or any(
        before[s].get(f) != after[s].get(f) for s in both for f in PRICE_FIELDS
    ):
        kinds.add("sites")
    if any(
        {k: v for k, v in before[s].items() if k not in PRICE_FIELDS}
        != {k: v for k, v in after[s].items() if k not in PRICE_FIELDS}
        for s in both
    ):
        kinds.add("site_details")
    quotes = [{k: v for k, v in q.items() if k != "spec"} for q in held.get("quotes", [])]
    if quotes != [{k: v for k, v in q.items() if k != "spec"} for q in now.get("quotes", [])]:
        kinds.add("quotes")
    if (
        held.get("pricing") != now.get("pricing")
        or held.get("contract_months") != now.get("contract_months")
        or held.get("currency") != now.get("currency")
    ):
        kinds.add("prices")
    if (
        held.get("terms") != now.get("terms")
        or held.get("answers") != now.get("answers")
        or held.get("offer") != now.get("offer")
    ):
        kinds.add("terms")
    return frozenset(kinds)


@dataclass(frozen=True)
class OfferRound:
    """What a new offer round asks again, and why."""

    changed: frozenset[str]
    asked: frozenset[str]
    """The approval areas the changes touch (asked again when the deal needs them)."""
    rules: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "changed": sorted(self.changed),
            "asked_again": sorted(self.asked),
            "change_rules": list(self.rules),
        }


def offer_round_approvals(
    ctx: Context,
    held: dict[str, Any],
    now: dict[str, Any],
    *,
    margin_pct: float | None,
    floor_pct: float | None,
) -> OfferRound:
    """The approvals a new offer round asks again: per kind of change since the offer the
    customer holds, the table's `offer_round` row (its condition on the margin now)."""
    table = load_change_table(ctx.settings.rules_dir)
    conditions: set[str] = set()
    held_margin = (held.get("totals") or {}).get("margin_pct")
    if margin_pct is not None:
        if isinstance(held_margin, int | float) and margin_pct < held_margin:
            conditions.add("margin_down")
        if floor_pct is not None and margin_pct < floor_pct:
            conditions.add("below_floor")
        if margin_pct < 0:
            conditions.add("negative_margin")
    changed = changed_kinds(held, now)
    asked: set[str] = set()
    rules: list[str] = []
    for kind in sorted(changed):
        rule = table.first(kind, "offer_round", frozenset(conditions))
        rules.append(rule.id)
        if rule.action == "reapprove":
            asked.update(rule.approvals)
    return OfferRound(changed, frozenset(asked), tuple(rules))
