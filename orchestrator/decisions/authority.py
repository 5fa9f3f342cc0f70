"""Who may decide an approval: one answer for every door (CLI, Slack, the API, the web).

`may_decide(person, approval, ...)` is a pure function over plain values: the person's
approval powers, the request as it was stored (its area and the roles that may decide it),
the segregation-of-duties table (`rules/duties.yaml`, loaded by `decisions/duties.py`) and
the facts the duties look at (who froze the design, who priced the deal, who decided which
area this round). It imports no database, Prefect, Slack or docx code, so a door can ask it
before showing a button and the service asks it again before recording.

Approval powers come from people, never from a bid's own file: an organisation grant given
by an admin (`bid people grant`), or a role on the bid's team that an admin assigned to
someone other than themselves. A role the bid's creator named in its YAML holds on that bid
for its work (go/no-go, design freeze) but carries no approval power unless an admin named it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

DUTIES_FILE = "duties.yaml"
ANY_AREA = "*"


class DutyFact(StrEnum):
    """What a duty forbids: the person deciding may not be one who ..."""

    FROZE_DESIGN = "froze_design"
    """... froze the solution design the approval is asked for."""
    PRICED_DEAL = "priced_deal"
    """... set the bid's prices or imported its quotes."""
    DECIDED_OTHER_AREA = "decided_other_area"
    """... already decided another approval area of the same governance round."""


@dataclass(frozen=True)
class Duty:
    """One row of rules/duties.yaml."""

    id: str
    areas: tuple[str, ...]
    forbids: DutyFact
    text: str

    def applies_to(self, area: str) -> bool:
        return ANY_AREA in self.areas or area in self.areas


@dataclass(frozen=True)
class DutiesTable:
    file: str
    sha256: str
    duties: tuple[Duty, ...]


@dataclass(frozen=True)
class Decider:
    """A person as far as deciding approvals goes."""

    email: str
    grants: frozenset[str] = frozenset()
    """Organisation-wide grants an admin gave (management, finance, legal, admin, ...)."""
    team_roles: frozenset[str] = frozenset()
    """Roles on the bid's team an admin assigned to this person (they carry approval power)."""
    named_roles: frozenset[str] = frozenset()
    """Roles on the bid's team nobody with the power vouched for (the creator's own YAML)."""


@dataclass(frozen=True)
class ApprovalRequest:
    """One approval request as it was stored when it was asked."""

    id: int
    area: str
    deciding_roles: tuple[str, ...]
    round: int = 0
    summary_fingerprint: str | None = None


@dataclass(frozen=True)
class DutyFacts:
    """What the duties look at, read from the bid's trail."""

    froze_design: frozenset[str] = frozenset()
    """E-mails of the people who froze the design now under review."""
    priced: frozenset[str] = frozenset()
    """E-mails of the people who set the bid's prices or imported its quotes."""
    decided_areas: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Per e-mail, the approval areas of this round the person already decided."""


@dataclass(frozen=True)
class Verdict:
    """Whether the person may decide, and why not; `overridden` names the duties an admin
    set aside for this decision (the service records that on the admin trail)."""

    ok: bool
    reason: str = ""
    rule: str | None = None
    overridden: tuple[str, ...] = ()


APPROVAL_GRANTS = frozenset({"management", "finance", "legal"})
"""Organisation grants that carry approval power on every bid (models.Grant's approvers)."""


def holds_power(person: Decider, approval: ApprovalRequest) -> bool:
    """One of the request's deciding roles, by an organisation grant or an admin-assigned
    team role."""
    roles = set(approval.deciding_roles)
    return bool(roles & (person.grants & APPROVAL_GRANTS) or roles & person.team_roles)


def _breaks(duty: Duty, person: Decider, approval: ApprovalRequest, facts: DutyFacts) -> bool:
    if not duty.applies_to(approval.area):
        return False
    if duty.forbids is DutyFact.FROZE_DESIGN:
        return person.email in facts.froze_design
    if duty.forbids is DutyFact.PRICED_DEAL:
        return person.email in facts.priced
    others = facts.decided_areas.get(person.email, frozenset()) - {approval.area}
    return bool(others)


def may_decide(
    person: Decider,
    approval: ApprovalRequest,
    *,
    ref: str,
    duties: DutiesTable,
    facts: DutyFacts,
    override: bool = False,
) -> Verdict:
    """May `person` decide `approval` of bid `ref`? The powers first, then every duty.

    `override` is an admin's decision to set the duties aside (never the powers; the
    service checks that the one overriding is an admin): the verdict is then ok and names
    the duties it overrode, for the admin trail.
    """
    if not holds_power(person, approval):
        named = sorted(set(approval.deciding_roles) & person.named_roles)
        why = (
            f"; {person.email}'s {', '.join(named)} role on this bid was named by its creator, "
            "not assigned by an admin, and carries no approval power"
            if named
            else ""
        )
        return Verdict(
            False,
            f"{person.email} may not decide the {approval.area} approval on {ref}; it needs "
            f"one of: {', '.join(approval.deciding_roles)} (an organisation grant, bid people "
            f"grant, or a team role an admin assigned){why}",
        )
    broken = [d for d in duties.duties if _breaks(d, person, approval, facts)]
    if not broken:
        return Verdict(True)
    if override:
        return Verdict(True, overridden=tuple(d.id for d in broken))
    first = broken[0]
    return Verdict(
        False,
        f"{person.email} may not decide the {approval.area} approval on {ref}: "
        f"{duties.file}: {first.id} — {first.text}",
        rule=first.id,
    )


FINGERPRINT_KEYS = (
    "opportunity",
    "version",
    "round",
    "currency",
    "fx",
    "value",
    "margin",
    "coverage",
    "discount_pct",
    "deviations",
    "risks",
    "required",
    "reasons",
    "verdict",
)
"""What an approval summary's fingerprint covers: the numbers an approver decides on (value,
costs, margin against the floor, coverage, discount, terms) and the version; not the file
paths of the documents, which move when a file is re-rendered."""


def summary_fingerprint(summary: Mapping[str, Any]) -> str:
    """SHA-256 of what the approver was shown (`FINGERPRINT_KEYS` of the summary)."""
    shown = {key: summary.get(key) for key in FINGERPRINT_KEYS}
    text = json.dumps(shown, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
