"""Handlers of people management (an admin's): people added and changed, organisation-wide
grants, access tokens. The service checks the sender (`registry.caller()`), not `by`, and
writes every change on the admin trail."""

from __future__ import annotations

from typing import Any

from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.handlers.registry import caller, handles
from orchestrator.runtime.runner import FlowRunner
from orchestrator.store.models import Grant, Person

TOKEN_NOTE = (
    "Shown once; only its hash is stored. Hand it over privately; they run `bid login` and "
    "paste it."
)


def _person(name: str, person: Person) -> dict[str, Any]:
    return {
        "command": name,
        "email": person.email,
        "name": person.name,
        "slack_user_id": person.slack_user_id,
        "grants": list(person.roles),
    }


@handles(c.AddPerson)
def _add(ctx: Context, command: c.AddPerson, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.team.people import add_person

    person = add_person(
        ctx,
        command.email,
        by=caller(),
        name=command.person_name,
        slack_user_id=command.slack_user_id,
    )
    return c.PersonAdded(**_person(command.name, person), message=f"added {person.email}")


@handles(c.SetPerson)
def _set(ctx: Context, command: c.SetPerson, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.team.people import set_person

    person = set_person(
        ctx,
        command.email,
        by=caller(),
        name=command.person_name,
        slack_user_id=command.slack_user_id,
        clear_slack_user_id=command.no_slack_user_id,
        new_email=command.new_email,
    )
    return c.PersonSet(**_person(command.name, person), previous_email=command.email)


@handles(c.GrantRole)
def _grant(ctx: Context, command: c.GrantRole, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.team.people import grant

    done = grant(ctx, command.email, Grant(command.role), by=caller())
    return c.RoleGranted(command=command.name, email=command.email, role=command.role, granted=done)


@handles(c.RevokeRole)
def _revoke(ctx: Context, command: c.RevokeRole, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.team.people import revoke

    done = revoke(ctx, command.email, Grant(command.role), by=caller())
    return c.RoleRevoked(command=command.name, email=command.email, role=command.role, revoked=done)


@handles(c.IssueToken)
def _token(ctx: Context, command: c.IssueToken, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.team.people import issue_token, revoke_tokens

    if command.revoke:
        count = revoke_tokens(ctx, command.email, by=caller())
        return c.TokenIssued(command=command.name, email=command.email, revoked=count)
    token = issue_token(ctx, command.email, by=caller())
    return c.TokenIssued(command=command.name, email=command.email, token=token, note=TOKEN_NOTE)
