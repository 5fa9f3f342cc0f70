"""The document renderer (docxtpl): QRFs, proposal, Bid Control Plan, submission, order sheet.

`DocxDocuments` implements `orchestrator.ports.DocumentPort`. Every document is rendered
from a plain context built from the database rows (`orchestrator.documents.context`); its
content hash is the SHA-256 of that context and of the template, so the same inputs give
the same hash and the same path (a rerun overwrites; `orchestrator.documents.files`). User
text only ever travels as context values into autoescaped templates: a `{{ ... }}` in a
site name is printed, never evaluated.

Output layout inside the opportunity's `out_dir`::

    qrf/qrf-DE-telekom.docx, qrf/qrf-DE-telekom.csv, qrf/internal-quote-task-BE.md (+ .csv)
    qrf/unsourced.csv (the sites nobody quotes, when there are any)
    proposal-OPP-0001.docx, pricing-schedule-OPP-0001.xlsx (its annex: every site's price),
    compliance-matrix-OPP-0001.xlsx (when a questionnaire was imported)
    control-plan-OPP-0001.docx, submission-letter-OPP-0001.docx
    *.pdf beside each .docx (bid docs --pdf)
    order-sheet-OPP-0001.docx, order-sheet-OPP-0001.xlsx
    v2/proposal-OPP-0001.docx, v2/submission-letter-OPP-0001.docx (+ compliance matrix):
        the files of bid version 2 as they were sent to the customer, never rewritten

The working documents at the top follow the bid; a submitted version's folder does not.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jinja2
from sqlmodel import Session, col, select

from orchestrator.commercial.qrf import QrfPlan, plan_for
from orchestrator.commercial.quotes import catalogue_for, has_ordered_sites
from orchestrator.decisions.catalogue import IN_HOUSE_PROVIDER, Catalogue
from orchestrator.decisions.offer_rules import load_proposal_rules
from orchestrator.documents.compliance import write_compliance_xlsx
from orchestrator.documents.context import (
    QRF_CSV_COLUMNS,
    UNSOURCED_COLUMNS,
    answer_rows,
    approval_pack,
    clean,
    control_plan_context,
    qrf_context,
    submission_letter_context,
    unsourced_rows,
)
from orchestrator.documents.docx_template import (
    DOCX_LOCK,
    CompilingOnce,
    PreparedDocx,
    prepare,
    render_with_docxtpl,
)
from orchestrator.documents.files import atomic_write, content_hash, write_csv
from orchestrator.documents.order_sheet import order_sheet_context, write_order_xlsx
from orchestrator.documents.pricing_schedule import write_pricing_xlsx
from orchestrator.documents.proposal import proposal_context, version_label
from orchestrator.documents.stamps import RenderStamps
from orchestrator.documents.text import long_date
from orchestrator.errors import InputError, RuleError
from orchestrator.lifecycle.table import WON_STATES, State
from orchestrator.ports import (
    Clock,
    DealVersion,
    ProducedDocuments,
    RenderedDocument,
    system_clock,
)
from orchestrator.store.models import Document, Opportunity

log = logging.getLogger(__name__)

DOCX_TEMPLATES = (
    "qrf.docx",
    "proposal.docx",
    "control_plan.docx",
    "submission_letter.docx",
    "order_sheet.docx",
)
"""The .docx templates a bid's steps render (prepared ahead by `warm_up`)."""


def _digests(images: dict[str, Path]) -> dict[str, str]:
    """The sha256 of each picture a template places, by its name in the template."""
    return {key: hashlib.sha256(path.read_bytes()).hexdigest() for key, path in images.items()}


def _cell_filter(value: object) -> str:
    return clean(value).replace("|", "\\|").replace("\n", " ")


@dataclass
class _Template:
    data: bytes
    digest: str
    prepared: dict[str, PreparedDocx | None] = field(default_factory=dict)
    """The template ready to render (`docx_template.prepare`) by the pictures it places
    (their digest); None when only docxtpl renders it."""


class DocxDocuments:
    """The `DocumentPort` over docxtpl templates in `templates_dir` and data in `rules_dir`."""

    def __init__(
        self,
        templates_dir: Path,
        rules_dir: Path,
        clock: Clock | None = None,
        pdf_timeout: float | None = None,
        stamps_dir: Path | None = None,
    ) -> None:
        self.templates_dir = templates_dir
        self.pdf_timeout = pdf_timeout
        self.rules_dir = rules_dir
        self.clock: Clock = clock or system_clock
        self._templates: dict[str, _Template] = {}
        self._written = RenderStamps(stamps_dir)
        """What a renderer last wrote where (this process's, and with `stamps_dir` every
        process's): the same content is not rendered twice while the file is still the
        one written for it."""
        self._jinja = CompilingOnce(autoescape=True)
        self._text_env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir)),
            autoescape=False,
            keep_trailing_newline=True,
            undefined=jinja2.StrictUndefined,
        )
        self._text_env.filters["cell"] = _cell_filter

    # -- helpers

    @property
    def catalogue(self) -> Catalogue:
        return catalogue_for(self.rules_dir)

    def _template(self, name: str) -> _Template:
        held = self._templates.get(name)
        if held is None:
            data = (self.templates_dir / name).read_bytes()
            held = _Template(data, hashlib.sha256(data).hexdigest())
            self._templates[name] = held
        return held

    def render_docx(
        self,
        template: str,
        context: dict[str, Any],
        path: Path,
        *,
        kind: str,
        name: str,
        unhashed: dict[str, Any] | None = None,
        images: dict[str, Path] | None = None,
    ) -> RenderedDocument:
        """Render one .docx; `context` must be plain data (it is hashed, then rendered).

        `unhashed` values are rendered but not part of the hash (the proposal's version
        label, which is derived from the hash). `images` are PNGs placed where the template
        names them (the proposal's logo; hashed by their bytes). A file this renderer
        already wrote with the same hash and label is not rendered again (the same bid
        rendered twice in a step).
        """
        held = self._template(template)
        pictures = _digests(images or {})
        digest = content_hash(held.digest, {**context, "images": pictures} if images else context)
        stamp = content_hash(digest, unhashed or {})
        if self._unchanged(path, stamp):
            return RenderedDocument(kind=kind, name=name, path=path, content_hash=digest)
        rendering = {**context, **(unhashed or {}), "content_hash": digest}
        with DOCX_LOCK:
            prepared = self._prepared(held, images or {}, pictures)
            if prepared is None:
                data = render_with_docxtpl(held.data, rendering, self._jinja, images)
            else:
                data = prepared.render(rendering)
        with atomic_write(path) as tmp:
            tmp.write_bytes(data)
        self._remember(path, stamp)
        return RenderedDocument(kind=kind, name=name, path=path, content_hash=digest)

    def warm_up(self) -> list[str]:
        """Prepare every .docx template now, as its first render would (a long-lived process
        does this before its first bid: the first bid of a task worker or the Slack app is
        then rendered as fast as the next ones). The templates prepared; one that cannot be
        read or prepared is left to fail where it is rendered, naming the bid."""
        try:
            company = load_proposal_rules(self.rules_dir).company
            logo: Path | None = self.templates_dir / company.logo
        except (InputError, RuleError, OSError):  # the proposal says so when it is rendered
            logo = None
        ready: list[str] = []
        for name in DOCX_TEMPLATES:
            proposal = name == "proposal.docx"
            images = {"logo": logo} if proposal and logo is not None and logo.is_file() else {}
            try:
                held = self._template(name)
                with DOCX_LOCK:
                    self._prepared(held, images, _digests(images))
            except Exception as error:  # reported where the template is rendered
                log.info("template %s not prepared ahead: %s", name, error)
                continue
            ready.append(name)
        return ready

    def _prepared(
        self, held: _Template, images: dict[str, Path], pictures: dict[str, str]
    ) -> PreparedDocx | None:
        """The template prepared once per set of pictures (under the lock); None when only
        docxtpl renders it."""
        key = content_hash("", pictures)
        if key not in held.prepared:
            if len(held.prepared) >= 16:  # logos changed over a long life: start afresh
                held.prepared.clear()
            held.prepared[key] = prepare(held.data, self._jinja, images)
        return held.prepared[key]

    def _unchanged(self, path: Path, stamp: str) -> bool:
        """A renderer wrote `stamp` to `path`, and the file is still that one."""
        return self._written.unchanged(path, stamp)

    def _remember(self, path: Path, stamp: str) -> None:
        self._written.remember(path, stamp)

    def _render_text(
        self, template: str, context: dict[str, Any], path: Path, *, kind: str, name: str
    ) -> RenderedDocument:
        source = (self.templates_dir / template).read_bytes()
        digest = content_hash(hashlib.sha256(source).hexdigest(), context)
        text = self._text_env.get_template(template).render(**context, content_hash=digest)
        with atomic_write(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return RenderedDocument(kind=kind, name=name, path=path, content_hash=digest)

    # -- QRFs

    def qrfs(
        self, session: Session, opportunity: Opportunity, out_dir: Path
    ) -> tuple[list[RenderedDocument], QrfPlan, list[str]]:
        """One QRF (.docx + .csv) per country and provider; internal tasks for BE/NL; and the
        problems they show (install dates a carrier cannot meet, late reply-by dates)."""
        plan = plan_for(session, opportunity.id or 0, self.catalogue)
        today = self.clock().date()
        qrf_dir = out_dir / "qrf"
        written: list[RenderedDocument] = []
        problems: list[str] = list(plan.problems)
        for group in plan.groups:
            provider = group.provider
            context, found = qrf_context(
                session,
                opportunity,
                name=group.name,
                country=group.country,
                to={
                    "id": provider.id,
                    "name": provider.name,
                    "contact_name": provider.contact_name,
                    "contact_email": provider.contact_email,
                    "currency": provider.currency,
                    "lead_time_days": provider.lead_time_days,
                },
                lines=group.lines,
                today=today,
                lead_time_days=provider.lead_time_days,
                rules_dir=self.rules_dir,
                amendment=group.amendment,
            )
            problems += found
            written.append(
                self.render_docx(
                    "qrf.docx", context, qrf_dir / f"{group.name}.docx", kind="qrf", name=group.name
                )
            )
            written.append(
                write_csv(
                    answer_rows(context, provider.id, provider.currency, group.lines),
                    QRF_CSV_COLUMNS,
                    qrf_dir / f"{group.name}.csv",
                    kind="qrf_csv",
                    name=group.name,
                )
            )
        in_house = self.catalogue.providers.in_house
        for task in plan.in_house:
            context, found = qrf_context(
                session,
                opportunity,
                name=task.name,
                country=task.country,
                to={
                    "id": IN_HOUSE_PROVIDER,
                    "name": in_house.team,
                    "contact_name": in_house.team,
                    "contact_email": in_house.email,
                    "currency": "EUR",
                    "lead_time_days": in_house.lead_time_days,
                },
                lines=task.lines,
                today=today,
                lead_time_days=in_house.lead_time_days,
                rules_dir=self.rules_dir,
            )
            problems += found
            written.append(
                self._render_text(
                    "internal_quote_task.md.j2",
                    context,
                    qrf_dir / f"{task.name}.md",
                    kind="internal_quote_task",
                    name=task.name,
                )
            )
            written.append(
                write_csv(
                    answer_rows(context, IN_HOUSE_PROVIDER, "EUR", task.lines),
                    QRF_CSV_COLUMNS,
                    qrf_dir / f"{task.name}.csv",
                    kind="qrf_csv",
                    name=task.name,
                )
            )
        unsourced = qrf_dir / "unsourced.csv"
        if plan.unserved:
            written.append(
                write_csv(
                    unsourced_rows(plan.unserved),
                    UNSOURCED_COLUMNS,
                    unsourced,
                    kind="unsourced_csv",
                    name="unsourced",
                )
            )
        elif unsourced.exists():  # every site is sourced now: no stale list beside the QRFs
            unsourced.unlink()
        return written, plan, problems

    def quote_requests(
        self, session: Session, opportunity: Opportunity, out_dir: Path
    ) -> ProducedDocuments:
        """The QRFs and internal quote tasks, with a summary of the plan per group."""
        written, plan, problems = self.qrfs(session, opportunity, out_dir)
        return ProducedDocuments(documents=written, problems=problems, summary=qrf_summary(plan))

    # -- proposal, compliance annex, control plan

    def proposal_context(
        self, session: Session, opportunity: Opportunity, version: DealVersion | None = None
    ) -> dict[str, Any]:
        """Everything the proposal shows, as plain data (its hash is the proposal version);
        with `version`, from the version's priced deal."""
        deal = version.deal if version is not None else None
        return proposal_context(session, opportunity, self.catalogue, self.rules_dir, deal)

    def version_label(
        self, session: Session, opportunity: Opportunity, kind: str, digest: str
    ) -> str:
        """ "version N — date": N counts the distinct contents recorded for the bid, the date
        is when this content was first recorded (today for a new one)."""
        return version_label(*self._version_of(session, opportunity, kind, digest))

    def _version_of(
        self, session: Session, opportunity: Opportunity, kind: str, digest: str
    ) -> tuple[int, date]:
        rows = session.exec(
            select(Document)
            .where(Document.opportunity_id == opportunity.id, Document.kind == kind)
            .order_by(col(Document.id))
        ).all()
        seen: list[str] = []
        first: dict[str, date] = {}
        for row in rows:
            if row.content_hash not in first:
                seen.append(row.content_hash)
                first[row.content_hash] = row.created_at.date()
        if digest in first:
            return seen.index(digest) + 1, first[digest]
        return len(seen) + 1, self.clock().date()

    def proposal(
        self,
        session: Session,
        opportunity: Opportunity,
        out_dir: Path,
        version: DealVersion | None = None,
        *,
        name_prefix: str = "",
        keep: bool = False,
    ) -> list[RenderedDocument]:
        """The proposal (.docx) and, when a questionnaire was imported, its compliance
        matrix (.xlsx) beside it. The proposal's hash leaves out its version label, which
        is the version's number and date (without a version: counted from the documents).
        With `keep`, a file already there is left exactly as it is (a version sent)."""
        context = self.proposal_context(session, opportunity, version)
        held = self._template("proposal.docx")
        logo = self.templates_dir / context["company"]["logo"]
        images = {"logo": logo} if logo.is_file() else {}
        pictures = {"logo": hashlib.sha256(logo.read_bytes()).hexdigest()} if images else {}
        digest = content_hash(held.digest, {**context, "images": pictures} if images else context)
        number, day = (
            (version.number, version.day)
            if version is not None
            else self._version_of(session, opportunity, "proposal", digest)
        )
        label = version_label(number, day)
        dated = {
            "version_label": label,
            "offer_date": long_date(day),
            "valid_until": long_date(day + timedelta(days=context["validity_days"])),
        }
        if not images:
            dated["logo"] = ""
        path = out_dir / f"proposal-{opportunity.ref}.docx"
        if keep and path.exists():
            proposal = RenderedDocument(
                kind="proposal", name=f"{name_prefix}proposal", path=path, content_hash=digest
            )
        else:
            proposal = self.render_docx(
                "proposal.docx",
                context,
                path,
                kind="proposal",
                name=f"{name_prefix}proposal",
                unhashed=dated,
                images=images,
            )
        written = [proposal]
        written.append(
            self._annex(
                out_dir / context["annex_name"],
                content_hash("pricing-schedule-1", {"digest": digest, "label": label}),
                lambda path: write_pricing_xlsx(context, label, path),
                kind="pricing_schedule",
                name=f"{name_prefix}pricing_schedule",
                keep=keep,
            )
        )
        rows = context["compliance"]["rows"]
        if rows:
            written.append(
                self._annex(
                    out_dir / f"compliance-matrix-{opportunity.ref}.xlsx",
                    content_hash("compliance-matrix-1", {"rows": rows, "label": label}),
                    lambda path: write_compliance_xlsx(context, label, path),
                    kind="compliance_matrix",
                    name=f"{name_prefix}compliance_matrix",
                    keep=keep,
                )
            )
        return written

    def _annex(
        self,
        path: Path,
        digest: str,
        write: Callable[[Path], object],
        *,
        kind: str,
        name: str,
        keep: bool,
    ) -> RenderedDocument:
        """A workbook beside the proposal, written only when its content changed (with
        `keep`, one already there is left as it was sent)."""
        if not (keep and path.exists()) and not self._unchanged(path, digest):
            write(path)
            self._remember(path, digest)
        return RenderedDocument(kind=kind, name=name, path=path, content_hash=digest)

    def control_plan(
        self,
        session: Session,
        opportunity: Opportunity,
        out_dir: Path,
        version: DealVersion | None = None,
    ) -> RenderedDocument:
        context = control_plan_context(session, opportunity, self.catalogue, self.rules_dir)
        context["approval_pack"] = approval_pack(version.approvals if version else None)
        path = out_dir / f"control-plan-{opportunity.ref}.docx"
        return self.render_docx(
            "control_plan.docx", context, path, kind="control_plan", name="control_plan"
        )

    # -- the port

    def bid_documents(
        self,
        session: Session,
        opportunity: Opportunity,
        out_dir: Path,
        version: DealVersion | None = None,
    ) -> ProducedDocuments:
        """QRFs (+CSV, + internal quote tasks), the proposal (+ compliance matrix) and the
        Bid Control Plan; the proposal from the version's deal when one is given."""
        written, plan, problems = self.qrfs(session, opportunity, out_dir)
        proposal = self.proposal(session, opportunity, out_dir, version)
        written += proposal
        written.append(self.control_plan(session, opportunity, out_dir, version))
        return ProducedDocuments(
            documents=written,
            proposal_hash=proposal[0].content_hash,
            problems=problems,
            summary=qrf_summary(plan),
        )

    def current_documents(
        self,
        session: Session,
        opportunity: Opportunity,
        out_dir: Path,
        version: DealVersion | None = None,
    ) -> ProducedDocuments:
        """The documents that follow the bid: the Bid Control Plan always; the proposal (and
        its compliance matrix) from bid production on, while the bid may still be won; the
        order sheet after a win. QRFs and the submission letter are what was sent: not here."""
        written = [self.control_plan(session, opportunity, out_dir, version)]
        state = opportunity.state
        proposal_hash = None
        if state in PROPOSAL_STATES and has_ordered_sites(session, opportunity.id or 0):
            proposal = self.proposal(session, opportunity, out_dir, version)
            written += proposal
            proposal_hash = proposal[0].content_hash
        problems: list[str] = []
        if state in WON_STATES:
            sheet = self.order_sheet(session, opportunity, out_dir)
            written += sheet.documents
            problems = sheet.problems
        return ProducedDocuments(documents=written, proposal_hash=proposal_hash, problems=problems)

    def submission_package(
        self,
        session: Session,
        opportunity: Opportunity,
        out_dir: Path,
        version: DealVersion | None = None,
    ) -> ProducedDocuments:
        """The proposal (re-rendered, same path and hash when unchanged), its compliance
        matrix, and a cover letter signed by the bid's lead.

        With `version`, the package goes to the version's own folder (`v<N>/`) and cites
        that version; once the version is submitted its files are never written again (a
        rerun finds them as they were sent). A proposal whose hash differs from the approved
        `opportunity.proposal_hash` is a problem: what goes to the customer must be the
        version the approvers signed.
        """
        folder = out_dir / version.folder if version is not None else out_dir
        keep = version is not None and version.submitted
        prefix = f"{version.folder}/" if version is not None else ""
        proposal = self.proposal(
            session, opportunity, folder, version, name_prefix=prefix, keep=keep
        )
        main = proposal[0]
        problems = []
        if opportunity.proposal_hash and opportunity.proposal_hash != main.content_hash:
            problems.append(
                f"the proposal changed since approval (approved {opportunity.proposal_hash[:12]}, "
                f"now {main.content_hash[:12]})"
            )
        label = (
            version_label(version.number, version.day)
            if version is not None
            else self.version_label(session, opportunity, "proposal", main.content_hash)
        )
        titles = {
            "proposal": "Proposal",
            "pricing_schedule": "Pricing schedule (annex)",
            "compliance_matrix": "Compliance matrix (annex A)",
        }
        enclosures = [
            {
                "title": titles.get(d.kind, d.kind),
                "file": d.path.name,
                "version": label,
            }
            for d in proposal
        ]
        sent_on = version.submitted_on if version is not None else None
        context = submission_letter_context(
            session, opportunity, enclosures, label, sent_on or self.clock().date()
        )
        path = folder / f"submission-letter-{opportunity.ref}.docx"
        if keep and path.exists():
            template = self._template("submission_letter.docx")
            letter = RenderedDocument(
                kind="submission_letter",
                name=f"{prefix}submission_letter",
                path=path,
                content_hash=content_hash(template.digest, context),
            )
        else:
            letter = self.render_docx(
                "submission_letter.docx",
                context,
                path,
                kind="submission_letter",
                name=f"{prefix}submission_letter",
            )
        return ProducedDocuments(
            documents=[letter, *proposal], proposal_hash=main.content_hash, problems=problems
        )

    def order_sheet(
        self, session: Session, opportunity: Opportunity, out_dir: Path
    ) -> ProducedDocuments:
        """The clean order sheet (.docx and .xlsx); what blocks ordering comes back as problems."""
        if opportunity.state not in WON_STATES:
            raise InputError(
                f"{opportunity.ref} is in state {opportunity.state}; the order sheet needs a won "
                "bid (contract_preparation or contracted)",
                field="state",
            )
        context, problems = order_sheet_context(
            session, opportunity, self.catalogue, self.rules_dir
        )
        stem = f"order-sheet-{opportunity.ref}"
        docx = self.render_docx(
            "order_sheet.docx",
            context,
            out_dir / f"{stem}.docx",
            kind="order_sheet",
            name="order_sheet",
        )
        xlsx_path = out_dir / f"{stem}.xlsx"
        if not self._unchanged(xlsx_path, docx.content_hash):
            write_order_xlsx(context, docx.content_hash, xlsx_path)
            self._remember(xlsx_path, docx.content_hash)
        xlsx = RenderedDocument(
            kind="order_sheet_xlsx",
            name="order_sheet",
            path=xlsx_path,
            content_hash=docx.content_hash,
        )
        return ProducedDocuments(documents=[docx, xlsx], problems=problems)

    # -- PDFs

    def to_pdf(self, documents: list[RenderedDocument]) -> list[RenderedDocument]:
        """A PDF beside every .docx (headless LibreOffice), all in one conversion run."""
        from orchestrator.documents.pdf import TIMEOUT_SECONDS, convert_to_pdf

        docx = [d for d in documents if d.path.suffix == ".docx"]
        converted = convert_to_pdf([d.path for d in docx], self.pdf_timeout or TIMEOUT_SECONDS)
        return [
            RenderedDocument(
                kind=f"{d.kind}_pdf", name=d.name, path=pdf, content_hash=d.content_hash
            )
            for d, pdf in zip(docx, converted, strict=True)
        ]


PROPOSAL_STATES = frozenset(
    {
        State.BID_PRODUCTION,
        State.GOVERNANCE_REVIEW,
        State.SUBMISSION,
        State.CUSTOMER_DECISION,
        State.CONTRACT_PREPARATION,
        State.CONTRACTED,
    }
)
"""States in which the proposal exists and still speaks for the bid."""


def qrf_summary(plan: QrfPlan) -> dict[str, Any]:
    """The QRF plan as plain data: groups per country and provider, in-house, unserved."""
    return {
        "groups": [
            {"name": g.name, "country": g.country, "provider": g.provider.id, "sites": len(g.lines)}
            for g in plan.groups
        ],
        "in_house": [{"country": t.country, "sites": len(t.lines)} for t in plan.in_house],
        "unserved": [line.site_id for line in plan.unserved],
    }
