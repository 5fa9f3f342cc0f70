"""Logging of the service's processes: plain lines (the default) or one JSON object a line.

`BID_LOG_FORMAT=json` (read in `orchestrator.config`) makes `configure(settings)` put one
handler on the root logger that writes every record — ours through structlog, Prefect's and
uvicorn's through the standard library — as one JSON object per line on stderr, with `bid`
(the bid's id) wherever it is known: passed to the log call, or bound for a block of work
with `bound_bid(ref)`. Without it nothing changes: our records go to the standard library
unformatted, as before.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

from orchestrator.config import LOG_FORMATS, Settings
from orchestrator.errors import InputError

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]

structlog.configure(
    processors=[structlog.contextvars.merge_contextvars, structlog.stdlib.render_to_log_kwargs],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=False,
)


def get_logger(name: str) -> Any:
    """A structlog logger writing through the standard library's logger `name`."""
    return structlog.stdlib.get_logger(name)


@contextmanager
def bound_bid(ref: str | None) -> Iterator[None]:
    """Every record logged in this block (in this thread or task) carries `bid=ref`."""
    if not ref:
        yield
        return
    with structlog.contextvars.bound_contextvars(bid=ref):
        yield


def json_formatter() -> logging.Formatter:
    """One JSON object per record: timestamp, level, logger, event, bid and the fields."""
    return structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        foreign_pre_chain=[*_SHARED, structlog.stdlib.ExtraAdder()],
    )


def configure(settings: Settings, stream: Any = None) -> None:
    """Set up this process's logging from `settings.log_format` (plain | json)."""
    if settings.log_format not in LOG_FORMATS:
        raise InputError(
            f"BID_LOG_FORMAT: {settings.log_format!r} is not one of {', '.join(LOG_FORMATS)}"
        )
    if settings.log_format != "json":
        return
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
