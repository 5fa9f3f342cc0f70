"""What became of the decision a Slack message asked for, in one line of mrkdwn.

The notifier updates a posted approval or go/no-go message once its decision is made
(`notify.settle_decided`): the buttons give way to this line. An approval message names its
request (the marker's `request`), so its outcome is that request's status — granted or
rejected by whom, when and why, replaced by a newer request, or cancelled with its bid. A
go/no-go message's outcome is the first go/no-go move of its bid after the entry into
qualification it was sent for. None while the decision is still open.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from orchestrator.slack.blocks import slack_escape
from orchestrator.store.models import (
    Approval,
    ApprovalStatus,
    AuditEvent,
    OutboxMessage,
    Person,
)

GO_NO_GO_LABELS = {
    "decide_bid": "Bid",
    "decide_no_bid": "No bid",
    "redefine_strategy": "Redefine strategy",
}
"""The go/no-go's moves out of qualification (`lifecycle.table`), as the message says them."""


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _when(moment: datetime | None) -> str:
    return f" on {_naive(moment):%Y-%m-%d %H:%M} UTC" if moment else ""


def _name(session: Session, person_id: int | None) -> str:
    person = session.get(Person, person_id) if person_id is not None else None
    return slack_escape(f"{person.name} ({person.email})") if person else "someone"


def _approval(session: Session, request: int) -> str | None:
    approval = session.get(Approval, request)
    if approval is None or approval.status == ApprovalStatus.REQUESTED:
        return None
    why = f": {slack_escape(approval.reason)}" if approval.reason else ""
    area = approval.area.value if hasattr(approval.area, "value") else str(approval.area)
    by, when = _name(session, approval.approver_id), _when(approval.decided_at)
    if approval.status == ApprovalStatus.GRANTED:
        return f":white_check_mark: *{area} approved* by {by}{when}{why}"
    if approval.status == ApprovalStatus.REJECTED:
        return f":x: *{area} rejected* by {by}{when}{why}"
    if approval.status == ApprovalStatus.INVALIDATED:
        return f":arrows_counterclockwise: *Replaced* by a newer {area} request{why}"
    return f":no_entry_sign: *Cancelled*: the bid closed before the {area} approval{why}"


def _go_no_go(session: Session, row: OutboxMessage) -> str | None:
    """The go/no-go that followed the bid's entry into qualification the message was sent
    for (its key names that audit event: `go_no_go:<bid>:<entered>:<e-mail>`)."""
    parts = row.key.split(":")
    if row.opportunity_id is None or len(parts) < 4 or not parts[2].isdigit():
        return None
    decided = session.exec(
        select(AuditEvent)
        .where(
            AuditEvent.opportunity_id == row.opportunity_id,
            col(AuditEvent.id) > int(parts[2]),
            col(AuditEvent.trigger).in_(GO_NO_GO_LABELS),
        )
        .order_by(col(AuditEvent.id))
    ).first()
    if decided is None:
        return None
    person = session.exec(select(Person).where(Person.email == decided.actor)).first()
    by = slack_escape(f"{person.name} ({person.email})" if person else decided.actor)
    why = f": {slack_escape(decided.reason)}" if decided.reason else ""
    label = GO_NO_GO_LABELS[decided.trigger]
    return f":ballot_box_with_check: *Decided: {label}* by {by}{_when(decided.at)}{why}"


def decision_of(session: Session, row: OutboxMessage) -> str | None:
    """The line that replaces the message's buttons, or None while its decision is open."""
    marker = _marker(row)
    if marker is None:
        return None
    kind, request = marker
    if kind == "approval" and request is not None:
        return _approval(session, request)
    return _go_no_go(session, row)


def _marker(row: OutboxMessage) -> tuple[str, int | None] | None:
    """The decision a message asks for: ("approval", request id) or ("go_no_go", None)."""
    for marker in row.blocks or []:
        if not isinstance(marker, dict):
            continue
        if marker.get("type") == "approval":
            request = marker.get("request")
            if isinstance(request, int) and not isinstance(request, bool):
                return ("approval", request)
        if marker.get("type") == "go_no_go":
            return ("go_no_go", None)
    return None


def with_decisions(session: Session, rows: list[OutboxMessage]) -> list[OutboxMessage]:
    """The messages among `rows` whose decision is made, found with two queries for all of
    them (every delivery looks at every posted decision message still open: with hundreds
    of open bids, one query each was most of a delivery's work)."""
    requests = {m[1] for row in rows if (m := _marker(row)) and m[0] == "approval"}
    bids = {row.opportunity_id for row in rows if (m := _marker(row)) and m[0] == "go_no_go"}
    decided_requests: set[int] = set()
    if requests:
        decided_requests = {
            i
            for i in session.exec(
                select(Approval.id).where(
                    col(Approval.id).in_(sorted(requests)),
                    Approval.status != ApprovalStatus.REQUESTED,
                )
            ).all()
            if i is not None
        }
    last_go_no_go: dict[int, int] = {}
    if bids:
        for bid, newest in session.exec(
            select(AuditEvent.opportunity_id, func.max(AuditEvent.id))
            .where(
                col(AuditEvent.opportunity_id).in_(sorted(b for b in bids if b is not None)),
                col(AuditEvent.trigger).in_(GO_NO_GO_LABELS),
            )
            .group_by(col(AuditEvent.opportunity_id))
        ).all():
            if newest is not None:
                last_go_no_go[bid] = newest
    found = []
    for row in rows:
        marker = _marker(row)
        if marker is None:
            continue
        if marker[0] == "approval" and marker[1] in decided_requests:
            found.append(row)
        elif marker[0] == "go_no_go":
            parts = row.key.split(":")
            entered = int(parts[2]) if len(parts) >= 4 and parts[2].isdigit() else None
            newest = last_go_no_go.get(row.opportunity_id or 0)
            if entered is not None and newest is not None and newest > entered:
                found.append(row)
    return found
