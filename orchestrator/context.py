"""One `Context` holds the settings, the database and the ports a service call works with.

The doors build it through `orchestrator.wiring.open_context`, which plugs in the real
adapters (docxtpl documents, Slack message texts); tests plug in their own. This module
imports no adapter, so the service layer that receives a `Context` depends on ports only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from orchestrator.config import Settings
from orchestrator.errors import BidError
from orchestrator.ports import (
    Clock,
    DocumentPort,
    DocumentStore,
    MessagePort,
    ProducedDocuments,
    RulesEngine,
    system_clock,
)


@dataclass
class Context:
    settings: Settings
    engine: Engine
    clock: Clock = system_clock
    _rules: RulesEngine | None = None
    _documents: DocumentPort | None = None
    _messages: MessagePort | None = None
    make_rules: Callable[[], RulesEngine] | None = None
    """Builds the rules engine on first use (zen-engine over `settings.rules_dir`)."""
    make_documents: Callable[[], DocumentPort] | None = None
    """Builds the document port on first use (the renderer loads docxtpl, ~0.2 s)."""
    make_messages: Callable[[], MessagePort] | None = None
    make_store: Callable[[], DocumentStore] | None = None
    _store: DocumentStore | None = None
    extras: dict[str, object] = field(default_factory=dict)

    @property
    def rules(self) -> RulesEngine:
        """The rules engine, created on first use."""
        if self._rules is None:
            if self.make_rules is None:
                raise BidError("no rules engine is wired into this context")
            self._rules = self.make_rules()
        return self._rules

    @property
    def documents(self) -> DocumentPort:
        """The document renderer, created on first use."""
        if self._documents is None:
            if self.make_documents is None:
                raise BidError("no document renderer is wired into this context")
            self._documents = self.make_documents()
        return self._documents

    @property
    def messages(self) -> MessagePort:
        """The texts of notifications, created on first use."""
        if self._messages is None:
            if self.make_messages is None:
                raise BidError("no message texts are wired into this context")
            self._messages = self.make_messages()
        return self._messages

    @property
    def store(self) -> DocumentStore:
        """Where documents are published (the output folder, or an object store)."""
        if self._store is None:
            self._store = self.make_store() if self.make_store else LocalFolder(self)
        return self._store

    def output_dir_for(self, opportunity_ref: str) -> Path:
        """The local folder a bid's documents are rendered into."""
        return self.store.folder_for(opportunity_ref)


class LocalFolder:
    """The output folder on this machine: documents are rendered in place, nothing to publish."""

    def __init__(self, ctx: Context) -> None:
        self.root = ctx.settings.output_dir

    def folder_for(self, ref: str) -> Path:
        return self.root / ref

    def publish(self, ref: str, produced: ProducedDocuments) -> ProducedDocuments:
        return produced
