"""Signing in to the workspace with the organisation's OpenID Connect provider (authlib).

On when BID_OIDC_ISSUER, BID_OIDC_CLIENT_ID and BID_OIDC_CLIENT_SECRET are set
(`orchestrator.config`); the sign-in page then offers "Sign in with your organisation's
account" beside the access token.

    GET /signin/oidc            to the provider's authorization endpoint (code flow, a state
                                and a nonce kept in the signed session)
    GET /signin/oidc/callback   the code exchanged for tokens; the ID token's signature
                                (the provider's JWKS), issuer, audience, expiry and nonce
                                checked by authlib

The person is the one whose e-mail the ID token names — only a *verified* e-mail
(`email_verified` true), matched case-insensitively to a person an admin added (`bid people
add`). Nobody is created here: the provider says who someone is, the folder says what they
may do, exactly as with an access token. Any failure — a refused consent, a bad token, an
unknown or unverified e-mail — answers 401 with one line and no session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import select

from orchestrator.config import Settings
from orchestrator.context import Context
from orchestrator.store.db import reading
from orchestrator.store.models import Person

PROVIDER = "organisation"
SCOPES = "openid email profile"


def configured(settings: Settings) -> bool:
    """All three of issuer, client id and secret are set."""
    return bool(settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret)


def person_for_claims(ctx: Context, claims: dict[str, Any]) -> Person | None:
    """The person the verified e-mail claim names, or None (unverified, absent, unknown)."""
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is not True:
        return None
    with reading(ctx.engine) as session:
        return session.exec(select(Person).where(Person.email == email.strip().lower())).first()


def add(
    app: FastAPI,
    *,
    context: Callable[[], Context],
    render: Callable[..., HTMLResponse],
    start_session: Callable[[Request, Person, str], RedirectResponse],
) -> None:
    """Add the OpenID Connect sign-in to the workspace `app` (when configured)."""
    settings = context().settings
    if not configured(settings):
        return
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.starlette_client import OAuth
    from joserfc.errors import JoseError

    failures = (OAuthError, JoseError, OSError, ValueError)

    oauth = OAuth()
    oauth.register(
        name=PROVIDER,
        server_metadata_url=f"{settings.oidc_issuer}/.well-known/openid-configuration",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        client_kwargs={"scope": SCOPES, "timeout": 10},
    )
    client = oauth.create_client(PROVIDER)
    app.state.oidc = True

    def refused(request: Request, line: str) -> HTMLResponse:
        request.session.clear()
        values = {"next": "/bids", "error": line}
        return render(request, "signin.html", values, status=401)

    @app.get("/signin/oidc", name="oidc_start")
    async def oidc_start(request: Request) -> Response:
        callback = request.url_for("oidc_callback")
        try:
            redirect: Response = await client.authorize_redirect(request, str(callback))
        except failures as failed:
            return refused(request, f"the sign-in provider did not answer: {failed}"[:300])
        return redirect

    @app.get("/signin/oidc/callback", name="oidc_callback")
    async def oidc_callback(request: Request) -> Response:
        if "error" in request.query_params:
            reason = request.query_params.get("error_description") or request.query_params["error"]
            return refused(request, f"the sign-in provider refused: {reason[:200]}")
        try:
            token = await client.authorize_access_token(request)
        except failures as failed:  # a bad signature, issuer, audience, nonce or state
            return refused(request, f"the sign-in could not be verified: {failed}"[:300])
        claims = dict(token.get("userinfo") or {})
        person = person_for_claims(context(), claims)
        if person is None:
            email = claims.get("email") or "no e-mail"
            if claims.get("email_verified") is not True:
                return refused(request, f"the provider has not verified {email}; sign-in refused")
            return refused(request, f"{email} is not a person of this workspace: ask an admin")
        return start_session(request, person, "/bids")
