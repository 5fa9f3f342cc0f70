"""The composition root: the doors open a `Context` here, with the real adapters plugged in.

Only doors (the CLI, the Slack app, the flows, the runtime) and tests import this module;
the service layer receives the finished `Context`. Building it does no I/O beyond opening
(and migrating) the database; the adapters are created on first use.
"""

from __future__ import annotations

from orchestrator.config import Settings, get_settings
from orchestrator.context import Context
from orchestrator.ports import (
    Clock,
    DocumentPort,
    DocumentStore,
    MessagePort,
    RulesEngine,
    system_clock,
)
from orchestrator.store.db import open_database


def zen_rules(settings: Settings, clock: Clock) -> RulesEngine:
    """The zen-engine decision tables under `settings.rules_dir` (hot-reloaded)."""
    from orchestrator.decisions.engine import ZenRulesEngine

    return ZenRulesEngine(settings.rules_dir, clock=clock)


def docx_documents(settings: Settings, clock: Clock) -> DocumentPort:
    """The docxtpl renderer over the configured templates and rules."""
    from orchestrator.documents.renderer import DocxDocuments

    return DocxDocuments(
        settings.templates_dir,
        settings.rules_dir,
        clock=clock,
        pdf_timeout=settings.pdf_timeout_s,
        stamps_dir=settings.data_dir / "render-stamps",
    )


def slack_messages(settings: Settings) -> MessagePort:
    """Notification texts from `templates/messages/`, escaped for Slack."""
    from orchestrator.slack.messages import SlackMessages

    return SlackMessages(settings.templates_dir)


def fsspec_store(settings: Settings) -> DocumentStore:
    """Documents published to the object store of BID_OUTPUT_DIR (an fsspec URL)."""
    from orchestrator.documents.store import FsspecStore

    if settings.output_url is None:  # only wired for URLs
        raise ValueError("no output URL")
    return FsspecStore(settings.output_url, settings.output_dir)


def open_context(
    settings: Settings | None = None,
    *,
    clock: Clock = system_clock,
    rules: RulesEngine | None = None,
    documents: DocumentPort | None = None,
    messages: MessagePort | None = None,
) -> Context:
    """A context on the settings' database, with the given ports or the real ones."""
    settings = settings or get_settings()
    chosen = settings
    return Context(
        settings=settings,
        engine=open_database(settings.database_url),
        clock=clock,
        _rules=rules,
        _documents=documents,
        _messages=messages,
        make_rules=lambda: zen_rules(chosen, clock),
        make_documents=lambda: docx_documents(chosen, clock),
        make_messages=lambda: slack_messages(chosen),
        make_store=(lambda: fsspec_store(chosen)) if settings.output_url else None,
    )
