"""Wiring: one `Context` holds the settings, the database and the ports for every door.

The CLI, the Slack app and the Prefect flows each open a context and call `services`.
Building it does no I/O beyond opening (and migrating) the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from orchestrator.config import Settings, get_settings
from orchestrator.ports import Clock, DocumentPort, system_clock
from orchestrator.store.db import open_database

if TYPE_CHECKING:
    from orchestrator.decisions.engine import RulesEngine


@dataclass
class Context:
    settings: Settings
    engine: Engine
    clock: Clock = system_clock
    _rules: RulesEngine | None = None
    _documents: DocumentPort | None = None
    extras: dict[str, object] = field(default_factory=dict)

    @property
    def rules(self) -> RulesEngine:
        """The rules engine over `settings.rules_dir`, created on first use."""
        if self._rules is None:
            from orchestrator.decisions.engine import ZenRulesEngine

            self._rules = ZenRulesEngine(self.settings.rules_dir, clock=self.clock)
        return self._rules

    @property
    def documents(self) -> DocumentPort:
        """The document renderer (docxtpl), created on first use."""
        if self._documents is None:
            from orchestrator.documents.renderer import DocxDocuments

            self._documents = DocxDocuments(
                self.settings.templates_dir, self.settings.rules_dir, clock=self.clock
            )
        return self._documents

    def output_dir_for(self, opportunity_ref: str) -> Path:
        return self.settings.output_dir / opportunity_ref


def open_context(
    settings: Settings | None = None,
    *,
    clock: Clock = system_clock,
    rules: RulesEngine | None = None,
    documents: DocumentPort | None = None,
) -> Context:
    settings = settings or get_settings()
    return Context(
        settings=settings,
        engine=open_database(settings.database_url),
        clock=clock,
        _rules=rules,
        _documents=documents,
    )
