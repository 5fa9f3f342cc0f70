"""The JSON API of a folder's bid service: every command and query, for every client.

    POST /api/v1/commands/{name}   a command (the body is its JSON) → its result
    GET  /api/v1/bids[?state=S]    the bids
    GET  /api/v1/bids/{ref}        one bid's status (state, owner, blocks, approvals, version)
    GET  /api/v1/bids/{ref}/history, /explain
    GET  /api/v1/bids/{ref}/approval[?area=A]   what the approvers (of one area) decide on
    GET  /api/v1/whoami            the person the token belongs to
    GET  /api/v1/openapi.json      this API, described (OpenAPI 3)

Every request but `health` and the OpenAPI document carries `Authorization: Bearer <token>`
(a person's access token, `bid people token EMAIL`); a command runs as that person, through
the same `dispatch` as the CLI, with the same checks. Files travel as contents. Bad input is
a 4xx whose JSON body says why in one line — `{"error": "..."}` — and changes nothing: 401
without a valid token, 403 for what the person may not do, 404 for an unknown bid or command,
409 for a move the bid's state refuses, 413 for a body over the limit, 422 for a body that
is not the command's shape (and 400 for other refused input).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations, which
# name the command classes of a loop.

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator import __version__, metrics
from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.errors import (
    BidError,
    InputError,
    NotAuthenticated,
    NotFound,
    NotPermitted,
    RuntimeUnavailable,
)
from orchestrator.logs import bound_bid
from orchestrator.runtime.runner import FlowRunner
from orchestrator.store.models import Person
from orchestrator.text import one_line

PREFIX = "/api/v1"
SERVICE_HEADER = "X-Bid-Service"
"""The folder's service id a client expects to reach (see `runtime.prefect_home.service_id`)."""
MAX_BODY_BYTES = c.MAX_UPLOAD_BYTES * 4 // 3 + 1_000_000
"""A command's body at the most: the largest upload, base64, and its fields."""


def status_of(error: BidError) -> int:
    """The HTTP status of a refusal."""
    if isinstance(error, NotAuthenticated):
        return 401
    if isinstance(error, NotPermitted):
        return 403
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, RuntimeUnavailable):
        return 503
    if isinstance(error, InputError):
        return 400
    return 409  # a refused transition, approval, decision or change: the bid's state says no


def _error(status: int, text: str, lines: list[str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": one_line(text)}
    if lines:
        body["lines"] = [one_line(line) for line in lines]
    return JSONResponse(body, status_code=status)


def _validation_line(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "the request is not valid"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    message = str(first.get("msg", "invalid"))
    return f"{where}: {message}{more}" if where else f"{message}{more}"


def make_app(
    context: Callable[[], Context],
    *,
    runner: FlowRunner | None = None,
) -> FastAPI:
    """The API over the context `context()` returns (opened once, on first use)."""
    app = FastAPI(
        title="Bid orchestrator",
        version=__version__,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        description="Every command and query of the bid orchestrator. Authenticate with "
        "`Authorization: Bearer <access token>` (`bid people token EMAIL`).",
    )
    writing = threading.Lock()
    bearer = HTTPBearer(auto_error=False)

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length")
        if length is not None:
            try:
                too_big = int(length) > MAX_BODY_BYTES
            except ValueError:
                return _error(400, "Content-Length is not a number")
            if too_big:
                return _error(413, f"a request body is limited to {MAX_BODY_BYTES:,} bytes")
        return await call_next(request)

    identity: list[str | None] = []

    def own_id() -> str | None:
        """This service's folder identity (`<data dir>/service.id`), read once."""
        if not identity:
            from orchestrator.runtime.prefect_home import service_id

            identity.append(service_id(context().settings))
        return identity[0]

    @app.middleware("http")
    async def same_folder(request: Request, call_next: Any) -> Any:
        """A client that names the service it meant (`X-Bid-Service`, the thin `bid`) is
        refused by any other: a command of one folder never runs in another folder's service."""
        meant = request.headers.get(SERVICE_HEADER)
        if meant is not None and meant != own_id():
            refused = _error(409, "this is not the bid service of the folder that sent the command")
            refused.headers["X-Bid-Service-Mismatch"] = "1"
            return refused
        return await call_next(request)

    @app.middleware("http")
    async def log_request(request: Request, call_next: Any) -> Any:
        started = time.perf_counter()
        response = await call_next(request)
        if request.url.path.startswith(PREFIX):
            elapsed = time.perf_counter() - started
            sys.stderr.write(
                f"{time.strftime('%H:%M:%S')} {request.method} {request.url.path} "
                f"{response.status_code} in {elapsed:.3f} s\n"
            )
            sys.stderr.flush()
        return response

    # Observability (docs/deploy.md, "Metrics and logs"): `/metrics` in the Prometheus format,
    # each command's latency by name and outcome, and the bid id on the log lines of a request
    # that names one. Not behind the token: keep it off the Ingress (deploy/kubernetes).
    scraped = metrics.registry_for(context)

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(metrics.exposition(scraped), media_type=metrics.CONTENT_TYPE)

    @app.middleware("http")
    async def observe(request: Request, call_next: Any) -> Any:
        path = request.url.path
        command = path.removeprefix(f"{PREFIX}/commands/") if "/commands/" in path else None
        bid_ref = path.split("/")[4] if path.startswith(f"{PREFIX}/bids/") else None
        started = time.perf_counter()
        with bound_bid(bid_ref):
            response = await call_next(request)
        if command in c.COMMANDS:  # unknown names are not labels: they would grow without end
            outcome = "ok" if response.status_code < 400 else "refused"
            outcome = "error" if response.status_code >= 500 else outcome
            elapsed = time.perf_counter() - started
            metrics.command_seconds().labels(command, outcome).observe(elapsed)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_line(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(BidError)
    async def refused(request: Request, exc: BidError) -> JSONResponse:
        from orchestrator.errors import InputErrors

        lines = exc.lines() if isinstance(exc, InputErrors) else None
        return _error(status_of(exc), str(exc), lines)

    def caller(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> Person:
        from orchestrator.bid.team.people import authenticate

        if credentials is None or not credentials.credentials.strip():
            raise NotAuthenticated("no access token: send `Authorization: Bearer <token>`")
        return authenticate(context(), credentials.credentials)

    @app.get("/health", include_in_schema=False)
    @app.get(f"{PREFIX}/health", tags=["service"])
    def health() -> dict[str, str | None]:
        """200 while the service answers, with the identity of its folder's service."""
        return {"status": "ok", "service_id": own_id()}

    @app.get(f"{PREFIX}/whoami", tags=["people"])
    def whoami(person: Person = Depends(caller)) -> dict[str, Any]:
        """The person the token belongs to and their organisation roles."""
        return {"email": person.email, "name": person.name, "roles": list(person.roles)}

    @app.get(f"{PREFIX}/bids", tags=["bids"])
    def bids(state: str | None = None, person: Person = Depends(caller)) -> list[dict[str, Any]]:
        """Every bid (or those in `state`), newest first."""
        from orchestrator.bid.reports.queries import list_bids

        return list_bids(context(), state)

    @app.get(PREFIX + "/bids/{ref}", tags=["bids"])
    def bid(ref: str, person: Person = Depends(caller)) -> dict[str, Any]:
        """One bid's status: state, step owner, next actions, what blocks it, approvals."""
        from orchestrator.bid.reports.queries import status

        return status(context(), ref).as_dict()

    @app.get(PREFIX + "/bids/{ref}/history", tags=["bids"])
    def history(ref: str, person: Person = Depends(caller)) -> list[dict[str, Any]]:
        """The bid's audit trail: every transition, decision and refusal."""
        from orchestrator.bid.reports.queries import history as bid_history

        return bid_history(context(), ref)

    @app.get(PREFIX + "/bids/{ref}/explain", tags=["bids"])
    def explain(ref: str, person: Person = Depends(caller)) -> list[dict[str, Any]]:
        """Why each gate went the way it did (rule file, version, inputs, matching rows)."""
        from orchestrator.bid.reports.queries import explain as bid_explain

        return bid_explain(context(), ref)

    @app.get(PREFIX + "/bids/{ref}/approval", tags=["bids"])
    def approval(
        ref: str, area: str | None = None, person: Person = Depends(caller)
    ) -> dict[str, Any]:
        """What the approvers see (`bid approval show`); with `area`, what that approver
        decides on (technical, financial, legal or management)."""
        from orchestrator.bid.reports.queries import approval_view
        from orchestrator.core.approval_views import AREAS, for_area
        from orchestrator.errors import InputError

        if area is not None and area not in AREAS:
            raise InputError(f"unknown area '{area}'; areas are {', '.join(AREAS)}", field="area")
        summary = approval_view(context(), ref)
        return summary if area is None else for_area(summary, area)

    def run(command: c.Command, person: Person) -> c.Result:
        from orchestrator.pipeline import dispatch

        ctx = context()
        with writing:
            result = dispatch(ctx, command, person, runner=runner)
        return result  # dispatch has run its effects and delivered its notifications

    for name, kind in c.COMMANDS.items():
        app.post(
            f"{PREFIX}/commands/{name}",
            response_model=c.RESULTS[name],
            tags=["commands"],
            summary=(kind.__doc__ or name).strip().splitlines()[0],
            name=f"command {name}",
        )(_endpoint(kind, run, caller))

    @app.post(PREFIX + "/commands/{name}", include_in_schema=False)
    def unknown(name: str) -> None:
        known = ", ".join(sorted(c.COMMANDS))
        raise NotFound(f"unknown command {one_line(name)[:80]!r}; the commands are: {known}")

    return app


def _endpoint(
    kind: type[c.Command],
    run: Callable[[c.Command, Person], c.Result],
    caller: Callable[..., Person],
) -> Callable[..., c.Result]:
    def endpoint(body: Any, person: Person = Depends(caller)) -> c.Result:
        return run(body, person)

    endpoint.__annotations__ = {"body": kind, "person": Person, "return": c.RESULTS[kind.name]}
    return endpoint
