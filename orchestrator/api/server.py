"""`python -m orchestrator.api.server --port N`: the folder's JSON API, a child of `bid server`.

It opens the folder's database once, makes sure the folder's admin exists (the token `bid
server` wrote), loads Prefect and the step flows so commands start their runs warm, and
serves the API on 127.0.0.1 with uvicorn. Each command runs its effects (documents, carrying
the bid on, Slack messages) through the one dispatcher before it answers.
"""

from __future__ import annotations

import argparse
import os
import sys

from orchestrator.config import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    options = parser.parse_args(argv)
    os.umask(0o077)  # what the service writes (uploads, documents, the database) is private

    import uvicorn

    from orchestrator.api.app import make_app
    from orchestrator.cli.identity import current_person
    from orchestrator.runtime import prefect_env
    from orchestrator.wiring import open_context

    ctx = open_context()
    current_person(ctx)  # a new folder gets its admin (the token `bid server` wrote)
    settings = get_settings()
    if settings.flow_runner != "inline":
        prefect_env.configure(settings)
        import flows.steps  # noqa: F401  (Prefect and the step flows, loaded once)

    app = make_app(lambda: ctx)  # each command drains its effects and delivers (pipeline)
    uvicorn.run(app, host=options.host, port=options.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
