"""The typed commands that manage people (an admin's): add and change a person, grant and
revoke organisation-wide roles, issue or revoke access tokens.

They have no `by`: the permission is the sender's own, checked by the service against the
person who sent the command (never someone recorded for). Pure like
`orchestrator.core.commands`, which re-exports them and lists them in `COMMANDS`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from orchestrator.core.wire import Command, Result

Email = Field(min_length=1, max_length=320, description="The person's e-mail")
Role = Literal["management", "finance", "legal", "admin", "recorder", "library_editor"]
"""An organisation-wide grant (`store.models.Grant`)."""


class AddPerson(Command):
    """Add a person (admin)."""

    name: ClassVar[str] = "people.add"
    cli: ClassVar[tuple[str, ...]] = ("people", "add")
    positional: ClassVar[tuple[str, ...]] = ("email",)
    email: str = Email
    person_name: str | None = Field(default=None, max_length=200, alias="name")
    slack_user_id: str | None = Field(default=None, max_length=64)


class SetPerson(Command):
    """Change a person's name, Slack user id (or unlink it) or e-mail (admin; on the admin
    trail)."""

    name: ClassVar[str] = "people.set"
    cli: ClassVar[tuple[str, ...]] = ("people", "set")
    positional: ClassVar[tuple[str, ...]] = ("email",)
    email: str = Email
    person_name: str | None = Field(default=None, max_length=200, alias="name")
    slack_user_id: str | None = Field(default=None, max_length=64)
    no_slack_user_id: bool = False
    new_email: str | None = Field(default=None, max_length=320)


class GrantRole(Command):
    """Grant an organisation-wide role: approves every bid, or admin, recorder, library
    editor (admin)."""

    name: ClassVar[str] = "people.grant"
    cli: ClassVar[tuple[str, ...]] = ("people", "grant")
    positional: ClassVar[tuple[str, ...]] = ("email",)
    email: str = Email
    role: Role


class RevokeRole(Command):
    """Take an organisation-wide role back (admin; the last admin stays an admin)."""

    name: ClassVar[str] = "people.revoke"
    cli: ClassVar[tuple[str, ...]] = ("people", "revoke")
    positional: ClassVar[tuple[str, ...]] = ("email",)
    email: str = Email
    role: Role


class IssueToken(Command):
    """Issue an access token for a person (returned once; only its hash is stored), or with
    `revoke` revoke every token they hold (admin)."""

    name: ClassVar[str] = "people.token"
    cli: ClassVar[tuple[str, ...]] = ("people", "token")
    positional: ClassVar[tuple[str, ...]] = ("email",)
    email: str = Email
    revoke: bool = False


# --- results ----------------------------------------------------------------------------------


class PersonResult(Result):
    """A person as they are now: e-mail, name, Slack user id and grants."""

    email: str
    name: str | None = None
    slack_user_id: str | None = None
    grants: list[str] = Field(default_factory=list)


class PersonAdded(PersonResult):
    """A new person."""

    added: bool = True


class PersonSet(PersonResult):
    """A person changed; `previous_email` is the e-mail the command named."""

    previous_email: str


class RoleGranted(Result):
    """A grant given (`granted` False: they already held it)."""

    email: str
    role: str
    granted: bool


class RoleRevoked(Result):
    """A grant taken back (`revoked` False: they did not hold it)."""

    email: str
    role: str
    revoked: bool


class TokenIssued(Result):
    """A new token (shown once), or with `revoke` how many tokens were revoked."""

    email: str
    token: str | None = None
    note: str | None = None
    revoked: int | None = None


PEOPLE_COMMANDS: dict[type[Command], type[Result]] = {
    AddPerson: PersonAdded,
    SetPerson: PersonSet,
    GrantRole: RoleGranted,
    RevokeRole: RoleRevoked,
    IssueToken: TokenIssued,
}
"""The commands of this module and the result type of each."""
