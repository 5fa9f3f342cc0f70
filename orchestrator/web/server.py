"""`python -m orchestrator.web.server --port N`: the folder's web workspace, a child of
`bid server` (default port 4300, `--web-port`).

It opens the folder's database once, makes sure the folder's admin exists, loads Prefect and
the step flows so commands start their runs warm, and serves the workspace on 127.0.0.1
with uvicorn. After each command it delivers pending Slack messages when a bot token is set.
"""

from __future__ import annotations

import argparse
import sys

from orchestrator.cli.web import DEFAULT_WEB_PORT
from orchestrator.config import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=DEFAULT_WEB_PORT)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--prefect-url", default=None, help="The Prefect UI, for run links")
    options = parser.parse_args(argv)

    import uvicorn

    from orchestrator.cli.identity import current_person
    from orchestrator.runtime import prefect_env
    from orchestrator.web.app import make_web_app
    from orchestrator.wiring import open_context

    ctx = open_context()
    current_person(ctx)  # a new folder gets its admin (the token `bid server` wrote)
    settings = get_settings()
    if settings.flow_runner != "inline":
        prefect_env.configure(settings)
        import flows.steps  # noqa: F401  (Prefect and the step flows, loaded once)

    app = make_web_app(lambda: ctx, prefect_url=options.prefect_url)
    uvicorn.run(app, host=options.host, port=options.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
