"""The typed commands that correct a bid and set what it offers: its sites, what the
customer changed, the terms, the prices, the service strategy, the order details.

Pure like `orchestrator.core.commands`, which re-exports them and lists them in `COMMANDS`.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from orchestrator.core.wire import MAX_TEXT, By, CarriedOn, Command, FileUpload, Moved, Ref, Result

MAX_ITEMS = 200
"""The most deviations, win themes or prices one command carries."""

Short = Field(default=None, max_length=4 * MAX_TEXT)


class _SitesFile(Command):
    positional: ClassVar[tuple[str, ...]] = ("opportunity", "file")
    opportunity: str = Ref
    file: FileUpload
    by: str | None = By


class UpdateSites(_SitesFile):
    """Change sites by site id: each row a site id and the corrected columns (an empty cell
    keeps the value). Checked like an import; rules/changes.yaml says what it does in the
    bid's phase."""

    name: ClassVar[str] = "sites.update"
    cli: ClassVar[tuple[str, ...]] = ("sites", "update")
    reason: str | None = Field(default=None, max_length=MAX_TEXT)
    """Why the design differs from what the customer asked (the technical approver reads the
    redesigned sites grouped by it)."""


class AddSites(_SitesFile):
    """Add the sites of a CSV (the columns of `sites.import`) to the bid."""

    name: ClassVar[str] = "sites.add"
    cli: ClassVar[tuple[str, ...]] = ("sites", "add")


class RemoveSites(_SitesFile):
    """Remove the sites a CSV names (column site_id) from the bid."""

    name: ClassVar[str] = "sites.remove"
    cli: ClassVar[tuple[str, ...]] = ("sites", "remove")


class UpdateOpportunity(Command):
    """Record what the customer changed: deadline, contract term, currency, an RFP addendum
    (kept with the bid's documents), whether we hold the contract today (`incumbent`: the
    proposal's transition plan and the go/no-go read it). Every change needs a reason."""

    name: ClassVar[str] = "opportunity.update"
    cli: ClassVar[tuple[str, ...]] = ("opportunity", "update")
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    reason: str = Field(max_length=MAX_TEXT)
    deadline: date | None = None
    contract_months: int | None = None
    currency: str | None = Field(default=None, max_length=32)
    addendum: FileUpload | None = None
    incumbent: bool | None = None
    by: str | None = By


class SetTerms(Command):
    """Record the non-standard terms the customer asks for (they replace the earlier ones),
    or with `standard` go back to the standard terms."""

    name: ClassVar[str] = "terms"
    cli: ClassVar[tuple[str, ...]] = ("terms",)
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    deviations: list[str] = Field(default_factory=list, max_length=MAX_ITEMS)
    standard: bool = False
    by: str | None = By

    @field_validator("deviations")
    @classmethod
    def _each(cls, value: list[str]) -> list[str]:
        if any(len(text) > MAX_TEXT for text in value):
            raise ValueError(f"a deviation is at most {MAX_TEXT:,} characters")
        return value

    @model_validator(mode="after")
    def _one(self) -> SetTerms:
        if self.standard == bool(self.deviations):
            raise ValueError("give --deviation TEXT (one or more) or --standard")
        return self


class SetPricing(Command):
    """Change the bid's prices in bid production: a discount in percent, prices per access
    type or service that override the list; or, where the loss is, a price for one `site`,
    every site of a `country`, every site of a price `band` (`fiber:100`: fiber sites in the
    band ending at 100 Mbps), or a country's band, with `monthly` and/or `one_off` and a
    `reason` (required: who and why are recorded with the price). The design reopens. The
    service checks each value (finite, in range, a site or country of the bid, a band of the
    price list) and names the field it refuses (`pricing.monthly_price.fiber`, `site`)."""

    name: ClassVar[str] = "pricing"
    cli: ClassVar[tuple[str, ...]] = ("pricing",)
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    discount: float | None = None
    monthly_price: dict[str, float] = Field(default_factory=dict, max_length=MAX_ITEMS)
    one_off_price: dict[str, float] = Field(default_factory=dict, max_length=MAX_ITEMS)
    site: str | None = Field(default=None, max_length=MAX_TEXT)
    country: str | None = Field(default=None, max_length=2)
    band: str | None = Field(default=None, max_length=40)
    monthly: float | None = None
    one_off: float | None = None
    reason: str | None = Short
    by: str | None = By

    @model_validator(mode="after")
    def _some(self) -> SetPricing:
        scoped = self.site is not None or self.country is not None or self.band is not None
        if scoped and self.monthly is None and self.one_off is None:
            raise ValueError("give --monthly and/or --one-off for the site, country or band")
        if not scoped and (self.monthly is not None or self.one_off is not None):
            raise ValueError("a single --monthly/--one-off price needs --site, --country or --band")
        if (
            self.discount is None
            and not self.monthly_price
            and not self.one_off_price
            and not scoped
        ):
            raise ValueError("give --discount, --monthly or --one-off")
        return self

    @property
    def scoped(self) -> bool:
        return self.site is not None or self.country is not None or self.band is not None

    def changes(self) -> dict[str, Any]:
        """The changes as `bid.terms.set_pricing` takes them (and the result shows them)."""
        given: dict[str, Any] = {}
        if self.discount is not None:
            given["discount_pct"] = self.discount
        if self.monthly_price:
            given["monthly_price"] = dict(self.monthly_price)
        if self.one_off_price:
            given["one_off_price"] = dict(self.one_off_price)
        if self.scoped:
            scope = {"site": self.site, "country": self.country, "band": self.band}
            prices = {"monthly": self.monthly, "one_off": self.one_off}
            given["line_price"] = {
                "scope": {k: v for k, v in scope.items() if v is not None},
                **{k: v for k, v in prices.items() if v is not None},
            }
        return given


class SetServiceStrategy(Command):
    """Choose how we sell this bid (sla, qos, cost_transparency: rules/proposal.yaml; it
    decides the proposal's sections) and its win themes, at kick-off until governance."""

    name: ClassVar[str] = "service-strategy"
    cli: ClassVar[tuple[str, ...]] = ("service-strategy",)
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    strategy: str = Field(max_length=100)
    win_themes: list[str] = Field(default_factory=list, max_length=MAX_ITEMS)
    by: str | None = By


class SetOrderDetails(Command):
    """Record what provisioning needs to order a won bid: the legal and billing entity, the
    purchase order, the contract start (only the fields given change)."""

    name: ClassVar[str] = "order.details"
    cli: ClassVar[tuple[str, ...]] = ("order", "details")
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    legal_entity: str | None = Short
    billing_entity: str | None = Short
    purchase_order: str | None = Short
    contract_start: date | None = None
    by: str | None = By


# --- results ----------------------------------------------------------------------------------


class Edited(Result):
    """A correction of a bid: its state after it, what rules/changes.yaml made of it."""

    state: str
    change: dict[str, Any] | None = None
    warnings: list[str] = Field(default_factory=list)
    carried_on: CarriedOn | None = None


class SitesChanged(Edited):
    """Sites added, changed or removed: the file and the site ids, with their counts."""

    file: str
    added: list[str] = Field(default_factory=list)
    updated: list[dict[str, Any]] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)


class OpportunityUpdated(Edited):
    """What the customer changed, recorded with its reason."""

    reason: str
    changes: dict[str, Any] = Field(default_factory=dict)


class TermsSet(Moved):
    """The deviations now recorded (none: the standard terms)."""

    deviations: list[str] = Field(default_factory=list)


class Changed(Moved):
    """A change of a bid's prices or order details: the values given."""

    changes: dict[str, Any] = Field(default_factory=dict)


class StrategySet(Moved):
    """The service strategy and win themes chosen."""

    strategy: str
    win_themes: list[str] = Field(default_factory=list)


EDIT_COMMANDS: dict[type[Command], type[Result]] = {
    UpdateSites: SitesChanged,
    AddSites: SitesChanged,
    RemoveSites: SitesChanged,
    UpdateOpportunity: OpportunityUpdated,
    SetTerms: TermsSet,
    SetPricing: Changed,
    SetServiceStrategy: StrategySet,
    SetOrderDetails: Changed,
}
"""The commands of this module and the result type of each."""
