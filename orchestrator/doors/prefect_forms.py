"""The Prefect UI's door: the form flows bid managers start from the UI build the same typed
commands as the CLI and hand them to `pipeline.dispatch`, acting as the service's identity.

- `new_bid_from_rfp`: an RFP arrived: the opportunity YAML and sites file (.csv or .xlsx;
  paths as the worker sees them), or the main fields inline; `CreateOpportunity` and
  `ImportSites` carry their contents (`FileUpload`), then the bid is carried as far as it goes.
  What the intake found (problems that refused the sites, exceptions imported as design
  tasks) is the run's markdown artifact, as `bid sites import` lists it.
- `advance_bid`: `Advance`, one step, or step after step until the bid waits for a person.
- `generate_documents`: (re)render a bid's documents without moving it (`RenderDocuments`
  for the bid documents; the submission package and the order sheet are document sets the
  runner renders, not commands).

The forms' parameters and the artifacts' wording live in `flows/forms.py` (the flows layer,
below the pipeline); this module sits with the doors, above it, so the flows layer never
imports the write path. `flows/deployments.py` and deploy/prefect.yaml name these flows by
entrypoint string (`orchestrator/doors/prefect_forms.py:new_bid_from_rfp`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from prefect import flow, tags
from prefect.artifacts import create_markdown_artifact

from flows.context import BidLabels, bid_labels, current
from flows.forms import (
    FORM_OPTIONS,
    AdvanceRequest,
    DocumentsRequest,
    NewBidRequest,
    created_note,
    findings_markdown,
    run_name,
)
from flows.hooks import tag_current_run
from flows.steps import bid_lifecycle, run_step
from orchestrator.bid.facts import SERVICE_ACTOR
from orchestrator.bid.progress.services import StepResult
from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.errors import InputError
from orchestrator.intake.findings import Finding, findings_of
from orchestrator.pipeline import dispatch
from orchestrator.runtime.runner import InlineRunner
from orchestrator.store.models import Person

INLINE_NAME = "opportunity.yaml"
"""The name the inline fields' YAML carries (problems found in it name it)."""


def service_caller() -> Person:
    """The caller every form run dispatches for: the service's identity (`bid-service`), never
    a name typed in the form; it holds no grant, so it has no admin's or approver's powers."""
    return Person(email=SERVICE_ACTOR, name="Bid service", roles=[])


class FormRunner(InlineRunner):
    """The runner of a form's commands: the bid's steps run as subflows of the form's run
    (each its own run in the UI, tagged with the bid's labels), in this worker."""

    def advance_once(self, ctx: Context, ref: str, actor: str) -> StepResult:
        return run_step(bid_labels(ctx, ref), actor)

    def run_lifecycle(self, ctx: Context, ref: str, actor: str) -> list[StepResult]:
        with tags(*bid_labels(ctx, ref).tags("lifecycle")):
            return bid_lifecycle(ref=ref, actor=actor)

    def continue_bid(self, ctx: Context, ref: str, actor: str) -> str:
        return "; ".join(step.message for step in self.run_lifecycle(ctx, ref, actor))


def read_upload(path: str) -> c.FileUpload:
    """The file the form names (as the worker sees it), sent as the command's contents; an
    unreadable or oversized file is one line naming it."""
    file = Path(path)
    try:
        if file.stat().st_size > c.MAX_UPLOAD_BYTES:
            raise InputError(f"is larger than {c.MAX_UPLOAD_BYTES:,} bytes", file=path)
        content = file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", file=path) from None
    return c.FileUpload.of(file.name, content)


def opportunity_upload(request: NewBidRequest) -> c.FileUpload:
    """`CreateOpportunity`'s file: the YAML the form names, or the inline fields as YAML
    (validated by the same intake model as a file)."""
    if request.opportunity_yaml is not None:
        return read_upload(request.opportunity_yaml)
    if request.inline is None:  # pragma: no cover - NewBidRequest requires one of them
        raise InputError("give either opportunity_yaml or inline", field="request")
    text = yaml.safe_dump(request.inline.as_spec_data(), sort_keys=False, allow_unicode=True)
    return c.FileUpload.of(INLINE_NAME, text.encode("utf-8"))


def _as_named(found: list[Finding], upload: c.FileUpload, path: str) -> list[Finding]:
    """Findings naming the file as the form named it (its path), not its bare name."""
    from dataclasses import replace

    return [replace(f, file=path) if f.file == upload.filename else f for f in found]


def check_sites(ctx: Context, path: str) -> c.FileUpload:
    """Read the site list before anything is saved, as the workspace's form does: a problem
    refuses the whole form (its findings are the run's artifact, the run fails)."""
    from orchestrator.commercial.quotes import catalogue_for
    from orchestrator.decisions.offer_rules import load_delivery
    from orchestrator.intake.files import MAX_CSV_BYTES
    from orchestrator.intake.opportunity import SITE_COLUMNS, read_sites
    from orchestrator.intake.site_checks import SiteRules
    from orchestrator.intake.workbooks import read_table

    rules = ctx.settings.rules_dir
    try:
        upload = read_upload(path)
        read_sites(
            Path(path),
            rules=SiteRules.from_catalogue(catalogue_for(rules)),
            delivery=load_delivery(rules),
            table=read_table(Path(path), required=SITE_COLUMNS, max_bytes=MAX_CSV_BYTES),
        )
    except InputError as error:
        create_markdown_artifact(
            key="intake-refused",
            markdown=findings_markdown(Path(path).name, findings_of(error), refused=True),
            description=f"Why {Path(path).name} was refused: nothing was saved",
        )
        raise
    return upload


@flow(name="new-bid-from-rfp", flow_run_name="new bid from RFP", **FORM_OPTIONS)
def new_bid_from_rfp(request: NewBidRequest) -> str:
    """Intake (the same commands as `bid opportunity create` and `bid sites import`), then
    the lifecycle.

    The run acts as the service's identity (`bid-service`), never as a name typed in the
    form: the bid's trail says so, and it carries no admin's powers; the run's artifact says
    so too and links the bid's page in the workspace, whose own form (`/bids/new`) is the one
    for people: it takes uploads and shows their problems row by row."""
    ctx = current()
    runner = FormRunner()
    who = service_caller()
    opportunity = opportunity_upload(request)
    sites = check_sites(ctx, request.sites_csv) if request.sites_csv else None
    created = dispatch(ctx, c.CreateOpportunity(file=opportunity), who, runner=runner)
    ref = created.opportunity or ""
    labels = bid_labels(ctx, ref)
    tag_current_run(labels.tags("intake"))
    if sites is not None and request.sites_csv:
        import_sites(ctx, ref, sites, request.sites_csv, runner)
    create_markdown_artifact(
        key=f"new-bid-{ref.lower()}",
        markdown=created_note(ref, ctx.settings.workspace_url, created.notes),
        description=f"{ref} created by this run",
    )
    if request.carry_on:
        runner.run_lifecycle(ctx, ref, SERVICE_ACTOR)
    return ref


def import_sites(
    ctx: Context, ref: str, upload: c.FileUpload, path: str, runner: FormRunner
) -> c.SitesImported:
    """`ImportSites` for the bid: a problem refuses the file (every problem listed in the
    run's artifact, then the run fails); exceptions are imported as design tasks and listed."""
    try:
        result = dispatch(
            ctx, c.ImportSites(opportunity=ref, file=upload), service_caller(), runner=runner
        )
    except InputError as error:
        create_markdown_artifact(
            key=f"intake-{ref.lower()}",
            markdown=findings_markdown(
                ref, _as_named(findings_of(error), upload, path), refused=True
            ),
            description=f"Why the sites of {ref} were refused",
        )
        raise
    assert isinstance(result, c.SitesImported)
    if result.findings:
        named = [f.model_copy(update={"file": path}) if f.file == upload.filename else f
                 for f in result.findings]  # fmt: skip
        create_markdown_artifact(
            key=f"intake-{ref.lower()}",
            markdown=findings_markdown(ref, named),
            description=f"What the intake of {ref}'s sites found",
        )
    return result


def _advance(ctx: Context, labels: BidLabels, runner: FormRunner) -> c.Moved:
    result = dispatch(ctx, c.Advance(opportunity=labels.ref), service_caller(), runner=runner)
    assert isinstance(result, c.Moved)
    return result


@flow(name="advance-bid", flow_run_name=run_name("advance"), **FORM_OPTIONS)
def advance_bid(request: AdvanceRequest) -> list[dict[str, Any]]:
    """What `bid advance` does, from the UI: `Advance` once, or again after each move until
    the bid waits for a person, closes, or a guard refuses (a refusal after a move ends the
    run quietly; at the first step it fails the run)."""
    from orchestrator.errors import BidError

    ctx = current()
    runner = FormRunner()
    labels = bid_labels(ctx, request.opportunity)
    tag_current_run(labels.tags("advance"))
    if request.how == "one_step":
        return [_advance(ctx, labels, runner).model_dump(mode="json")]
    done: list[dict[str, Any]] = []
    with tags(*labels.tags("lifecycle")):
        for _ in range(20):
            try:
                moved = _advance(ctx, bid_labels(ctx, labels.ref), runner)
            except BidError:
                if done:
                    break
                raise
            done.append(moved.model_dump(mode="json"))
            if not moved.moved:
                break
    return done


@flow(name="generate-documents", flow_run_name=run_name("documents"), **FORM_OPTIONS)
def generate_documents(request: DocumentsRequest) -> list[str]:
    """Render a bid's documents into its output folder and list them as an artifact: the bid
    documents through `RenderDocuments` (as `bid docs`); the submission package or the order
    sheet, document sets no command renders on its own, by the renderer."""
    ctx = current()
    labels = bid_labels(ctx, request.opportunity)
    tag_current_run(labels.tags("documents"))
    if request.kind == "bid_documents":
        result = dispatch(
            ctx,
            c.RenderDocuments(opportunity=labels.ref),
            service_caller(),
            runner=FormRunner(),
        )
        assert isinstance(result, c.Produced)
        paths = [document.path for document in result.documents]
    else:
        from orchestrator.bid.trail.rendering import render_set

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
