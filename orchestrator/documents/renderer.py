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
    proposal-OPP-0001.docx, control-plan-OPP-0001.docx
    submission-letter-OPP-0001.docx
    order-sheet-OPP-0001.docx, order-sheet-OPP-0001.xlsx
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from docxtpl import DocxTemplate
from lxml import etree  # type: ignore[import-untyped]
from sqlmodel import Session

from orchestrator.commercial.qrf import QrfPlan, plan_qrfs
from orchestrator.commercial.quotes import catalogue_for, current_quotes, ordered_sites
from orchestrator.decisions.catalogue import Catalogue
from orchestrator.documents.context import (
    QRF_CSV_COLUMNS,
    UNSOURCED_COLUMNS,
    answer_rows,
    base_context,
    clean,
    control_plan_context,
    in_house_task_context,
    proposal_context,
    qrf_context,
    submission_letter_context,
    unsourced_rows,
)
from orchestrator.documents.files import atomic_write, content_hash, write_csv
from orchestrator.documents.order_sheet import order_sheet_context, write_order_xlsx
from orchestrator.errors import InputError
from orchestrator.lifecycle.table import WON_STATES
from orchestrator.ports import Clock, ProducedDocuments, RenderedDocument, system_clock
from orchestrator.store.models import Opportunity

_LISTING_CHARS = re.compile(r"[\t\a\n\f]")


def _cell_filter(value: object) -> str:
    return clean(value).replace("|", "\\|").replace("\n", " ")


class _DocxTemplate(DocxTemplate):  # type: ignore[misc]
    """docxtpl, minus two passes that cost time on 3,200-row tables and change nothing here.

    `resolve_listing` turns \\t \\n \\a \\f in rendered values into Word runs; on 3,200-row
    tables it costs a third of the render even when there is nothing to turn. The output
    is the same either way.
    """

    def resolve_listing(self, xml: str) -> str:
        if _LISTING_CHARS.search(xml) is None:
            return xml
        return str(super().resolve_listing(xml))

    def fix_tables(self, xml: str) -> Any:
        """Only parse: our templates repeat rows, never columns (`{%tc %}`), so the column
        grid docxtpl would re-count cell by cell on every row is already right."""
        return etree.fromstring(xml, parser=etree.XMLParser(recover=True))


@dataclass(frozen=True)
class _Template:
    data: bytes
    digest: str


class DocxDocuments:
    """The `DocumentPort` over docxtpl templates in `templates_dir` and data in `rules_dir`."""

    def __init__(self, templates_dir: Path, rules_dir: Path, clock: Clock | None = None) -> None:
        self.templates_dir = templates_dir
        self.rules_dir = rules_dir
        self.clock: Clock = clock or system_clock
        self._templates: dict[str, _Template] = {}
        self._jinja = jinja2.Environment(autoescape=True)
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
        self, template: str, context: dict[str, Any], path: Path, *, kind: str, name: str
    ) -> RenderedDocument:
        """Render one .docx; `context` must be plain data (it is hashed, then rendered)."""
        held = self._template(template)
        digest = content_hash(held.digest, context)
        doc = _DocxTemplate(io.BytesIO(held.data))
        doc.render({**context, "content_hash": digest}, self._jinja, autoescape=True)
        with atomic_write(path) as tmp:
            doc.save(str(tmp))
        return RenderedDocument(kind=kind, name=name, path=path, content_hash=digest)

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
    ) -> tuple[list[RenderedDocument], QrfPlan]:
        """One QRF (.docx + .csv) per country and provider; internal tasks for BE/NL."""
        opportunity_id = opportunity.id or 0
        plan = plan_qrfs(
            ordered_sites(session, opportunity_id),
            current_quotes(session, opportunity_id),
            self.catalogue,
        )
        base = base_context(session, opportunity, "Quote Request Form")
        today = self.clock().date()
        qrf_dir = out_dir / "qrf"
        written: list[RenderedDocument] = []
        for group in plan.groups:
            provider = group.provider
            written.append(
                self.render_docx(
                    "qrf.docx",
                    qrf_context(base, group, today),
                    qrf_dir / f"{group.name}.docx",
                    kind="qrf",
                    name=group.name,
                )
            )
            written.append(
                write_csv(
                    answer_rows(group.lines, provider.id, provider.currency),
                    QRF_CSV_COLUMNS,
                    qrf_dir / f"{group.name}.csv",
                    kind="qrf_csv",
                    name=group.name,
                )
            )
        in_house = self.catalogue.providers.in_house
        for task in plan.in_house:
            written.append(
                self._render_text(
                    "internal_quote_task.md.j2",
                    in_house_task_context(base, task, in_house, today),
                    qrf_dir / f"{task.name}.md",
                    kind="internal_quote_task",
                    name=task.name,
                )
            )
            written.append(
                write_csv(
                    answer_rows(task.lines, "in-house", "EUR"),
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
        return written, plan

    def quote_requests(
        self, session: Session, opportunity: Opportunity, out_dir: Path
    ) -> ProducedDocuments:
        """The QRFs and internal quote tasks, with a summary of the plan per group."""
        written, plan = self.qrfs(session, opportunity, out_dir)
        return ProducedDocuments(
            documents=written, problems=plan.problems, summary=qrf_summary(plan)
        )

    # -- proposal and control plan

    def proposal_context(self, session: Session, opportunity: Opportunity) -> dict[str, Any]:
        """Everything the proposal shows, as plain data (its hash is the proposal version)."""
        return proposal_context(session, opportunity, self.catalogue)

    def proposal(
        self, session: Session, opportunity: Opportunity, out_dir: Path
    ) -> RenderedDocument:
        context = self.proposal_context(session, opportunity)
        path = out_dir / f"proposal-{opportunity.ref}.docx"
        return self.render_docx("proposal.docx", context, path, kind="proposal", name="proposal")

    def control_plan(
        self, session: Session, opportunity: Opportunity, out_dir: Path
    ) -> RenderedDocument:
        context = control_plan_context(session, opportunity)
        path = out_dir / f"control-plan-{opportunity.ref}.docx"
        return self.render_docx(
            "control_plan.docx", context, path, kind="control_plan", name="control_plan"
        )

    # -- the port

    def bid_documents(
        self, session: Session, opportunity: Opportunity, out_dir: Path
    ) -> ProducedDocuments:
        """QRFs (+CSV, + internal quote tasks), the proposal and the Bid Control Plan."""
        written, plan = self.qrfs(session, opportunity, out_dir)
        proposal = self.proposal(session, opportunity, out_dir)
        written.append(proposal)
        written.append(self.control_plan(session, opportunity, out_dir))
        return ProducedDocuments(
            documents=written,
            proposal_hash=proposal.content_hash,
            problems=plan.problems,
            summary=qrf_summary(plan),
        )

    def submission_package(
        self, session: Session, opportunity: Opportunity, out_dir: Path
    ) -> ProducedDocuments:
        """The proposal (re-rendered, same path and hash when unchanged) and a cover letter.

        A proposal whose hash differs from the approved `opportunity.proposal_hash` is a
        problem: what goes to the customer must be the version the approvers signed.
        """
        proposal = self.proposal(session, opportunity, out_dir)
        problems = []
        if opportunity.proposal_hash and opportunity.proposal_hash != proposal.content_hash:
            problems.append(
                f"the proposal changed since approval (approved {opportunity.proposal_hash[:12]}, "
                f"now {proposal.content_hash[:12]})"
            )
        context = submission_letter_context(session, opportunity, proposal, self.clock().date())
        letter = self.render_docx(
            "submission_letter.docx",
            context,
            out_dir / f"submission-letter-{opportunity.ref}.docx",
            kind="submission_letter",
            name="submission_letter",
        )
        return ProducedDocuments(
            documents=[letter, proposal], proposal_hash=proposal.content_hash, problems=problems
        )

    def order_sheet(
        self, session: Session, opportunity: Opportunity, out_dir: Path
    ) -> ProducedDocuments:
        """The clean order sheet (.docx and .xlsx); invalid addresses come back as problems."""
        if opportunity.state not in WON_STATES:
            raise InputError(
                f"{opportunity.ref} is in state {opportunity.state}; the order sheet needs a won "
                "bid (contract_preparation or contracted)",
                field="state",
            )
        context, problems = order_sheet_context(session, opportunity, self.catalogue)
        stem = f"order-sheet-{opportunity.ref}"
        docx = self.render_docx(
            "order_sheet.docx",
            context,
            out_dir / f"{stem}.docx",
            kind="order_sheet",
            name="order_sheet",
        )
        xlsx_path = out_dir / f"{stem}.xlsx"
        write_order_xlsx(context, docx.content_hash, xlsx_path)
        xlsx = RenderedDocument(
            kind="order_sheet_xlsx",
            name="order_sheet",
            path=xlsx_path,
            content_hash=docx.content_hash,
        )
        return ProducedDocuments(documents=[docx, xlsx], problems=problems)


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
