"""How documents write things: user text cleaned, amounts, dates, the heading, who signs.

User text goes through `clean` (no control characters Word and Excel refuse). Customer- and
carrier-facing documents are signed by a person of the bid team (`signatory`), never by a
department "on behalf of" anyone.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlmodel import Session, select

from orchestrator.store.models import Account, Opportunity, Person, TeamMember

SERVICE_LABELS = {
    "managed_network": "Managed network",
    "hosting": "Hosting",
    "video_conferencing": "Video conferencing",
}
SERVICE_DESCRIPTIONS = {
    "managed_network": (
        "Managed WAN: access line, managed router and 24/7 monitoring per site, one network "
        "across all countries"
    ),
    "hosting": "Managed hosting in our data centres, connected to your network",
    "video_conferencing": "Managed video-conferencing rooms with booking and support",
}
ROLE_TITLES = {
    "bid_manager": "Bid Manager",
    "account_manager": "Account Manager",
    "solution_consultant": "Solution Consultant",
    "sales_support": "Sales Support",
    "operations": "Operations",
    "management": "Managing Director",
    "finance": "Finance",
    "legal": "Legal Counsel",
}
SIGNING_ROLES = ("bid_manager", "account_manager", "sales_support", "solution_consultant")
"""Who signs what the customer receives, in order of preference."""
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: object) -> str:
    """User text as a string without the control characters Word and Excel refuse."""
    return _CONTROL_CHARS.sub("", str(text))


def money(amount: float) -> str:
    return f"{amount:,.2f}"


def long_date(day: date) -> str:
    """10 January 2027."""
    return f"{day.day} {day:%B %Y}"


def base_context(session: Session, opportunity: Opportunity, doc_title: str) -> dict[str, Any]:
    """What every document's heading shows."""
    account = session.get(Account, opportunity.account_id)
    return {
        "ref": opportunity.ref,
        "doc_title": doc_title,
        "title": clean(opportunity.title),
        "customer": clean(account.name if account else ""),
    }


def person_in_role(
    session: Session, opportunity: Opportunity, roles: tuple[str, ...]
) -> tuple[str, Person] | None:
    """The first (role, person) of the bid team holding one of `roles`, in that order."""
    members = session.exec(
        select(TeamMember, Person)
        .where(TeamMember.opportunity_id == opportunity.id)
        .where(TeamMember.person_id == Person.id)
    ).all()
    held = {member.role: person for member, person in members}
    for role in roles:
        if role in held:
            return role, held[role]
    return None


def signatory(
    session: Session, opportunity: Opportunity, roles: tuple[str, ...] = SIGNING_ROLES
) -> dict[str, str]:
    """Who signs: name, title and e-mail of the bid's lead (the bid manager first)."""
    found = person_in_role(session, opportunity, roles)
    if found is None:
        return {"name": "The bid team", "role": "", "email": "", "line": "The bid team"}
    role, person = found
    title = ROLE_TITLES.get(role, role.replace("_", " ").title())
    return {
        "name": clean(person.name),
        "role": title,
        "email": clean(person.email),
        "line": f"{clean(person.name)}, {title}",
    }
