"""`python -m orchestrator.runtime.prefect_server start …`: Prefect's own `prefect server
start` (the same arguments), with the server's fixes applied first
(`prefect_fixes.apply_server`).

Every Prefect server we start runs through here: `bid server`'s, `bid ui`'s, the production
stack's (deploy/stack.py) and the container's `server` role (deploy/entrypoint.sh).
"""

from __future__ import annotations

import sys

COMMAND = (sys.executable, "-m", "orchestrator.runtime.prefect_server")
"""What runs it: `[*COMMAND, "start", "--host", …]`."""


def main(argv: list[str] | None = None) -> None:
    """Run `prefect server <argv>` in this process, the fixes applied."""
    from orchestrator.runtime import prefect_fixes

    prefect_fixes.apply_server()
    from prefect.cli import app

    sys.argv = ["prefect", "server", *(sys.argv[1:] if argv is None else argv)]
    app()


if __name__ == "__main__":
    main()
