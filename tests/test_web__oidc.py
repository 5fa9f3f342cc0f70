"""Signing in to the workspace with OpenID Connect, against a small local provider
(`tests/support/oidc_provider.py`: discovery, JWKS, authorize, token, RS256 ID tokens): the
verified e-mail claim names a person the folder knows; anything else is refused with one
line and no session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey

from orchestrator.context import Context
from orchestrator.runtime.runner import InlineRunner
from orchestrator.web.app import make_web_app
from tests.factories import PEOPLE
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, running_provider
from tests.test_web__workspace import _person


@pytest.fixture
def provider() -> Iterator[Provider]:
    with running_provider() as running:
        yield running


@pytest.fixture
def web(ctx: Context, provider: Provider) -> Iterator[TestClient]:
    settings = replace(
        ctx.settings,
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
    )
    configured = replace(ctx, settings=settings)
    with TestClient(make_web_app(lambda: configured, runner=InlineRunner())) as client:
        yield client


def _sign_in(web: TestClient) -> Any:  # the TestClient's response (httpx or httpx2)
    """The browser's round trip: the workspace, the provider, back to the workspace."""
    start = web.get("/signin/oidc", follow_redirects=False)
    assert start.status_code == 302, start.text
    at_provider = httpx.get(start.headers["location"], follow_redirects=False)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["location"])
    return web.get(f"{back.path}?{back.query}", follow_redirects=False)


def test_the_verified_email_signs_in_its_person(
    web: TestClient, ctx: Context, provider: Provider
) -> None:
    person = _person(ctx, PEOPLE["bid_manager"])
    assert "Sign in with your organisation" in web.get("/signin").text
    provider.user = {"email": person.email.upper(), "email_verified": True, "name": "Bea"}
    done = _sign_in(web)
    assert done.status_code == 303 and done.headers["location"] == "/bids"
    page = web.get("/bids")
    assert page.status_code == 200 and person.name in page.text
    assert provider.tokens_issued == 1


@pytest.mark.parametrize(
    ("claims", "line"),
    [
        ({"email": "nobody@example.com", "email_verified": True}, "is not a person of this"),
        ({"email": PEOPLE["bid_manager"], "email_verified": False}, "has not verified"),
        ({"email": PEOPLE["bid_manager"]}, "has not verified"),
    ],
)
def test_an_unknown_or_unverified_email_is_refused(
    web: TestClient, ctx: Context, provider: Provider, claims: dict[str, object], line: str
) -> None:
    _person(ctx, PEOPLE["bid_manager"])
    provider.user = claims
    done = _sign_in(web)
    assert done.status_code == 401 and line in done.text
    assert web.get("/bids", follow_redirects=False).status_code == 303  # no session


def test_a_token_signed_by_another_key_or_a_replayed_state_is_refused(
    web: TestClient, ctx: Context, provider: Provider
) -> None:
    _person(ctx, PEOPLE["bid_manager"])
    provider.user = {"email": PEOPLE["bid_manager"], "email_verified": True}
    provider.sign_with = RSAKey.generate_key(2048)
    done = _sign_in(web)
    assert done.status_code == 401 and "could not be verified" in done.text
    assert web.get("/bids", follow_redirects=False).status_code == 303

    provider.sign_with = None
    start = web.get("/signin/oidc", follow_redirects=False)
    back = urlsplit(httpx.get(start.headers["location"]).headers["location"])
    assert web.get(f"{back.path}?{back.query}", follow_redirects=False).status_code == 303
    web.cookies.clear()  # another browser replays the same answer: its session holds no state
    again = web.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert again.status_code == 401


def test_without_configuration_there_is_no_oidc_sign_in(ctx: Context) -> None:
    with TestClient(make_web_app(lambda: ctx, runner=InlineRunner())) as client:
        assert "Sign in with your organisation" not in client.get("/signin").text
        assert client.get("/signin/oidc", follow_redirects=False).status_code == 404
