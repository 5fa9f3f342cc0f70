"""A long-lived process (the Slack app, a task worker) loads at start what every bid's steps
need on first use (orchestrator/runtime/runner.py `warm_up`): the first bid is carried on
as fast as the hundredth, and no two threads import the same library at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIBRARIES = ("holidays", "slack_sdk", "orchestrator.decisions.engine", "docxtpl")

SCRIPT = """
import json, sys
from orchestrator.config import load_settings
from orchestrator.runtime.runner import warm_up
from orchestrator.wiring import open_context

env = {{"BID_DATABASE_URL": "sqlite:///{folder}/bid.db", "BID_DATA_DIR": "{folder}/.bid",
       "BID_OUTPUT_DIR": "{folder}/out", "BID_RULES_DIR": "{repo}/rules",
       "BID_TEMPLATES_DIR": "{repo}/templates", "BID_AUTOSTART": "0", "BID_FLOW_RUNNER": "inline"}}
ctx = open_context(load_settings(env))
libraries = {libraries!r}
before = [name for name in libraries if name in sys.modules]
warm_up(ctx)
print(json.dumps({{"before": before, "after": [n for n in libraries if n in sys.modules]}}))
"""


def test_warm_up_loads_what_the_first_bid_would_otherwise_wait_for(tmp_path: Path) -> None:
    script = SCRIPT.format(folder=tmp_path, repo=REPO, libraries=LIBRARIES)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(loaded["before"]) < set(LIBRARIES)  # opening a context loads them not all
    assert loaded["after"] == list(LIBRARIES)
