"""A tiny OpenID Connect provider for tests: discovery, JWKS, authorize and token, with ID
tokens signed RS256 (joserfc, authlib's JOSE), served by uvicorn on a free local port.

It signs in whoever the test says (`provider.user = {...claims}`) without a login page: the
authorize endpoint redirects straight back with a code, as a provider does for a person
already signed in there. The token endpoint checks the client's id and secret (basic auth or
form), the code (once) and the redirect URI.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support.prefect_server import free_port

CLIENT_ID = "bid-workspace"
CLIENT_SECRET = "s3cret-for-tests"


@dataclass
class Provider:
    issuer: str
    user: dict[str, Any] = field(default_factory=dict)
    """The claims of the person signed in at the provider (email, email_verified, name)."""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens_issued: int = 0
    sign_with: RSAKey | None = None
    """Another key to sign with (a forged token)."""

    def app(self) -> Starlette:
        kid = "test-key"

        async def discovery(request: Request) -> Response:
            return JSONResponse(
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token",
                    "jwks_uri": f"{self.issuer}/jwks",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": [
                        "client_secret_basic",
                        "client_secret_post",
                    ],
                }
            )

        async def jwks(request: Request) -> Response:
            public = self.key.as_dict(private=False)
            return JSONResponse({"keys": [{**public, "kid": kid, "use": "sig", "alg": "RS256"}]})

        async def authorize(request: Request) -> Response:
            query = request.query_params
            if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "nonce": query.get("nonce"),
                "redirect_uri": query["redirect_uri"],
                "claims": dict(self.user),
            }
            back = {"code": code, "state": query.get("state", "")}
            return RedirectResponse(f"{query['redirect_uri']}?{urlencode(back)}", 302)

        async def token(request: Request) -> Response:
            form = await request.form()
            client_id, secret = form.get("client_id"), form.get("client_secret")
            header = request.headers.get("authorization", "")
            if header.startswith("Basic "):
                client_id, secret = base64.b64decode(header[6:]).decode().split(":", 1)
            if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET):
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            grant = self.codes.pop(str(form.get("code")), None)
            if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            now = int(time.time())
            claims = {
                "iss": self.issuer,
                "aud": CLIENT_ID,
                "sub": str(grant["claims"].get("email", "nobody")),
                "iat": now,
                "exp": now + 300,
                "nonce": grant["nonce"],
                **grant["claims"],
            }
            signer = self.sign_with or self.key
            id_token = jwt.encode({"alg": "RS256", "kid": kid}, claims, signer)
            self.tokens_issued += 1
            return JSONResponse(
                {
                    "access_token": secrets.token_urlsafe(16),
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": id_token,
                }
            )

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", discovery),
                Route("/jwks", jwks),
                Route("/authorize", authorize),
                Route("/token", token, methods=["POST"]),
            ]
        )


@contextmanager
def running_provider() -> Iterator[Provider]:
    """The provider served on 127.0.0.1 for the duration of the block."""
    port = free_port()
    provider = Provider(issuer=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(
        uvicorn.Config(
            provider.app(), host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test OIDC provider did not start")
        time.sleep(0.02)
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(timeout=10)
