"""The bid context a flow run works with, and the labels (name, tags) that find it in the UI.

A runner in this process binds its own context (fixed clock, test renderer, open database);
a flow run started by a worker opens the context from the settings of its environment.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from orchestrator.bid.facts import account_of, get_opportunity
from orchestrator.config import Settings, get_settings
from orchestrator.context import Context
from orchestrator.lifecycle.table import State
from orchestrator.ports import DocumentPort
from orchestrator.store.db import reading
from orchestrator.wiring import open_context

_BOUND: ContextVar[Context | None] = ContextVar("bid_context", default=None)
_OPENED: list[Context] = []


@contextmanager
def bound(ctx: Context) -> Iterator[Context]:
    """Run flows in this block with `ctx` (the in-process runner's context)."""
    token = _BOUND.set(ctx)
    try:
        yield ctx
    finally:
        _BOUND.reset(token)


def current() -> Context:
    """The bound context, else the process's own (opened from the environment once)."""
    ctx = _BOUND.get()
    if ctx is not None:
        return ctx
    if not _OPENED:
        settings = get_settings()
        documents = _documents_from(settings.documents_factory, settings)
        _OPENED.append(open_context(settings, documents=documents))
    return _OPENED[0]


def _documents_from(factory: str | None, settings: Settings) -> DocumentPort | None:
    """The document port named by BID_DOCUMENTS_FACTORY (`module:function`), if any."""
    if not factory:
        return None
    module_name, _, attribute = factory.partition(":")
    make = getattr(importlib.import_module(module_name), attribute)
    port: DocumentPort = make(settings)
    return port


@dataclass(frozen=True)
class BidLabels:
    """What names a bid's runs in the Prefect UI."""

    ref: str
    account: str
    state: State

    def tags(self, step: str) -> list[str]:
        return [f"opp:{self.ref}", f"account:{self.account}", f"step:{step}"]


def bid_labels(ctx: Context, ref: str) -> BidLabels:
    """The bid's id, account and current state, read in one short session."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        return BidLabels(opportunity.ref, account_of(session, opportunity).name, opportunity.state)
