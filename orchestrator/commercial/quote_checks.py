"""Checks of a quote file against the bid: the provider routed to each site, firm quotes still
valid, costs that are plausible against the list price, and the site spec a returned QRF row
quotes still being the site's (a quote for a spec that no longer exists is refused). Run
after the file's own format checks (`orchestrator.intake.quotes`); any problem refuses the
whole file, one line per row.

A cost more than `refuse_above_list_ratio` times the list price is the carrier's price, not
necessarily a typo: rules/price_list.yaml's `quote_checks.kind` makes it an *exception* (the
quote is imported as an outlier that waits for `bid quotes accept|requote`) or a *problem*.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta

from orchestrator.commercial.pricing import site_line
from orchestrator.decisions.catalogue import Catalogue
from orchestrator.errors import InputError, InputErrors
from orchestrator.intake.findings import Finding, Problem
from orchestrator.intake.quotes import ParsedQuote
from orchestrator.store.models import Opportunity, QuoteKind, Site
from orchestrator.text import spreadsheet_cell

OUTLIER_RULE = "price_list.quote_checks"
OUTLIER_OWNER = "solution_consultant"
"""Whose call an outlier quote is: use it, re-design the site or ask again."""
VALIDITY_RULE = "price_list.quote_validity"
VALIDITY_OWNER = "sales_support"
"""Who asks the carrier to hold its price for as long as the offer (or accepts the risk)."""


def _too_high(
    cost: float, currency: str, list_price: float | None, catalogue: Catalogue
) -> float | None:
    """The list price (EUR) a cost exceeds by more than the allowed ratio, else None."""
    if list_price is None or list_price <= 0:
        return None
    limit = catalogue.prices.refuse_above_list_ratio
    return list_price if catalogue.fx.to_eur(cost, currency) > limit * list_price else None


def _spec_value(site: Site, name: str, sla_class: Callable[[Site], str] | None) -> str:
    if name == "sla_class" and sla_class is not None:
        return sla_class(site)  # the QRF shows the class the site gets (its default included)
    value = getattr(site, name)
    return "" if value is None else str(value)


def spec_mismatch(
    quote: ParsedQuote, site: Site, sla_class: Callable[[Site], str] | None = None
) -> tuple[str, str, str] | None:
    """(field, quoted value, the site's value now) of the first spec column a returned row
    quotes differently from the site's current spec; None when it quotes the spec as is."""
    for name, quoted in quote.spec:
        now = _spec_value(site, name, sla_class)
        if name == "bandwidth_mbps":
            same = quoted.isdigit() and int(quoted) == site.bandwidth_mbps
        else:  # the QRF wrote a formula-like value as text ('=…): it reads back so
            shown = {now.strip().casefold(), str(spreadsheet_cell(now.strip())).casefold()}
            same = quoted.casefold() in shown
        if not same:
            return name, quoted, now
    return None


def check_quotes(
    parsed: list[ParsedQuote],
    sites: Mapping[str, Site],
    opportunity: Opportunity,
    catalogue: Catalogue,
    *,
    today: date,
    file: str,
    sla_class: Callable[[Site], str] | None = None,
) -> list[Finding]:
    """Refuse the file (InputErrors) when a row quotes a site its provider is not routed to,
    is a firm quote that has already expired, or quotes a site spec (the columns a QRF's CSV
    carries back) the site no longer has; return the outliers (a cost above
    `refuse_above_list_ratio` times the site's list price, or a quote valid for less than the
    offer: until the submission deadline plus `offer_valid_days`), which refuse it too when
    their rule's kind is `problem`. Expired budgetary quotes pass: they count for nothing and
    show as expired."""
    providers = catalogue.providers
    ratio = catalogue.prices.refuse_above_list_ratio
    as_problem = catalogue.prices.outlier_kind == "problem"
    offer_days = catalogue.prices.offer_valid_days
    errors: list[InputError] = []
    outliers: list[Finding] = []
    for quote in parsed:
        site = sites[quote.site_id]
        mismatch = spec_mismatch(quote, site, sla_class)
        if mismatch is not None:
            name, quoted, now = mismatch
            errors.append(
                InputError(
                    f"quotes site {quote.site_id} with {name} '{quoted}', a spec it no longer "
                    f"has (now '{now or '-'}'): re-quote it (bid qrf)",
                    file=file,
                    row=quote.row,
                    field=name,
                )
            )
            continue
        routed = providers.routed_provider(site.country, site.access)
        if quote.provider != routed:
            errors.append(
                InputError(
                    f"provider '{quote.provider}' is not routed to site {quote.site_id} "
                    f"({site.country}, {site.access}: {routed or 'no provider'})",
                    file=file,
                    row=quote.row,
                    field="provider",
                )
            )
            continue
        if quote.kind == QuoteKind.FIRM and quote.valid_until < today:
            errors.append(
                InputError(
                    f"the firm quote expired on {quote.valid_until.isoformat()}",
                    file=file,
                    row=quote.row,
                    field="valid_until",
                )
            )
            continue
        needed = opportunity.submission_deadline + timedelta(days=offer_days)
        if today <= quote.valid_until < needed:
            message = (
                f"the quote is valid until {quote.valid_until.isoformat()}, less than the offer "
                f"(submitted {opportunity.submission_deadline.isoformat()}"
                + (f", valid {offer_days} days" if offer_days else "")
                + ")"
            )
            if catalogue.prices.validity_kind == "problem":
                errors.append(
                    Problem(
                        message,
                        file=file,
                        row=quote.row,
                        field="valid_until",
                        value=quote.valid_until.isoformat(),
                        rule=VALIDITY_RULE,
                    )
                )
            else:
                outliers.append(
                    Finding(
                        file=file,
                        row=quote.row,
                        field="valid_until",
                        value=quote.valid_until.isoformat(),
                        kind="exception",
                        rule=VALIDITY_RULE,
                        message=f"{message}: accept it or ask again (bid quotes accept|requote)",
                        site_id=quote.site_id,
                        owner_role=VALIDITY_OWNER,
                    )
                )
            continue
        price = site_line(opportunity, site, catalogue)
        for name, cost, listed in (
            ("monthly_cost", quote.monthly_cost, price.list_monthly_eur),
            ("one_off_cost", quote.one_off_cost, price.list_one_off_eur),
        ):
            limit = _too_high(cost, quote.currency, listed, catalogue)
            if limit is None:
                continue
            message = (
                f"{cost:,.2f} {quote.currency} is more than {ratio:g}x the list price "
                f"({limit:,.2f} EUR) of site {quote.site_id}"
            )
            if as_problem:
                errors.append(
                    Problem(
                        f"{message}: a typo?",
                        file=file,
                        row=quote.row,
                        field=name,
                        value=f"{cost:g}",
                        rule=OUTLIER_RULE,
                    )
                )
            else:
                outliers.append(
                    Finding(
                        file=file,
                        row=quote.row,
                        field=name,
                        value=f"{cost:g}",
                        kind="exception",
                        rule=OUTLIER_RULE,
                        message=f"{message}: accept it or ask again (bid quotes accept|requote)",
                        site_id=quote.site_id,
                        owner_role=OUTLIER_OWNER,
                    )
                )
            break
    if errors:
        raise InputErrors(file, sorted(errors, key=lambda e: e.row or 0))
    return outliers
