"""`bid people link EMAIL`: a one-time link that signs the person in to the web workspace.

The link's token is random and stored as a `Credential` whose hash is written
`link-<sha256>`: an access token's stored hash is the bare hex digest, so `authenticate`
can never take a link for an access token, and a link can only sign in (the workspace
redeems it, `orchestrator.web.auth.redeem_link`). It is good once, for `LINK_MINUTES`;
issuing one is an admin's act, as issuing an access token is.

It lives with the CLI because the CLI is the door that issues it and sits below the
workspace in the layers (the workspace imports the link's format from here).
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable
from typing import Annotated

import typer

from orchestrator.bid.facts import get_person
from orchestrator.bid.team.people import is_admin, token_digest
from orchestrator.context import Context
from orchestrator.errors import NotPermitted
from orchestrator.store.db import transaction
from orchestrator.store.models import Credential, Person

DEFAULT_WEB_PORT = 4300
"""The workspace's port unless `bid server --web-port` says otherwise."""
LINK_MINUTES = 15
"""How long a one-time sign-in link stays good."""
LINK_HASH_PREFIX = "link-"
LINK_TOKEN_PREFIX = "bidlink_"


def link_hash(token: str) -> str:
    """What is stored of a link's token (never equal to an access token's stored hash)."""
    return LINK_HASH_PREFIX + token_digest(token)


def issue_link(ctx: Context, email: str, *, by: Person) -> str:
    """A one-time sign-in token for the person (admin only, as access tokens are)."""
    if not is_admin(by):
        raise NotPermitted(f"{by.email} is not an admin; only an admin may issue sign-in links")
    token = LINK_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction(ctx.engine) as session:
        person = get_person(session, email)
        session.add(
            Credential(
                person_id=person.id or 0,
                token_hash=link_hash(token),
                issued_at=ctx.clock(),
                issued_by=by.email,
            )
        )
    return token


def workspace_url(ctx: Context) -> str:
    """The running workspace's address (`bid server status`), else the default port's."""
    from orchestrator.runtime import service

    info = service.status(ctx.settings)
    url = getattr(info, "workspace_url", None) if info is not None else None
    return str(url or f"http://127.0.0.1:{DEFAULT_WEB_PORT}").rstrip("/")


def register(app: typer.Typer, get_context: Callable[[], Context]) -> None:
    """Add `link` to the `bid people` group (registered before this module)."""

    def people_link(
        email: Annotated[str, typer.Argument(help="The person's e-mail")],
        base_url: Annotated[
            str | None,
            typer.Option("--base-url", help="The workspace's address as the person reaches it"),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
    ) -> None:
        """Print a one-time sign-in link to the web workspace for the person (admin)."""
        from orchestrator.cli.identity import current_person

        ctx = get_context()
        token = issue_link(ctx, email, by=current_person(ctx))
        base = (base_url or workspace_url(ctx)).rstrip("/")
        link = f"{base}/signin/link?token={token}"
        if as_json:
            answer = {"email": email.strip().lower(), "link": link, "minutes": LINK_MINUTES}
            sys.stdout.write(json.dumps(answer, indent=2) + "\n")
            return
        sys.stdout.write(link + "\n")
        typer.echo(
            f"Good once, for {LINK_MINUTES} minutes; only its hash is stored. "
            "Hand it over privately.",
            err=True,
        )

    for group in app.registered_groups:
        if group.name == "people" and group.typer_instance is not None:
            group.typer_instance.command("link")(people_link)
            return
