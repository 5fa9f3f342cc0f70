"""The typed commands on the organisation's accounts: a tier change, an import of accounts,
the competitor who holds an account's contract, and the renewal scan.

Pure like `orchestrator.core.commands`, which re-exports them and lists them in `COMMANDS`.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from pydantic import Field

from orchestrator.core.wire import MAX_TEXT, By, Command, FileUpload, Result

AccountName = Field(min_length=1, max_length=300, description="The account's name")


class SetTier(Command):
    """Move an account to another tier (management or an admin), with a reason kept on its
    trail."""

    name: ClassVar[str] = "account.set-tier"
    cli: ClassVar[tuple[str, ...]] = ("account", "set-tier")
    positional: ClassVar[tuple[str, ...]] = ("account", "tier")
    account: str = AccountName
    tier: str = Field(min_length=1, max_length=64)
    reason: str = Field(max_length=MAX_TEXT)
    by: str | None = By


class ImportAccounts(Command):
    """Create and update accounts from a CSV (name, tier[, parent, country, ...]); all rows or
    none (management or an admin)."""

    name: ClassVar[str] = "account.import"
    cli: ClassVar[tuple[str, ...]] = ("account", "import")
    positional: ClassVar[tuple[str, ...]] = ("file",)
    file: FileUpload
    dry_run: bool = Field(default=False, description="Report what would happen; change nothing")
    by: str | None = By


class RecordCompetitor(Command):
    """Record who holds an account's contract and when it ends: the account sleeps until it
    is time to bid again (rules/portfolio.yaml)."""

    name: ClassVar[str] = "account.competitor"
    cli: ClassVar[tuple[str, ...]] = ("account", "competitor")
    positional: ClassVar[tuple[str, ...]] = ("account",)
    account: str = AccountName
    competitor: str = Field(max_length=300)
    contract_end: date
    reason: str | None = Field(default=None, max_length=MAX_TEXT)
    by: str | None = By


class ScanRenewals(Command):
    """Open a renewal opportunity for every contract ending within the horizon and wake the
    sleeping accounts whose date has come (management or an admin; the schedule too)."""

    name: ClassVar[str] = "renewals.scan"
    cli: ClassVar[tuple[str, ...]] = ("renewals", "scan")


# --- results ----------------------------------------------------------------------------------


class TierChanged(Result):
    """An account's tier (`changed` False: it already had it)."""

    account: str
    from_tier: str
    to_tier: str
    changed: bool


class AccountsImported(Result):
    """Accounts created and updated, with the tier changes among them."""

    file: str
    created: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    tier_changes: list[dict[str, Any]] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)


class CompetitorRecorded(Result):
    """The competitor recorded and the day the account wakes."""

    account: str
    competitor: str
    contract_end: date
    wakes_on: date


class RenewalsScanned(Result):
    """The renewals opened and the accounts woken."""

    opened: list[dict[str, Any]] = Field(default_factory=list)
    woken: list[dict[str, Any]] = Field(default_factory=list)


ACCOUNT_COMMANDS: dict[type[Command], type[Result]] = {
    SetTier: TierChanged,
    ImportAccounts: AccountsImported,
    RecordCompetitor: CompetitorRecorded,
    ScanRenewals: RenewalsScanned,
}
"""The commands of this module and the result type of each."""
