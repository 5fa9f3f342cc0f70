"""`bid people …` (admins manage people, grants and tokens), `bid login`, `logout`, `whoami`.

Thin: authenticate the caller, call `bid.people`, print. Every change is on the admin trail
(`bid people history`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console

from orchestrator.cli.output import Result, emit, esc, print_json, table
from orchestrator.context import Context
from orchestrator.store.models import Grant, Person

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
EmailArgument = Annotated[str, typer.Argument(help="The person's e-mail")]
RoleOption = Annotated[Grant, typer.Option(help="management | finance | legal | admin | recorder")]
console = Console()


def person_result(person: Person) -> dict[str, Any]:
    """A person as a command's result: e-mail, name, Slack user id and grants."""
    return {
        "email": person.email,
        "name": person.name,
        "slack_user_id": person.slack_user_id,
        "grants": list(person.roles),
    }


def register(app: typer.Typer, get_context: Callable[[], Context]) -> None:
    """Add `people …`, `login`, `logout` and `whoami` to the `bid` command."""
    people_app = typer.Typer(
        help="People, organisation roles and access tokens (admins).", no_args_is_help=True
    )
    app.add_typer(people_app, name="people", rich_help_panel="People")

    def caller() -> tuple[Context, Any]:
        from orchestrator.cli.identity import current_person

        ctx = get_context()
        return ctx, current_person(ctx)

    @people_app.command("list")
    def people_list(as_json: JsonOption = False) -> None:
        """Everyone the orchestrator knows, with their grants and Slack ids."""
        from orchestrator.bid.team.people import list_people

        rows = list_people(get_context())
        if as_json:
            print_json(rows)
            return
        console.print(
            table(
                "People",
                ("email", "name", "slack user", "grants", "token"),
                [
                    (
                        r["email"],
                        r["name"],
                        r["slack_user_id"],
                        ", ".join(r["grants"]),
                        "yes" if r["has_token"] else "",
                    )
                    for r in rows
                ],
            )
        )

    @people_app.command("add")
    def people_add(
        email: EmailArgument,
        name: Annotated[str | None, typer.Option(help="Display name")] = None,
        slack_user_id: Annotated[
            str | None, typer.Option("--slack-user-id", help="Their Slack user id (U…)")
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Add a person (admin)."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import AddPerson

        sent = command(AddPerson, email=email, name=name, slack_user_id=slack_user_id)
        emit(
            run(get_context, sent),
            as_json,
            lambda r: console.print(f"added {esc(r['email'])} ({esc(r['name'])})"),
        )

    @people_app.command("set")
    def people_set(
        email: EmailArgument,
        name: Annotated[str | None, typer.Option(help="New display name")] = None,
        slack_user_id: Annotated[
            str | None, typer.Option("--slack-user-id", help="Link their Slack user id (U…)")
        ] = None,
        no_slack_user_id: Annotated[
            bool, typer.Option("--no-slack-user-id", help="Unlink their Slack user")
        ] = False,
        new_email: Annotated[str | None, typer.Option("--email", help="New e-mail")] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Change a person's name, Slack user id or e-mail (admin; on the admin trail)."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import SetPerson

        sent = command(
            SetPerson,
            email=email,
            name=name,
            slack_user_id=slack_user_id,
            no_slack_user_id=no_slack_user_id,
            new_email=new_email,
        )
        emit(
            run(get_context, sent),
            as_json,
            lambda r: console.print(
                f"{esc(r['email'])}: {esc(r['name'])}, Slack user {esc(r['slack_user_id'])}"
            ),
        )

    @people_app.command("grant")
    def people_grant(
        email: EmailArgument,
        role: Annotated[
            Grant, typer.Option(help="management | finance | legal | admin | recorder")
        ],
        as_json: JsonOption = False,
    ) -> None:
        """Grant an organisation-wide role: approves every bid, or admin, or recorder (admin)."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import GrantRole

        sent = command(GrantRole, email=email, role=role.value)
        emit(
            run(get_context, sent),
            as_json,
            lambda r: console.print(
                f"{esc(r['email'])} {'now holds' if r['granted'] else 'already held'} "
                f"{r['role']} organisation-wide"
            ),
        )

    @people_app.command("revoke")
    def people_revoke(
        email: EmailArgument,
        role: Annotated[
            Grant, typer.Option(help="management | finance | legal | admin | recorder")
        ],
        as_json: JsonOption = False,
    ) -> None:
        """Take an organisation-wide role back (admin)."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import RevokeRole

        sent = command(RevokeRole, email=email, role=role.value)
        emit(
            run(get_context, sent),
            as_json,
            lambda r: console.print(
                f"{esc(r['email'])} {'no longer holds' if r['revoked'] else 'did not hold'} "
                f"{r['role']}"
            ),
        )

    @people_app.command("token")
    def people_token(
        email: EmailArgument,
        revoke_all: Annotated[
            bool, typer.Option("--revoke", help="Revoke every token of the person instead")
        ] = False,
        as_json: JsonOption = False,
    ) -> None:
        """Issue an access token (printed once; they run `bid login`), or revoke them (admin)."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import IssueToken

        done = run(get_context, command(IssueToken, email=email, revoke=revoke_all))
        if revoke_all:
            emit(
                done,
                as_json,
                lambda r: console.print(f"revoked {r['revoked']} token(s) of {esc(r['email'])}"),
            )
            return
        emit(done, as_json, _print_token)

    @people_app.command("recover-admin")
    def people_recover_admin(as_json: JsonOption = False) -> None:
        """The folder's admin token file was lost: write a new one for the database's admin.

        Direct access to the database is an admin's door (whoever can open it can change it);
        the recovery is on the admin trail. Refused while the token file works.
        """
        import getpass

        from orchestrator.bid.team.people import authenticate, recover_admin_token
        from orchestrator.cli.identity import write_secret
        from orchestrator.errors import InputError, NotAuthenticated

        ctx = get_context()
        file = ctx.settings.admin_token_file
        if file.exists():
            try:
                authenticate(ctx, file.read_text(encoding="utf-8").strip())
            except NotAuthenticated:
                pass
            else:
                raise InputError(f"{file} works; nothing to recover")
        made = recover_admin_token(ctx, f"database access ({getpass.getuser()})")
        write_secret(file, made.token + "\n")
        emit(
            {"token_file": str(file), "email": made.person.email},
            as_json,
            lambda r: console.print(
                f"{esc(r['token_file'])}: a new token for {esc(r['email'])} (admin)"
            ),
        )

    @people_app.command("history")
    def people_history(as_json: JsonOption = False) -> None:
        """The admin trail: people added and changed, roles granted, tokens issued."""
        from orchestrator.bid.team.people import people_history as trail

        rows = trail(get_context())
        if as_json:
            print_json(rows)
            return
        console.print(
            table(
                "People: the admin trail",
                ("at", "by", "action", "whom", "details"),
                [
                    (r["at"][:19], r["actor"], r["action"], r["subject"], json.dumps(r["details"]))
                    for r in rows
                ],
            )
        )

    @app.command("login", rich_help_panel="People")
    def login(
        token: Annotated[
            str | None,
            typer.Option(
                "--token", hidden=True, help="Refused: a token here shows in the process list"
            ),
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Keep your access token for this database (your OS user only, mode 600): typed at
        the prompt (not echoed), or piped in (`bid login < token-file`)."""
        from orchestrator.bid.team.people import authenticate
        from orchestrator.cli.identity import store_token
        from orchestrator.errors import InputError

        if token is not None:
            raise InputError(
                "a token on the command line shows in the process list: type it at the "
                "prompt (bid login) or pipe it in (bid login < token-file)",
                field="--token",
            )
        ctx = get_context()
        if sys.stdin is not None and not sys.stdin.isatty():
            given = sys.stdin.readline(4096)
        else:
            given = typer.prompt("access token", hide_input=True)
        person = authenticate(ctx, given)
        store_token(ctx.settings, given.strip())
        emit(
            {
                **person_result(person),
                "logged_in": True,
                "credentials_file": str(ctx.settings.credentials_file),
            },
            as_json,
            lambda r: console.print(
                f"logged in as {esc(r['email'])} ({esc(r['credentials_file'])})"
            ),
        )

    @app.command("logout", rich_help_panel="People")
    def logout(as_json: JsonOption = False) -> None:
        """Forget your stored access token for this database."""
        from orchestrator.cli.identity import store_token

        ctx = get_context()
        store_token(ctx.settings, None)
        emit(
            {"logged_in": False, "credentials_file": str(ctx.settings.credentials_file)},
            as_json,
            lambda _: console.print("logged out"),
        )

    @app.command("whoami", rich_help_panel="People")
    def whoami(as_json: JsonOption = False) -> None:
        """Who `bid` acts as here, and what the organisation granted them."""
        _, person = caller()
        data = {"email": person.email, "name": person.name, "grants": list(person.roles)}
        emit(data, as_json, _print_whoami)


def _print_whoami(result: Result) -> None:
    grants = ", ".join(result["grants"]) or "no organisation roles"
    console.print(f"{esc(result['email'])} ({esc(result['name'])}): {esc(grants)}")


def _print_token(result: Result) -> None:
    """The token alone on stdout (scripts read it), the advice on stderr."""
    typer.echo(result["token"])
    typer.echo(result["note"], err=True)
