"""A refused step inside a Prefect flow run reaches the user as the CLI's one line: Prefect's
console handler does not print it again with a traceback (bugs keep theirs)."""

from __future__ import annotations

import io
import logging

from orchestrator.errors import TransitionRefused
from orchestrator.runtime.prefect_runner import quiet_refusals_on_the_console


def test_prefects_console_drops_refusals_and_keeps_bugs() -> None:
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler

    ensure_logging_setup()  # Prefect sets its logging up once; our console joins after
    stream = io.StringIO()
    console = PrefectConsoleHandler(stream=stream)
    root = logging.getLogger()
    root.addHandler(console)
    try:
        quiet_refusals_on_the_console()
        quiet_refusals_on_the_console()  # once is enough; twice adds nothing
        assert len(console.filters) == 1
        logger = logging.getLogger("bid-test.flow-run")
        try:
            raise TransitionRefused("start_production refused by guard 'bid_team_assigned'")
        except TransitionRefused:
            logger.exception("Encountered exception during execution")
        try:
            raise ValueError("a bug")
        except ValueError:
            logger.exception("Encountered exception during execution")
    finally:
        root.removeHandler(console)
    printed = stream.getvalue()
    assert "TransitionRefused" not in printed and "bid_team_assigned" not in printed
    assert "Traceback" in printed and "ValueError: a bug" in printed
