#!/bin/sh
# The image's entrypoint: one role per container, chosen by the first argument.
#
#   server        the Prefect server (UI and API) on :4200, on PREFECT_API_DATABASE_CONNECTION_URL
#   flows         `bid serve-flows`: every flow as a deployment (UI forms, schedules)
#   task-worker   `bid task-worker`: carries bids on; /metrics on :BID_METRICS_PORT (9100)
#   api           the JSON API (/api/v1, /metrics, /health) on :8000
#   web           the web workspace (docs/workspace.md, /health) on :4300
#   slack         `bid serve`: the signed Slack endpoint (/slack/events, /healthz) on :3000
#   migrate       bring the bid database's schema to the newest revision, then exit
#   wait-migrated wait (up to BID_MIGRATE_WAIT s, 300) until `migrate` has run: an init step
#   health        exit 0 when this container's role answers (the image's HEALTHCHECK)
#
# Anything else runs as a command (`bid-entrypoint bid list`).
set -eu

role="${1:-api}"
[ "$#" -gt 0 ] && shift
state="${TMPDIR:-/tmp}/bid-role"

remember() { printf '%s\n' "$1" > "$state"; }

# Run a `bid` command or the API server with this process's logging set up first
# (BID_LOG_FORMAT=json: one JSON object a line, orchestrator/logs.py).
logged() {  # logged bid ARGS... | logged api ARGS... | logged web ARGS...
  exec python -c 'import sys
from orchestrator import logs
from orchestrator.config import get_settings
from orchestrator.errors import InputError
try:
    logs.configure(get_settings())
except InputError as refused:
    sys.stderr.write(f"error: {refused}\n")
    sys.exit(2)
what, args = sys.argv[1], sys.argv[2:]
if what == "api":
    from orchestrator.api.server import main as serve
    sys.exit(serve(args))
if what == "web":
    from orchestrator.web.server import main as serve
    sys.exit(serve(args))
from orchestrator.cli.thin import main
sys.argv = ["bid", *args]
sys.exit(main())' "$@"
}

get() {  # get URL: exit 0 when it answers 2xx within 4 s
  python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=4)' "$1"
}

case "$role" in
  server)
    remember server
    : "${PREFECT_API_DATABASE_CONNECTION_URL:?set PREFECT_API_DATABASE_CONNECTION_URL (postgresql+asyncpg://…)}"
    # task runs' states written in batches (SERVER_TUNING in orchestrator/runtime/prefect_home.py)
    export PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE="${PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE:-100}"
    export PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL="${PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL:-1}"
    # `prefect server start`, the server's fixes applied (orchestrator/runtime/prefect_server.py)
    exec python -m orchestrator.runtime.prefect_server start --host 0.0.0.0 --port "${PREFECT_SERVER_PORT:-4200}" "$@"
    ;;
  flows)
    remember flows
    logged bid serve-flows --limit "${BID_FLOW_LIMIT:-4}" "$@"
    ;;
  task-worker)
    remember task-worker
    logged bid task-worker --limit "${BID_TASK_LIMIT:-8}" --metrics-port "${BID_METRICS_PORT:-9100}" "$@"
    ;;
  api)
    remember api
    logged api --host 0.0.0.0 --port "${BID_API_PORT:-8000}" "$@"
    ;;
  web)
    remember web
    logged web --host 0.0.0.0 --port "${BID_WEB_PORT:-4300}" \
      ${PREFECT_UI_URL:+--prefect-url "$PREFECT_UI_URL"} "$@"
    ;;
  slack)
    remember slack
    logged bid serve --host 0.0.0.0 --port "${BID_SLACK_PORT:-3000}" "$@"
    ;;
  migrate)
    remember migrate
    exec python -c 'from orchestrator.config import get_settings
from orchestrator.store.db import open_database, safe_url
url = get_settings().database_url
open_database(url)
print("the bid database is at the newest revision:", safe_url(url))'
    ;;
  wait-migrated)
    exec python -c 'import os, sys, time
from orchestrator.config import get_settings
from orchestrator.store.db import is_current, make_engine
engine = make_engine(get_settings().database_url)
deadline = time.monotonic() + float(os.environ.get("BID_MIGRATE_WAIT", "300"))
while True:
    try:
        if is_current(engine):
            sys.exit(0)
    except Exception as error:
        print("waiting for the database:", str(error).splitlines()[0], file=sys.stderr)
    if time.monotonic() > deadline:
        sys.exit("the bid database was not migrated in time: run the migrate job")
    time.sleep(3)'
    ;;
  health)
    case "$(cat "$state" 2>/dev/null || echo none)" in
      server) get "http://127.0.0.1:${PREFECT_SERVER_PORT:-4200}/api/health" ;;
      flows) get "${PREFECT_API_URL:?}/health" ;;
      task-worker) get "http://127.0.0.1:${BID_METRICS_PORT:-9100}/metrics" ;;
      api) get "http://127.0.0.1:${BID_API_PORT:-8000}/health" ;;
      web) get "http://127.0.0.1:${BID_WEB_PORT:-4300}/health" ;;
      slack) get "http://127.0.0.1:${BID_SLACK_PORT:-3000}/healthz" ;;
      *) exit 0 ;;  # migrate, or a one-off command: nothing to probe
    esac
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
