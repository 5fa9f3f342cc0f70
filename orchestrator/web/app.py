"""The bid workspace: server-rendered pages over the pipeline's commands and the bid queries.

    GET  /signin, POST /signin          sign in with an access token
    GET  /signin/link?token=…, POST     sign in with a one-time link (`bid people link EMAIL`)
    GET  /signin/oidc, …/callback       sign in with OpenID Connect, when configured (web.oidc)
    POST /signout
    GET  /bids                          the bid list (mine / all, by state, search)
    GET  /bids/new, POST /bids/new      a new bid from the form and its site list
    GET  /bids/{ref}                    the bid page: stage path, blocks, next actions, trail
    POST /bids/{ref}/{action}           advance, decide, freeze, result, withdraw
    GET  /bids/{ref}/files/{name}       one of the bid's documents (its team only)
    GET  /approvals, POST /approvals/{ref}/{area}   the approver's inbox

Every change is a typed command handed to `orchestrator.pipeline.dispatch` for the signed-in
person — the workspace has no write path of its own, so it checks nothing the CLI would not,
and refuses what the CLI refuses with the same one line. A page or action without a session
redirects to the sign-in page (a POST answers 401); a POST without the session's CSRF token
answers 403 and reads nothing else. Everything shown passes Jinja's autoescape.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData, UploadFile
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator import __version__
from orchestrator.api.app import status_of
from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.errors import BidError, NotAuthenticated
from orchestrator.runtime.runner import FlowRunner
from orchestrator.store.models import Person
from orchestrator.text import one_line
from orchestrator.web import auth
from orchestrator.web import queries as q

log = logging.getLogger("bid.web")

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY_BYTES = c.MAX_UPLOAD_BYTES + 1_000_000
"""A form's body at the most: the largest upload a command carries, and its fields."""
SESSION_HOURS = 12
COOKIE = "bid_session"


def templates_dir() -> Path:
    """templates/web: inside an installed wheel, else beside the package."""
    package = Path(__file__).resolve().parents[1]
    bundled = package / "_bundled" / "templates" / "web"
    return bundled if bundled.is_dir() else package.parent / "templates" / "web"


class BodyLimit:
    """Refuse a request body over `max_bytes` (413), whether it says its length or streams
    it in chunks, before a form parser spools it anywhere."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except* _TooLarge:  # raised in the form parser, maybe inside a middleware's task group
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        text = f"<p>A form is limited to {self.max_bytes:,} bytes; nothing was saved.</p>"
        await HTMLResponse(text, status_code=413)(scope, receive, send)


class _TooLarge(Exception):
    pass


class SignInNeeded(Exception):
    """No session: a page redirects to the sign-in page, an action answers 401."""


class CsrfMissing(Exception):
    """A POST without the session's CSRF token."""


def make_web_app(
    context: Callable[[], Context],
    runner: FlowRunner | None = None,
    *,
    prefect_url: str | None = None,
    secure_cookie: bool = False,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The workspace over the context `context()` returns."""
    ctx0 = context()
    app = FastAPI(title="Bid workspace", version=__version__, docs_url=None, redoc_url=None)
    app.openapi_url = None
    app.add_middleware(
        SessionMiddleware,
        secret_key=auth.session_secret(ctx0.settings.data_dir),
        session_cookie=COOKIE,
        max_age=SESSION_HOURS * 3600,
        same_site="lax",
        https_only=secure_cookie,
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    pages = Jinja2Templates(directory=str(templates_dir()))
    pages.env.autoescape = True
    writing = threading.Lock()

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'",
        )
        return response

    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)

    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, exc: SignInNeeded) -> Response:
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)
        return render(request, "error.html", {"message": "Sign in first."}, status=401)

    @app.exception_handler(CsrfMissing)
    async def csrf_missing(request: Request, exc: CsrfMissing) -> Response:
        message = "This form has expired or did not come from this workspace; reload the page."
        return render(request, "error.html", {"message": message}, status=403)

    @app.exception_handler(BidError)
    async def refused(request: Request, exc: BidError) -> Response:
        return render(request, "error.html", {"message": one_line(str(exc))}, status_of(exc))

    # --- helpers ----------------------------------------------------------------------------

    def csrf_of(request: Request) -> str:
        token = request.session.get("csrf")
        if not isinstance(token, str) or not token:
            token = auth.new_csrf()
            request.session["csrf"] = token
        return token

    def render(
        request: Request, name: str, values: dict[str, Any], status: int = 200
    ) -> HTMLResponse:
        person = auth.session_person(context(), request.session)
        flash = request.session.pop("flash", None)
        return pages.TemplateResponse(
            request,
            name,
            {
                "me": person,
                "csrf": csrf_of(request),
                "flash": flash,
                "version": __version__,
                "oidc": getattr(app.state, "oidc", False),
                **values,
            },
            status_code=status,
        )

    def signed_in(request: Request) -> Person:
        person = auth.session_person(context(), request.session)
        if person is None:
            request.session.clear()
            raise SignInNeeded
        return person

    async def form_of(request: Request) -> FormData:
        """The posted form, once its CSRF token is the session's."""
        form = await request.form(max_files=4, max_fields=200, max_part_size=max_body_bytes)
        if not auth.csrf_matches(request.session.get("csrf"), form.get("csrf")):
            raise CsrfMissing
        return form

    def run(command: c.Command, person: Person) -> c.Result:
        from orchestrator.pipeline import dispatch

        ctx = context()
        with writing:
            result = dispatch(ctx, command, person, runner=runner)
        return result  # dispatch has run its effects and delivered its notifications

    def flash(request: Request, kind: str, text: str, lines: list[str] | None = None) -> None:
        request.session["flash"] = {"kind": kind, "text": one_line(text), "lines": lines or []}

    def back_to(ref: str) -> RedirectResponse:
        return RedirectResponse(f"/bids/{quote(ref)}", status_code=303)

    # --- sign-in ----------------------------------------------------------------------------

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/bids", status_code=303)

    @app.get("/signin", response_class=HTMLResponse)
    def signin_page(request: Request, next: str = "/bids") -> HTMLResponse:
        return render(request, "signin.html", {"next": _local(next), "error": None})

    @app.post("/signin", response_class=HTMLResponse)
    async def signin(request: Request) -> Response:
        form = await form_of(request)
        target = _local(str(form.get("next") or "/bids"))
        from orchestrator.bid.team.people import authenticate

        try:
            person = authenticate(context(), str(form.get("token") or ""))
        except NotAuthenticated as refused:
            values = {"next": target, "error": one_line(str(refused))}
            return render(request, "signin.html", values, status=401)
        return _start_session(request, person, target)

    @app.get("/signin/link", response_class=HTMLResponse)
    def link_page(request: Request, token: str = "") -> HTMLResponse:
        return render(request, "signin_link.html", {"token": token[:200]})

    @app.post("/signin/link", response_class=HTMLResponse)
    async def link_signin(request: Request) -> Response:
        form = await form_of(request)
        try:
            person = auth.redeem_link(context(), str(form.get("token") or ""))
        except NotAuthenticated as refused:
            values = {"next": "/bids", "error": one_line(str(refused))}
            return render(request, "signin.html", values, status=401)
        return _start_session(request, person, "/bids")

    def _start_session(request: Request, person: Person, target: str) -> RedirectResponse:
        request.session.clear()  # a new session: no fixation of a token seen before sign-in
        request.session["person"] = person.id
        request.session["since"] = context().clock().isoformat()
        request.session["csrf"] = auth.new_csrf()
        return RedirectResponse(target, status_code=303)

    from orchestrator.web import oidc

    oidc.add(app, context=context, render=render, start_session=_start_session)

    @app.post("/signout")
    async def signout(request: Request) -> RedirectResponse:
        await form_of(request)
        request.session.clear()
        return RedirectResponse("/signin", status_code=303)

    # --- pages and actions --------------------------------------------------------------------

    # before the bid pages: their POST /bids/{ref}/{action} would take these paths
    from orchestrator.web import work as work_routes

    work_routes.add(
        app,
        context=context,
        render=render,
        signed_in=signed_in,
        form_of=form_of,
        run=run,
        flash=flash,
    )

    from orchestrator.web import preview as preview_routes

    preview_routes.add(app, context=context, render=render, signed_in=signed_in)

    from orchestrator.web import managers as manager_routes

    manager_routes.add(app, context=context, render=render, signed_in=signed_in)

    from orchestrator.web import pages as page_routes

    page_routes.add(
        app,
        context=context,
        render=render,
        signed_in=signed_in,
        form_of=form_of,
        run=run,
        flash=flash,
        back_to=back_to,
        prefect_url=prefect_url or f"http://127.0.0.1:{ctx0.settings.ui_port}",
    )

    @app.get("/bids/{ref}/files/{name}")
    def download(ref: str, name: str, request: Request) -> FileResponse:
        person = signed_in(request)
        path = q.bid_file(context(), ref, name, person)
        return FileResponse(path, filename=path.name, content_disposition_type="attachment")

    return app


def _local(target: str) -> str:
    """Only a path of this site to go back to after sign-in (no open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/bids"
    return target


def upload_of(form: FormData, field: str) -> UploadFile | None:
    value = form.get(field)
    if isinstance(value, UploadFile) and value.filename:
        return value
    return None
