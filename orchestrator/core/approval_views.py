"""What each approver reads, as words: the per-area views of the approval summary (plain JSON
values, built by `orchestrator.bid.measures.approval_summary`) turned into (label, text) lines.

Pure and here, below every door and adapter, so that `bid approval show --area`, the Slack
approval request (`slack.blocks`) and the Bid Control Plan (`documents`) print the same words.
"""

from __future__ import annotations

from typing import Any

AREAS = ("technical", "financial", "legal", "management")
"""The approval areas (`store.models.Area`), each with its view."""
SHOWN = 10
"""Rows of a list printed in full; the rest are counted."""


def sections_of(area: str) -> tuple[str, ...]:
    """The views an approver of `area` reads (management: all three)."""
    return ("financial", "technical", "legal") if area == "management" else (area,)


HEADER = ("opportunity", "title", "account", "tier", "state", "version", "round", "currency")


def for_area(summary: dict[str, Any], area: str) -> dict[str, Any]:
    """What the approver of `area` reads, out of the whole summary: the bid, the flags, the
    area's view (management: all three), its approvals and the documents."""
    if area not in AREAS:
        raise ValueError(f"unknown area '{area}'; areas are {', '.join(AREAS)}")
    views = summary.get("areas") or {}
    view: dict[str, Any] = {key: summary[key] for key in HEADER if key in summary}
    view["area"] = area
    view["headline"] = summary.get("headline", "")
    view["flags"] = list((views.get(area) or {}).get("flags", []))
    for name in sections_of(area):
        view[name] = views.get(name, {})
    view["approvals"] = [
        a for a in summary.get("approvals", []) if area == "management" or a.get("area") == area
    ]
    view["documents"] = list(summary.get("documents", []))
    return view


def _sites(ids: list[str], count: int) -> str:
    more = f" and {count - len(ids):,} more" if count > len(ids) else ""
    return ", ".join(ids) + more


def section_lines(name: str, view: dict[str, Any]) -> list[tuple[str, str]]:
    """One view as (label, text) lines: the words the CLI, Slack and the pack all print."""
    lines: list[tuple[str, str]] = []
    if name == "technical":
        redesigned = view.get("redesigned") or {}
        groups = redesigned.get("groups") or []
        lines.append(
            (
                "Design",
                f"{redesigned.get('sites', 0):,} of {view.get('sites', 0):,} sites redesigned "
                "from what the customer asked"
                if groups
                else f"all {view.get('sites', 0):,} sites as the customer asked",
            )
        )
        for group in groups:
            lines.append(
                (
                    f"Redesigned ({group['sites']:,})",
                    f"{group['why']}: {_sites(group['site_ids'], group['sites'])}",
                )
            )
        hidden = int(redesigned.get("reasons", len(groups))) - len(groups)
        if hidden > 0:
            lines.append(("Redesigned", f"and {hidden:,} more reason(s)"))
        coverage = view.get("coverage") or {}
        countries = coverage.get("countries") or []
        lines.append(
            (
                "Coverage",
                f"{len(countries)} countries; firm quotes for {coverage.get('firm', 0):,}, "
                f"budgetary {coverage.get('budgetary', 0):,}, missing "
                f"{coverage.get('missing', 0):,}; unsourced {coverage.get('unsourced', 0):,}",
            )
        )
        lines.append(
            (
                "Countries",
                ", ".join(f"{c['country']} {c['sites']:,} ({c['firm']:,} firm)" for c in countries)
                or "none",
            )
        )
        access = coverage.get("access") or {}
        lines.append(("Access", ", ".join(f"{k} {v:,}" for k, v in access.items()) or "none"))
        lead = view.get("lead_times") or {}
        if lead:
            slowest = ", ".join(f"{c} {d}" for c, d in lead["by_country"].items())
            lines.append(
                (
                    "Lead times",
                    f"longest {lead['longest_days']} working days "
                    f"({_sites(lead['longest_sites'], len(lead['longest_sites']))}); "
                    f"per country: {slowest}; {lead['quoted_by_carrier']:,} quoted by carriers",
                )
            )
    elif name == "financial":
        currency = view.get("currency", "EUR")
        lines.append(
            (
                "TCV",
                f"{view.get('tcv', 0):,.2f} {currency} over {view.get('contract_months')} months"
                f" ({view.get('monthly_eur', 0):,.2f} EUR monthly, "
                f"{view.get('one_off_eur', 0):,.2f} EUR one-off)",
            )
        )
        margin = view.get("margin_pct")
        lines.append(("Margin", "—" if margin is None else f"{margin:.2f}%"))
        for key, label in (("margin_by_country", "country"), ("margin_by_service", "service")):
            rows = view.get(key) or []
            lines.append(
                (
                    f"Margin per {label}",
                    ", ".join(
                        f"{r[label]} "
                        + ("—" if r["margin_pct"] is None else f"{r['margin_pct']:.2f}%")
                        for r in rows
                    )
                    or "no quoted sites",
                )
            )
        losses = view.get("loss_lines") or {}
        if losses.get("count"):
            worst = ", ".join(f"{w['site_id']} −{w['loss_eur']:,.2f}" for w in losses["worst"])
            more = losses["count"] - len(losses["worst"])
            lines.append(
                (
                    "Loss-making lines",
                    f"{losses['count']:,} lose {losses['total_eur']:,.2f} EUR: {worst}"
                    + (f" and {more:,} more" if more > 0 else ""),
                )
            )
        else:
            lines.append(("Loss-making lines", "none"))
        lines.append(("Discount", f"{view.get('discount_pct', 0):.2f}% against list"))
        budget = view.get("budget")
        if budget:
            mark = "ABOVE the budget" if budget["above"] else "within the budget"
            lines.append(
                (
                    "Budget (BANTS)",
                    f"{budget['budget_eur']:,.2f} EUR against a TCV of "
                    f"{budget['tcv_eur']:,.2f} EUR: {mark}",
                )
            )
        else:
            lines.append(("Budget (BANTS)", "the customer stated none"))
        validity = view.get("validity")
        if validity:
            offer = validity.get("offer_valid_until") or "—"
            mark = (
                f"SHORTER: {validity['quotes_ending_before_offer']:,} quote(s) end first"
                if validity["shorter"]
                else "every quote outlasts the offer"
            )
            lines.append(
                (
                    "Validity",
                    f"shortest quote until {validity['shortest_quote_until']} "
                    f"({', '.join(validity['shortest_sites'])}); the offer until {offer}: {mark}",
                )
            )
    elif name == "legal":
        deviations = view.get("deviations") or []
        lines.append(("Deviations", "; ".join(deviations) or "none: our standard terms"))
        terms = view.get("customer_terms") or []
        lines.append(
            (
                "Customer's terms",
                f"{view.get('customer_terms_count', 0):,} requirement(s) for legal"
                if terms
                else "no questionnaire requirement for legal",
            )
        )
        for term in terms[:SHOWN]:
            answer = term["compliance"] or ("answered" if term["answered"] else "no answer yet")
            must = "mandatory, " if term["mandatory"] else ""
            lines.append((term["req_id"], f"{term['text']} ({must}{answer})"))
    return lines
