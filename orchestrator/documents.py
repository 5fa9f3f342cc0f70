"""The document renderer (docxtpl): QRFs, proposal, Bid Control Plan, submission, order sheet.

`DocxDocuments` implements `orchestrator.ports.DocumentPort`. Every document is rendered
from a plain context built from the database rows; its content hash is the SHA-256 of that
context and of the template, so the same inputs give the same hash and the same path (a
rerun overwrites). User text only ever travels as context values into autoescaped
templates: a `{{ ... }}` in a site name is printed, never evaluated.

Output layout inside the opportunity's `out_dir`::

    qrf/qrf-DE-telekom.docx, qrf/qrf-DE-telekom.csv, qrf/internal-quote-task-BE.md (+ .csv)
    proposal-OPP-0001.docx, control-plan-OPP-0001.docx
    submission-letter-OPP-0001.docx
    order-sheet-OPP-0001.docx, order-sheet-OPP-0001.xlsx
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from docxtpl import DocxTemplate
from lxml import etree  # type: ignore[import-untyped]
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlmodel import Session, select

from orchestrator.catalogue import Catalogue, contract_months, customer_price
from orchestrator.errors import InputError
from orchestrator.models import (
    Account,
    Milestone,
    Opportunity,
    Person,
    Site,
    TeamMember,
)
from orchestrator.orders import (
    WON_STATES,
    OrderLine,
    change_history,
    order_lines,
    summarise_change,
)
from orchestrator.ports import Clock, ProducedDocuments, RenderedDocument, system_clock
from orchestrator.quotes import (
    QrfLine,
    QrfPlan,
    catalogue_for,
    current_quotes,
    ordered_sites,
    plan_qrfs,
)
from orchestrator.service_strategy import ServiceStrategy, strategy_section

QRF_CSV_COLUMNS = (
    "site_id",
    "name",
    "street",
    "postcode",
    "city",
    "country",
    "bandwidth_mbps",
    "access",
    "service",
    "provider",
    "kind",
    "monthly_cost",
    "one_off_cost",
    "currency",
    "valid_until",
)
SENDER = "Sales Support, on behalf of the bid team"
SERVICE_LABELS = {
    "managed_network": "Managed network",
    "hosting": "Hosting",
    "video_conferencing": "Video conferencing",
}
SERVICE_DESCRIPTIONS = {
    "managed_network": (
        "Managed WAN: access line, managed CPE router and 24/7 monitoring per site, "
        "one network across all countries"
    ),
    "hosting": "Managed hosting in our data centres, connected to the customer network",
    "video_conferencing": "Managed video-conferencing rooms with booking and support",
}
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# --- hashing and writing -------------------------------------------------------------------


def content_hash(template_digest: str, context: Any) -> str:
    """SHA-256 of a template and the inputs rendered into it: the version people sign."""
    payload = json.dumps(context, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{template_digest}\n{payload}".encode()).hexdigest()


def clean(text: object) -> str:
    """User text as a string without the control characters Word and Excel refuse."""
    return _CONTROL_CHARS.sub("", str(text))


def money(amount: float) -> str:
    return f"{amount:,.2f}"


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """Write to a temporary sibling, then replace: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _cell_filter(value: object) -> str:
    return clean(value).replace("|", "\\|").replace("\n", " ")


# --- the renderer --------------------------------------------------------------------------


_LISTING_CHARS = re.compile(r"[\t\a\n\f]")


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
        with _atomic(path) as tmp:
            doc.save(str(tmp))
        return RenderedDocument(kind=kind, name=name, path=path, content_hash=digest)

    def _render_text(
        self, template: str, context: dict[str, Any], path: Path, *, kind: str, name: str
    ) -> RenderedDocument:
        source = (self.templates_dir / template).read_bytes()
        digest = content_hash(hashlib.sha256(source).hexdigest(), context)
        text = self._text_env.get_template(template).render(**context, content_hash=digest)
        with _atomic(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return RenderedDocument(kind=kind, name=name, path=path, content_hash=digest)

    @staticmethod
    def _write_csv(
        rows: Sequence[dict[str, Any]], columns: Sequence[str], path: Path, *, kind: str, name: str
    ) -> RenderedDocument:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
        with _atomic(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        digest = hashlib.sha256(text.encode()).hexdigest()
        return RenderedDocument(kind=kind, name=name, path=path, content_hash=digest)

    def _base(self, session: Session, opportunity: Opportunity, doc_title: str) -> dict[str, Any]:
        account = session.get(Account, opportunity.account_id)
        return {
            "ref": opportunity.ref,
            "doc_title": doc_title,
            "title": clean(opportunity.title),
            "customer": clean(account.name if account else ""),
        }

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
        base = self._base(session, opportunity, "Quote Request Form")
        today = self.clock().date()
        written: list[RenderedDocument] = []
        for group in plan.groups:
            provider = group.provider
            lines = [_clean_row(line.as_row()) for line in group.lines]
            context = {
                **base,
                "qrf_name": group.name,
                "country": group.country,
                "sender": SENDER,
                "provider": {
                    "id": provider.id,
                    "name": provider.name,
                    "contact_name": provider.contact_name,
                    "contact_email": provider.contact_email,
                    "currency": provider.currency,
                    "lead_time_days": provider.lead_time_days,
                },
                "reply_by": (today + timedelta(days=provider.lead_time_days)).isoformat(),
                "site_count": len(lines),
                "budgetary_count": sum(1 for x in group.lines if x.requested == "budgetary"),
                "firm_count": sum(1 for x in group.lines if x.requested == "firm"),
                "lines": lines,
            }
            qrf_dir = out_dir / "qrf"
            written.append(
                self.render_docx(
                    "qrf.docx",
                    context,
                    qrf_dir / f"{group.name}.docx",
                    kind="qrf",
                    name=group.name,
                )
            )
            written.append(
                self._write_csv(
                    _answer_rows(group.lines, provider.id, provider.currency),
                    QRF_CSV_COLUMNS,
                    qrf_dir / f"{group.name}.csv",
                    kind="qrf_csv",
                    name=group.name,
                )
            )
        in_house = self.catalogue.providers.in_house
        for task in plan.in_house:
            context = {
                **base,
                "doc_title": "internal quote task",
                "name": task.name,
                "country": task.country,
                "in_house": {"team": in_house.team, "email": in_house.email},
                "reply_by": (today + timedelta(days=in_house.lead_time_days)).isoformat(),
                "budgetary_count": sum(1 for x in task.lines if x.requested == "budgetary"),
                "firm_count": sum(1 for x in task.lines if x.requested == "firm"),
                "lines": [_clean_row(line.as_row()) for line in task.lines],
            }
            qrf_dir = out_dir / "qrf"
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
                self._write_csv(
                    _answer_rows(task.lines, "in-house", "EUR"),
                    QRF_CSV_COLUMNS,
                    qrf_dir / f"{task.name}.csv",
                    kind="qrf_csv",
                    name=task.name,
                )
            )
        return written, plan

    # -- proposal and control plan

    def proposal_context(self, session: Session, opportunity: Opportunity) -> dict[str, Any]:
        """Everything the proposal shows, as plain data (its hash is the proposal version)."""
        catalogue = self.catalogue
        opportunity_id = opportunity.id or 0
        sites = ordered_sites(session, opportunity_id)
        quotes = current_quotes(session, opportunity_id)
        pricing = opportunity.pricing or {}
        months = contract_months(catalogue.prices, pricing)
        rows: list[dict[str, Any]] = []
        by_country: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        by_service: dict[str, list[Site]] = defaultdict(list)
        total_monthly = total_one_off = 0.0
        unpriced = 0
        for site in sites:
            price = customer_price(
                catalogue.prices, pricing, site.service, site.access, site.bandwidth_mbps
            )
            unpriced += price.source == "none"
            total_monthly += price.monthly
            total_one_off += price.one_off
            bucket = by_country[site.country]
            bucket[0] += 1
            bucket[1] += price.monthly
            bucket[2] += price.one_off
            by_service[site.service].append(site)
            rows.append(
                {
                    "site_id": clean(site.site_id),
                    "name": clean(site.name),
                    "city": clean(site.city),
                    "country": site.country,
                    "service": SERVICE_LABELS.get(site.service, site.service),
                    "access": site.access,
                    "bandwidth_mbps": site.bandwidth_mbps,
                    "monthly": money(price.monthly),
                    "one_off": money(price.one_off),
                }
            )
        services = [
            {
                "label": SERVICE_LABELS.get(service, service),
                "description": SERVICE_DESCRIPTIONS.get(service, ""),
                "sites": len(members),
                "access_mix": ", ".join(
                    f"{access} {count}"
                    for access, count in sorted(Counter(s.access for s in members).items())
                ),
            }
            for service, members in sorted(by_service.items())
        ]
        requested = [SERVICE_LABELS.get(s, s).lower() for s in opportunity.services]
        services_text = ", ".join(
            requested or [SERVICE_LABELS.get(k, k).lower() for k in by_service]
        )
        country_rows = sorted(by_country.items(), key=lambda kv: (-kv[1][0], kv[0]))
        strategy = ServiceStrategy.from_text(opportunity.strategy)
        waves = [
            {
                "wave": index,
                "country": country,
                "sites": int(values[0]),
                "start": f"week {4 + 3 * (index - 1)} after signature",
            }
            for index, (country, values) in enumerate(country_rows, start=1)
        ]
        budgetary = sum(1 for s in sites if (q := quotes.get(s.site_id)) and q.kind == "budgetary")
        missing = sum(1 for s in sites if s.site_id not in quotes)
        assumptions = [
            "Prices are in EUR, excluding VAT and local taxes.",
            f"Contract term of {months} months from the signature date.",
            f"Supplier prices converted to EUR with the rates of {catalogue.fx.as_of}.",
            "Site addresses and bandwidths as listed in section 3; changes are MACDs.",
            "The customer gives access to each site for surveys and installation.",
        ]
        if budgetary:
            assumptions.append(
                f"{budgetary} site(s) are priced on budgetary quotes, subject to firm quotes."
            )
        if missing:
            assumptions.append(f"{missing} site(s) await a supplier quote; prices may change.")
        if unpriced:
            assumptions.append(f"{unpriced} site(s) have no list price and are priced on request.")
        discount = float(pricing.get("discount_pct", 0.0))
        return {
            **self._base(session, opportunity, "Proposal"),
            "services_text": clean(services_text),
            "site_count": len(sites),
            "country_count": len(by_country),
            "contract_months": months,
            "discount_text": f", including a {discount:g}% discount" if discount else "",
            "totals": {
                "monthly": money(total_monthly),
                "one_off": money(total_one_off),
                "contract": money(total_monthly * months + total_one_off),
            },
            "services": services,
            "sites": rows,
            "pricing": [
                {
                    "country": country,
                    "sites": int(values[0]),
                    "monthly": money(values[1]),
                    "one_off": money(values[2]),
                    "contract": money(values[1] * months + values[2]),
                }
                for country, values in country_rows
            ],
            "strategy": strategy_section(strategy, sorted({s.access for s in sites})),
            "transition_intro": _transition_intro(opportunity.incumbent),
            "waves": waves,
            "assumptions": assumptions,
        }

    def proposal(
        self, session: Session, opportunity: Opportunity, out_dir: Path
    ) -> RenderedDocument:
        context = self.proposal_context(session, opportunity)
        path = out_dir / f"proposal-{opportunity.ref}.docx"
        return self.render_docx("proposal.docx", context, path, kind="proposal", name="proposal")

    def control_plan(
        self, session: Session, opportunity: Opportunity, out_dir: Path
    ) -> RenderedDocument:
        opportunity_id = opportunity.id or 0
        members = session.exec(
            select(TeamMember, Person)
            .where(TeamMember.opportunity_id == opportunity_id)
            .where(TeamMember.person_id == Person.id)
        ).all()
        owners: dict[str, list[str]] = defaultdict(list)
        team = []
        for member, person in sorted(members, key=lambda mp: (mp[0].role, mp[1].name)):
            owners[member.role].append(clean(person.name))
            team.append(
                {"role": member.role, "name": clean(person.name), "email": clean(person.email)}
            )
        milestones = session.exec(
            select(Milestone).where(Milestone.opportunity_id == opportunity_id)
        ).all()
        rows = [
            {
                "name": clean(m.name),
                "due": _minute(m.due_at),
                "owner_role": m.owner_role,
                "owners": ", ".join(owners.get(m.owner_role, [])) or "(unassigned)",
                "status": m.status,
                "completed": _minute(m.completed_at) if m.completed_at else "",
            }
            for m in sorted(milestones, key=lambda m: (_minute(m.due_at), m.name))
        ]
        context = {
            **self._base(session, opportunity, "Bid Control Plan"),
            "deadline": opportunity.submission_deadline.isoformat(),
            "state": opportunity.state,
            "milestones": rows,
            "team": team,
        }
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
            documents=written, proposal_hash=proposal.content_hash, problems=plan.problems
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
        opportunity_id = opportunity.id or 0
        sites = ordered_sites(session, opportunity_id)
        context = {
            **self._base(session, opportunity, "Submission letter"),
            "rfp_text": f" (your reference {clean(opportunity.rfp_reference)})"
            if opportunity.rfp_reference
            else "",
            "date": self.clock().date().isoformat(),
            "site_count": len(sites),
            "country_count": len({s.country for s in sites}),
            "proposal_hash": proposal.content_hash,
            "sender": SENDER,
            "enclosures": [
                {
                    "title": "Proposal",
                    "file": proposal.path.name,
                    "hash": proposal.content_hash,
                }
            ],
        }
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
        lines = order_lines(session, opportunity, self.catalogue)
        changes = change_history(session, opportunity.id or 0)
        problems = [
            f"line {line.line}, site {line.site_id}: {problem}"
            for line in lines
            for problem in line.problems
        ]
        line_rows = [_order_row(line) for line in lines]
        change_rows = [
            {
                "number": index,
                "at": _minute(change.at),
                "site_id": clean(change.site_id),
                "kind": change.kind,
                "actor": clean(change.actor),
                "summary": clean(summarise_change(change)),
            }
            for index, change in enumerate(changes, start=1)
        ]
        context = {
            **self._base(session, opportunity, "Clean order sheet"),
            "state": opportunity.state,
            "line_count": len(line_rows),
            "problem_count": len(problems),
            "change_count": len(change_rows),
            "lines": line_rows,
            "problems": [clean(p) for p in problems],
            "changes": change_rows,
        }
        stem = f"order-sheet-{opportunity.ref}"
        docx = self.render_docx(
            "order_sheet.docx",
            context,
            out_dir / f"{stem}.docx",
            kind="order_sheet",
            name="order_sheet",
        )
        xlsx_path = out_dir / f"{stem}.xlsx"
        _write_order_xlsx(context, docx.content_hash, xlsx_path)
        xlsx = RenderedDocument(
            kind="order_sheet_xlsx",
            name="order_sheet",
            path=xlsx_path,
            content_hash=docx.content_hash,
        )
        return ProducedDocuments(documents=[docx, xlsx], problems=problems)


# --- helpers -------------------------------------------------------------------------------


def _clean_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: clean(v) if isinstance(v, str) else v for k, v in row.items()}


def _answer_rows(lines: Sequence[QrfLine], provider: str, currency: str) -> list[dict[str, Any]]:
    """The QRF as CSV, ready to be filled in and imported with `bid quotes import`."""
    rows = []
    for line in lines:
        row = line.as_row()
        del row["requested"]
        for key in ("name", "street", "city"):
            row[key] = _csv_text(row[key])
        rows.append(
            {
                **row,
                "provider": provider,
                "kind": line.requested,
                "monthly_cost": "",
                "one_off_cost": "",
                "currency": currency,
                "valid_until": "",
            }
        )
    return rows


def _csv_text(value: str) -> str:
    """Free text for spreadsheets: a leading = + - @ would run as a formula, so quote it."""
    text = clean(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _minute(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.isoformat()


def _transition_intro(incumbent: bool) -> str:
    if incumbent:
        return (
            "We already serve these sites: there is no migration from another provider. "
            "Upgrades are planned country by country, each with one planned interruption "
            "outside business hours."
        )
    return (
        "Sites migrate from the current provider country by country. Each site has one "
        "planned interruption of at most four hours outside business hours; the old line "
        "stays in service until the new one is accepted."
    )


ORDER_COLUMNS = (
    ("line", "Line"),
    ("site_id", "Site ID"),
    ("name", "Name"),
    ("street", "Street"),
    ("postcode", "Postcode"),
    ("city", "City"),
    ("country", "Country"),
    ("service", "Service"),
    ("access", "Access"),
    ("bandwidth_mbps", "Mbps"),
    ("provider", "Provider"),
    ("monthly", "Monthly (EUR)"),
    ("one_off", "One-off (EUR)"),
    ("check", "Check"),
)


def _order_row(line: OrderLine) -> dict[str, Any]:
    return {
        "line": line.line,
        "site_id": clean(line.site_id),
        "name": clean(line.name),
        "street": clean(line.street),
        "postcode": clean(line.postcode),
        "city": clean(line.city),
        "country": clean(line.country),
        "service": line.service,
        "access": line.access,
        "bandwidth_mbps": line.bandwidth_mbps,
        "provider": line.provider,
        "monthly": money(line.monthly),
        "one_off": money(line.one_off),
        "check": clean(line.check),
    }


def _text_cell(sheet: Any, value: object) -> Any:
    """A value Excel shows as written: '=cmd|…' in a site name is text, never a formula."""
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def _write_order_xlsx(context: dict[str, Any], digest: str, path: Path) -> None:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Order lines")
    sheet.append([_text_cell(sheet, f"{context['ref']} · clean order sheet · version {digest}")])
    sheet.append([_text_cell(sheet, label) for _, label in ORDER_COLUMNS])
    for row in context["lines"]:
        sheet.append([_text_cell(sheet, row[key]) for key, _ in ORDER_COLUMNS])
    history = workbook.create_sheet("Changes")
    history.append([_text_cell(history, h) for h in ("#", "At", "Site", "Kind", "By", "Changes")])
    for change in context["changes"]:
        history.append(
            [
                _text_cell(history, change[k])
                for k in ("number", "at", "site_id", "kind", "actor", "summary")
            ]
        )
    problems = workbook.create_sheet("Problems")
    problems.append([_text_cell(problems, "Problem")])
    for problem in context["problems"]:
        problems.append([_text_cell(problems, problem)])
    workbook.properties.creator = "bid-orchestrator"
    with _atomic(path) as tmp:
        workbook.save(str(tmp))
