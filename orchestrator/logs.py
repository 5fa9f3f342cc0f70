"""Logging of the service's processes: plain lines (the default) or one JSON object a line.

`BID_LOG_FORMAT=json` (read in `orchestrator.config`) makes `configure(settings)` put one
handler on the root logger that writes every record — ours, Prefect's and uvicorn's, all
through the standard library — as one JSON object per line on stderr (structlog's
`ProcessorFormatter`), with `bid` (the bid's id) wherever it is known: given as a field of
the record (`extra={"bid": ref}`), or bound for a block of work with `bound_bid(ref)`. Without
it nothing changes.

structlog is imported only by `configure` and `bound_bid`: the write path logs through the
standard library and stays quick to import.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from orchestrator.config import LOG_FORMATS, Settings
from orchestrator.errors import InputError


@contextmanager
def bound_bid(ref: str | None) -> Iterator[None]:
    """Every record logged in this block (in this thread or task) carries `bid=ref`."""
    if not ref:
        yield
        return
    from structlog.contextvars import bound_contextvars

    with bound_contextvars(bid=ref):
        yield


def json_formatter() -> logging.Formatter:
    """One JSON object per record: timestamp, level, logger, event, bid and the fields."""
    import structlog

    return structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.ExtraAdder(),
        ],
    )


def configure(settings: Settings, stream: Any = None) -> None:
    """Set up this process's logging from `settings.log_format` (plain | json).

    An unknown format is refused in one line (InputError) before anything changes."""
    if settings.log_format not in LOG_FORMATS:
        raise InputError(
            f"BID_LOG_FORMAT: {settings.log_format!r} is not one of {', '.join(LOG_FORMATS)}"
        )
    if settings.log_format != "json":
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
