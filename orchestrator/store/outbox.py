"""The transactional outbox: notifications are rows committed with the change that caused them.

A notifier delivers pending rows after the commit and marks each sent; the unique `key`
(event, recipient) means a rerun never queues, and so never sends, a message twice.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from orchestrator.store.models import OutboxMessage


def enqueue(
    session: Session,
    *,
    key: str,
    event: str,
    text: str,
    opportunity_id: int | None = None,
    recipient_email: str | None = None,
    channel: str | None = None,
    blocks: list[Any] | None = None,
) -> bool:
    """Queue one message unless a message with this key exists; True when queued."""
    existing = session.exec(select(OutboxMessage.id).where(OutboxMessage.key == key)).first()
    if existing is not None:
        return False
    session.add(
        OutboxMessage(
            key=key,
            event=event,
            text=text,
            opportunity_id=opportunity_id,
            recipient_email=recipient_email,
            channel=channel,
            blocks=blocks or [],
        )
    )
    return True


def enqueue_each(session: Session, messages: list[dict[str, Any]]) -> int:
    """Queue each message (the keyword arguments of `enqueue`) unless one with its key exists,
    looking the keys up in one query (a move tells up to six people); how many were queued."""
    keys = [str(m["key"]) for m in messages]
    if not keys:
        return 0
    existing = set(
        session.exec(select(OutboxMessage.key).where(col(OutboxMessage.key).in_(keys))).all()
    )
    queued = 0
    for message in messages:
        if message["key"] in existing:
            continue
        existing.add(message["key"])
        session.add(OutboxMessage(**{**message, "blocks": message.get("blocks") or []}))
        queued += 1
    return queued


def pending(session: Session, limit: int = 500) -> list[OutboxMessage]:
    statement = (
        select(OutboxMessage)
        .where(col(OutboxMessage.sent_at).is_(None))
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    )
    return list(session.exec(statement).all())
