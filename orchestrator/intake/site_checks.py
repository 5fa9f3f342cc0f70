"""What a site must satisfy beyond its columns' types: a postcode of its country, a bandwidth
its access type can carry and the price list sells, a site contact one can call.

The same checks run at `bid sites import`, on every site edit (`bid sites update|add`) and on
MACDs, so a wrong address never reaches a QRF or an order form. A bandwidth above what the
access carries or the price list sells is what the customer asks, not a typing mistake: the
rule's `kind` (rules/access_limits.yaml, rules/price_list.yaml) makes it an *exception* — the
site is taken and the solution consultant proposes a design — or a *problem* that refuses it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from orchestrator.decisions.catalogue import AddressFormat, Catalogue
from orchestrator.intake.addresses import (
    PostcodeVerdict,
    check_email,
    check_phone,
    check_postcode,
)

CONTACT_COLUMNS = ("contact_name", "contact_phone", "contact_email")
"""Optional site contact columns: who opens the door for the installer."""


@dataclass(frozen=True)
class SiteRules:
    """The reference data the site checks read (from the catalogue under rules/)."""

    postcode_overrides: Mapping[str, AddressFormat] = field(default_factory=dict)
    access_limits: Mapping[str, int] = field(default_factory=dict)
    max_mbps: Callable[[str, str], int | None] | None = None
    """The most the price list sells for (service, access); None: no price list check."""
    access_limit_kind: str = "problem"
    above_sold_kind: str = "problem"
    """What each bandwidth finding is (`problem` refuses; `exception` is a design task)."""

    @classmethod
    def from_catalogue(cls, catalogue: Catalogue) -> SiteRules:
        return cls(
            catalogue.address_formats,
            catalogue.access_limits,
            catalogue.prices.max_mbps,
            access_limit_kind=catalogue.access_limit_kind,
            above_sold_kind=catalogue.prices.above_sold_kind,
        )


ACCESS_LIMIT_RULE = "access_limits"
ABOVE_SOLD_RULE = "price_list.above_sold"
DESIGN_OWNER = "solution_consultant"
"""Who resolves a site's bandwidth exception (bid design propose)."""


@dataclass(frozen=True)
class SiteException:
    """A plausible site a person must decide on: the field, rule and message."""

    field: str
    rule: str
    message: str
    owner_role: str = DESIGN_OWNER


@dataclass
class SiteVerdict:
    """Problems (field, message) that refuse the site; warnings that do not; cleaned values."""

    problems: list[tuple[str, str]] = field(default_factory=list)
    exceptions: list[SiteException] = field(default_factory=list)
    unknown_postcode_format: bool = False
    values: dict[str, str | None] = field(default_factory=dict)


def check_site(
    *,
    country: str,
    postcode: str,
    access: str,
    service: str,
    bandwidth_mbps: int,
    contact: Mapping[str, str],
    rules: SiteRules,
) -> SiteVerdict:
    """Check what the intake's column checks cannot: postcode, bandwidth, contact."""
    verdict = SiteVerdict()
    postcode_check = check_postcode(country, postcode, rules.postcode_overrides)
    if postcode_check.verdict is PostcodeVerdict.WRONG:
        verdict.problems.append(("postcode", postcode_check.message))
    verdict.unknown_postcode_format = postcode_check.verdict is PostcodeVerdict.UNKNOWN_FORMAT
    verdict.values["postcode"] = postcode_check.normalised
    bandwidth = bandwidth_finding(access, service, bandwidth_mbps, rules)
    if bandwidth is not None:
        if bandwidth.owner_role:
            verdict.exceptions.append(bandwidth)
        else:
            verdict.problems.append((bandwidth.field, bandwidth.message))
    name = (contact.get("contact_name") or "").strip()
    phone = (contact.get("contact_phone") or "").strip()
    email = (contact.get("contact_email") or "").strip()
    verdict.values["contact_name"] = name or None
    verdict.values["contact_phone"] = None
    verdict.values["contact_email"] = None
    if phone:
        try:
            verdict.values["contact_phone"] = check_phone(phone, country)
        except ValueError as exc:
            verdict.problems.append(("contact_phone", str(exc)))
    if email:
        try:
            verdict.values["contact_email"] = check_email(email)
        except ValueError as exc:
            verdict.problems.append(("contact_email", str(exc)))
    if (phone or email) and not name:
        verdict.problems.append(("contact_name", "a site contact needs a name"))
    return verdict


def bandwidth_finding(
    access: str, service: str, bandwidth_mbps: int, rules: SiteRules
) -> SiteException | None:
    """A bandwidth above what `access` carries (rules/access_limits.yaml) or above what the
    price list sells for it; its `owner_role` is empty when the rule makes it a problem."""
    limit = rules.access_limits.get(access)
    if limit is not None and bandwidth_mbps > limit:
        return SiteException(
            "bandwidth_mbps",
            ACCESS_LIMIT_RULE,
            f"{bandwidth_mbps:,} Mbit/s is implausible over {access} (at most {limit:,}, "
            "rules/access_limits.yaml)",
            DESIGN_OWNER if rules.access_limit_kind == "exception" else "",
        )
    if rules.max_mbps is not None:
        sold = rules.max_mbps(service, access)
        if sold is not None and bandwidth_mbps > sold:
            return SiteException(
                "bandwidth_mbps",
                ABOVE_SOLD_RULE,
                f"{access} is sold up to {sold} Mbps for {service} "
                "(rules/price_list.yaml); choose another access type",
                DESIGN_OWNER if rules.above_sold_kind == "exception" else "",
            )
    return None


def unknown_format_warning(country: str, rows: list[int], file: str) -> str:
    """One warning per country whose postcode format nobody knows."""
    shown = ", ".join(str(r) for r in rows[:10]) + (" …" if len(rows) > 10 else "")
    return (
        f"{file}: no known postcode format for {country}; {len(rows)} site(s) taken with their "
        f"postcodes unchecked (row {shown}); add one to rules/address_formats.yaml to check them"
    )
