"""Flows that bid managers start from the Prefect UI, with typed parameters rendered as forms.

- `new_bid_from_rfp`: an RFP arrived: the opportunity YAML and sites file (.csv or .xlsx;
  paths as the worker sees them), or the main fields inline; then the bid is carried as far
  as it goes. What the intake found (problems that refused the sites, exceptions imported as
  design tasks) is the run's markdown artifact, as `bid sites import` lists it.
- `advance_bid`: one step, or as far as the bid goes without a person.
- `generate_documents`: (re)render a bid's documents without moving it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

from prefect import flow, tags
from prefect.artifacts import create_markdown_artifact
from pydantic import BaseModel, Field, model_validator

from flows.context import bid_labels, current
from flows.hooks import on_run_failed, tag_current_run
from flows.steps import bid_lifecycle, run_step
from orchestrator.bid.facts import SERVICE_ACTOR
from orchestrator.bid.progress.services import StepResult
from orchestrator.context import Context
from orchestrator.errors import InputError
from orchestrator.intake.findings import Finding
from orchestrator.store.models import Role, Service, Source, Tier

REF_PATTERN = r"^(?:OPP-?)?\d+$"


class InlineOpportunity(BaseModel):
    """The fields of an opportunity YAML that an RFP needs, typed in the UI."""

    account: str = Field(min_length=1, description="Customer account name")
    tier: Tier = Field(description="Account tier")
    title: str = Field(min_length=1)
    source: Source = Source.RFP
    rfp_reference: str | None = None
    submission_deadline: date
    decision_date: date | None = None
    revenue_short_term: float = Field(ge=0, description="Estimated revenue, first year")
    revenue_medium_term: float = Field(default=0, ge=0)
    revenue_long_term: float = Field(default=0, ge=0)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    services: list[Service] = Field(default_factory=lambda: [Service.MANAGED_NETWORK])
    team: dict[Role, str] = Field(
        default_factory=dict, description="E-mail per role, e.g. bid_manager: bm@example.com"
    )
    budget_eur: float = Field(ge=0, description="BANTS: the customer's budget")
    authority: Literal["decision_maker", "influencer", "unknown"] = Field(
        description="BANTS: does our contact decide?"
    )
    need: Literal["clear", "vague", "none"] = Field(description="BANTS: the customer's need")
    timeframe_months: int = Field(ge=0, description="BANTS: months until the decision")
    sales_ready: bool = Field(description="BANTS: is the customer ready to buy?")
    strategic_fit: Literal["high", "medium", "low"] = "medium"

    def as_spec_data(self) -> dict[str, Any]:
        """The same mapping an opportunity YAML holds (validated by the intake's model)."""
        bants = {
            "budget_eur": self.budget_eur,
            "authority": self.authority,
            "need": self.need,
            "timeframe_months": self.timeframe_months,
            "sales_ready": self.sales_ready,
        }
        return {
            "account": {"name": self.account, "tier": self.tier.value},
            "title": self.title,
            "source": self.source.value,
            "rfp_reference": self.rfp_reference,
            "submission_deadline": self.submission_deadline,
            "decision_date": self.decision_date,
            "estimated_revenue": {
                "short_term": self.revenue_short_term,
                "medium_term": self.revenue_medium_term,
                "long_term": self.revenue_long_term,
            },
            "currency": self.currency,
            "team": {role.value: email for role, email in self.team.items()},
            "bants": bants,
            "services": [s.value for s in self.services],
            "strategic_fit": self.strategic_fit,
        }


class NewBidRequest(BaseModel):
    """A new bid from an RFP: files (as the worker sees them) or the fields inline."""

    opportunity_yaml: str | None = Field(default=None, description="Path of the opportunity YAML")
    sites_csv: str | None = Field(
        default=None, description="Path of the sites file, .csv or .xlsx (optional)"
    )
    inline: InlineOpportunity | None = Field(default=None, description="Instead of the YAML")
    carry_on: bool = Field(default=True, description="Run the bid's automated steps right away")

    @model_validator(mode="after")
    def _one_source(self) -> NewBidRequest:
        if (self.opportunity_yaml is None) == (self.inline is None):
            raise ValueError("give either opportunity_yaml or inline, not both")
        return self


class AdvanceRequest(BaseModel):
    """Advance a bid: one step, or as far as it goes without a person."""

    opportunity: str = Field(pattern=REF_PATTERN, description="OPP-0007 or 7")
    how: Literal["one_step", "until_waiting"] = "until_waiting"


class DocumentsRequest(BaseModel):
    """Render a bid's documents again (deterministic: same inputs, same files)."""

    opportunity: str = Field(pattern=REF_PATTERN, description="OPP-0007 or 7")
    kind: Literal["bid_documents", "submission_package", "order_sheet"] = "bid_documents"


def _run_name(prefix: str) -> Callable[[], str]:
    """A run name from the request's opportunity, whether it came as a model or as JSON."""

    def name() -> str:
        from prefect.runtime import flow_run

        request = flow_run.parameters.get("request")
        ref = getattr(request, "opportunity", None)
        if ref is None and isinstance(request, dict):
            ref = request.get("opportunity")
        return f"{prefix} {ref}" if ref else prefix

    return name


_OPTIONS: dict[str, Any] = {
    "persist_result": False,
    "on_failure": [on_run_failed],
    "on_crashed": [on_run_failed],
}


@flow(name="new-bid-from-rfp", flow_run_name="new bid from RFP", **_OPTIONS)
def new_bid_from_rfp(request: NewBidRequest) -> str:
    """Intake (the same validation as `bid opportunity create`), sites, then the lifecycle.

    The run acts as the service's identity (`bid-service`), never as a name typed in the
    form: the bid's trail says so, and it carries no admin's powers; the run's artifact says
    so too and links the bid's page in the workspace, whose own form (`/bids/new`) is the one
    for people: it takes uploads and shows their problems row by row."""
    actor = SERVICE_ACTOR
    from orchestrator.bid.opportunity.onboarding import create_opportunity
    from orchestrator.intake.opportunity import OpportunitySpec, parse_opportunity

    ctx = current()
    if request.opportunity_yaml is not None:
        spec = parse_opportunity(Path(request.opportunity_yaml), ctx.clock().date())
    elif request.inline is not None:
        spec = OpportunitySpec.model_validate(request.inline.as_spec_data())
    else:
        raise InputError("give either opportunity_yaml or inline", field="request")
    ref = create_opportunity(ctx, spec, actor)
    labels = bid_labels(ctx, ref)
    tag_current_run(labels.tags("intake"))
    if request.sites_csv:
        found = intake_sites(ctx, ref, Path(request.sites_csv), actor)
        if found:
            create_markdown_artifact(
                key=f"intake-{ref.lower()}",
                markdown=findings_markdown(ref, found),
                description=f"What the intake of {ref}'s sites found",
            )
    create_markdown_artifact(
        key=f"new-bid-{ref.lower()}",
        markdown=created_note(ref, ctx.settings.workspace_url),
        description=f"{ref} created by this run",
    )
    if request.carry_on:
        with tags(*labels.tags("lifecycle")):
            bid_lifecycle(ref=ref, actor=actor)
    return ref


FINDINGS_SHOWN = 100
"""Findings the run's artifact lists; the rest are counted (`bid sites import --problems`)."""


def intake_sites(ctx: Context, ref: str, path: Path, actor: str) -> list[Finding]:
    """Import the sites file (.csv or .xlsx) as `bid sites import` does: a problem refuses it
    (the run fails with every problem listed in its artifact first); exceptions are imported
    as design tasks. Returns every finding."""
    from orchestrator.bid.opportunity.onboarding import existing_site_ids, import_sites
    from orchestrator.commercial.quotes import catalogue_for
    from orchestrator.decisions.offer_rules import load_delivery
    from orchestrator.intake.files import MAX_CSV_BYTES
    from orchestrator.intake.findings import findings_of
    from orchestrator.intake.opportunity import SITE_COLUMNS, read_sites
    from orchestrator.intake.site_checks import SiteRules
    from orchestrator.intake.workbooks import read_table

    try:
        read = read_sites(
            path,
            existing_ids=existing_site_ids(ctx, ref),
            rules=SiteRules.from_catalogue(catalogue_for(ctx.settings.rules_dir)),
            delivery=load_delivery(ctx.settings.rules_dir),
            table=read_table(path, required=SITE_COLUMNS, max_bytes=MAX_CSV_BYTES),
        )
    except InputError as error:
        create_markdown_artifact(
            key=f"intake-{ref.lower()}",
            markdown=findings_markdown(ref, findings_of(error), refused=True),
            description=f"Why the sites of {ref} were refused",
        )
        raise
    import_sites(
        ctx, ref, read.sites, actor=actor, warnings=read.warnings, exceptions=read.exceptions
    )
    return list(read.exceptions)


def findings_markdown(ref: str, found: Sequence[Finding], *, refused: bool = False) -> str:
    """The run's artifact: what the intake found, as `bid sites import` lists it."""
    problems = sum(1 for f in found if f.kind == "problem")
    exceptions = len(found) - problems
    outcome = (
        "refused: nothing imported" if refused else "imported; each exception is a design task"
    )
    lines = [
        f"# Sites of {ref}: {problems} problem(s), {exceptions} exception(s) — {outcome}",
        "",
        "| file | row | field | value | kind | rule | message |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in found[:FINDINGS_SHOWN]:
        cells = (f.file, "" if f.row is None else str(f.row), f.field or "", f.value, f.kind,
                 f.rule, f.message)  # fmt: skip
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if len(found) > FINDINGS_SHOWN:
        lines += ["", f"… and {len(found) - FINDINGS_SHOWN:,} more (bid sites import --problems)"]
    return "\n".join(lines)


def created_note(ref: str, workspace_url: str | None) -> str:
    """What the run says it did: the bid, whose name is on its trail (the service's, not a
    name typed in the form), and where people open it."""
    lines = [
        f"# {ref} created",
        "",
        f"Created by `{SERVICE_ACTOR}`, the service's identity: this form has no actor field, "
        "so the bid's trail names the service, not the person who filled it in.",
    ]
    if workspace_url:
        lines += ["", f"Open it in the workspace: {workspace_url.rstrip('/')}/bids/{ref}"]
        lines += [
            "",
            f"People create bids in the workspace's form ({workspace_url.rstrip('/')}/bids/new), "
            "which checks the site list row by row before anything is saved.",
        ]
    return "\n".join(lines)


@flow(name="advance-bid", flow_run_name=_run_name("advance"), **_OPTIONS)
def advance_bid(request: AdvanceRequest) -> list[StepResult]:
    """What `bid advance` does, from the UI."""
    ctx = current()
    labels = bid_labels(ctx, request.opportunity)
    tag_current_run(labels.tags("advance"))
    if request.how == "one_step":
        return [run_step(labels, SERVICE_ACTOR)]
    with tags(*labels.tags("lifecycle")):
        return bid_lifecycle(ref=labels.ref, actor=SERVICE_ACTOR)


@flow(name="generate-documents", flow_run_name=_run_name("documents"), **_OPTIONS)
def generate_documents(request: DocumentsRequest) -> list[str]:
    """Render a bid's documents into its output folder and list them as an artifact."""
    from orchestrator.bid.trail.rendering import render_set

    ctx = current()
    labels = bid_labels(ctx, request.opportunity)
    tag_current_run(labels.tags("documents"))
    produced = render_set(ctx, labels.ref, request.kind)
    paths = [document.location for document in produced.documents]
    create_markdown_artifact(
        key=f"documents-{labels.ref.lower()}",
        markdown="\n".join(
            [f"# {request.kind} of {labels.ref}", ""] + [f"- `{path}`" for path in paths]
        ),
        description=f"Documents of {labels.ref}",
    )
    return paths
