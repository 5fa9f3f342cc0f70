"""Build the .docx templates in this folder: `python templates/build_templates.py`.

The templates are Jinja for docxtpl, and stay editable in Word. Every tag is written as ONE
run so docxtpl sees it intact in the XML; table rows repeat with `{%tr for ... %}` /
`{%tr endfor %}` rows and optional sections sit between `{%p if ... %}` / `{%p endif %}`
paragraphs, which docxtpl removes while rendering. Tables have fixed column widths wide
enough for their longest words (nothing is broken mid-word) and repeat their header row on
every page; wide tables sit in landscape sections. The generated files are committed; rerun
this script after changing it.
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

HERE = Path(__file__).resolve().parent
INTERNAL_VERSION = "{{ ref }} · {{ doc_title }} · version {{ content_hash }}"
TABLE_STYLE = "Table Text"


def _new(title: str, footer: str, *, landscape: bool = False) -> DocumentObject:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(10)
    table_text = doc.styles.add_style(TABLE_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    table_text.base_style = style
    table_text.font.size = Pt(9)
    table_text.paragraph_format.space_after = Pt(0)
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)  # A4
    if landscape:
        _orient(section, landscape=True)
    section.left_margin = section.right_margin = Cm(1.8)
    section.footer.paragraphs[0].text = footer
    doc.add_heading(title, level=0)
    props = doc.core_properties  # fixed metadata: no author or time of the build machine
    props.author = "bid-orchestrator"
    props.title = title
    return doc


def _orient(section: object, *, landscape: bool) -> None:
    width, height = section.page_width, section.page_height  # type: ignore[attr-defined]
    wide = width > height
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT  # type: ignore[attr-defined]
    if wide != landscape:
        section.page_width, section.page_height = height, width  # type: ignore[attr-defined]


def _break(doc: DocumentObject, *, landscape: bool) -> None:
    """A section break: what follows is landscape (or portrait again)."""
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    _orient(section, landscape=landscape)
    section.left_margin = section.right_margin = Cm(1.8)


def _fixed(table: object, widths: list[float]) -> None:
    """Fixed layout with these column widths (cm), and a header row repeated on each page."""
    tbl = table._tbl  # type: ignore[attr-defined]
    table.autofit = False  # type: ignore[attr-defined]
    properties = tbl.tblPr
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    properties.append(layout)
    for column, width in zip(table.columns, widths, strict=True):  # type: ignore[attr-defined]
        column.width = Cm(width)
    for row in table.rows:  # type: ignore[attr-defined]
        for cell, width in zip(row.cells, widths, strict=False):
            cell.width = Cm(width)
    header = table.rows[0]._tr.get_or_add_trPr()  # type: ignore[attr-defined]
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    header.append(repeat)


def _loop_table(
    doc: DocumentObject,
    headers: list[str],
    loop: str,
    cells: list[str],
    var: str,
    widths: list[float],
) -> None:
    """A table: a header row, then one row per item of `loop` with the given cell tags."""
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, headers, strict=True):
        cell.text = ""
        paragraph = cell.paragraphs[0]
        paragraph.style = doc.styles[TABLE_STYLE]
        paragraph.add_run(text).bold = True
    table.add_row().cells[0].text = f"{{%tr for {var} in {loop} %}}"
    row = table.add_row()
    for cell, tag in zip(row.cells, cells, strict=True):
        cell.text = tag
        cell.paragraphs[0].style = doc.styles[TABLE_STYLE]
    table.add_row().cells[0].text = "{%tr endfor %}"
    _fixed(table, widths)


def _bullets(doc: DocumentObject, loop: str, var: str) -> None:
    doc.add_paragraph(f"{{%p for {var} in {loop} %}}")
    doc.add_paragraph(f"{{{{ {var} }}}}", style="List Bullet")
    doc.add_paragraph("{%p endfor %}")


def _heading(doc: DocumentObject, section: str) -> None:
    doc.add_heading(f"{{{{ sections.{section} }}}}. {{{{ sections.titles.{section} }}}}", level=1)


def _if(doc: DocumentObject, condition: str) -> None:
    doc.add_paragraph(f"{{%p if {condition} %}}")


def _endif(doc: DocumentObject) -> None:
    doc.add_paragraph("{%p endif %}")


# --- the QRF (to a carrier) ---------------------------------------------------------------


def build_qrf() -> DocumentObject:
    doc = _new(
        "Quote Request Form",
        "{{ qrf_reference }} · {{ provider.name }} · reply by {{ reply_by }}",
        landscape=True,
    )
    doc.add_paragraph("QRF reference: {{ qrf_reference }} (quote it in your reply)")
    _if(doc, "amendment")
    doc.add_paragraph(
        "AMENDMENT {{ amendment.number }} to {{ amendment.amends }}: this QRF asks only for "
        "the sites that changed or are new since our earlier request (each marked in the "
        "Quote column); every other line of the earlier request stands."
    )
    _if(doc, "amendment.withdrawn")
    doc.add_paragraph(
        "Withdrawn lines of the earlier request (do not quote them any more): "
        "{{ amendment.withdrawn|join(', ') }}"
    )
    _endif(doc)
    _endif(doc)
    doc.add_paragraph(
        "To: {{ provider.name }}, attn. {{ provider.contact_name }} <{{ provider.contact_email }}>"
    )
    doc.add_paragraph("From: {{ sender.line }} <{{ sender.email }}>")
    doc.add_paragraph("End customer: {{ customer }} · {{ title }}")
    doc.add_paragraph(
        "Please quote the {{ site_count }} site(s) in {{ country }} listed below "
        "({{ budgetary_count }} budgetary, {{ firm_count }} firm) in {{ provider.currency }}, "
        "monthly and one-off, for a contract term of {{ contract_months }} months, with the "
        "validity date of each quote, your quote reference and your delivery lead time in "
        "working days. Please reply by {{ reply_by }}."
    )
    doc.add_paragraph(
        "Answer with the attached CSV filled in: provider, kind, monthly_cost, one_off_cost, "
        "currency, valid_until, provider_reference and delivery_days for each site (keep the "
        "other columns as they are)."
    )
    doc.add_heading("Sites", level=1)
    _loop_table(
        doc,
        [
            "Site ID",
            "Site",
            "Address",
            "Mbps",
            "Access",
            "SLA class",
            "Interface",
            "Resilience",
            "Install from",
            "Site contact",
            "Quote",
        ],
        "lines",
        [
            "{{ s.site_id }}",
            "{{ s.name }}",
            "{{ s.street }}, {{ s.postcode }} {{ s.city }}",
            "{{ s.bandwidth_mbps }}",
            "{{ s.access }}",
            "{{ s.sla }}",
            "{{ s.interface }}",
            "{{ s.resilience }}",
            "{{ s.install }}",
            "{{ s.contact }}",
            "{{ s.requested }}",
        ],
        "s",
        [2.0, 3.0, 3.8, 1.3, 1.7, 2.6, 2.9, 2.3, 2.2, 2.6, 1.7],
    )
    _if(doc, "warnings")
    doc.add_heading("Please check", level=1)
    _bullets(doc, "warnings", "w")
    _endif(doc)
    return doc


# --- the proposal (to the customer) ------------------------------------------------------


def build_proposal() -> DocumentObject:
    doc = _new("Proposal", "{{ customer }} · {{ title }} · {{ version_label }}")
    doc.add_paragraph("{{ title }}")
    doc.add_paragraph(
        "Prepared for {{ customer }}{% if rfp_reference %} · your reference "
        "{{ rfp_reference }}{% endif %}"
    )
    doc.add_paragraph("{{ version_label }} · {{ prepared_by.line }}")

    _if(doc, "sections.summary")
    _heading(doc, "summary")
    doc.add_paragraph(
        "{{ customer }} asked us for {{ services_text }} at {{ site_count }} sites in "
        "{{ country_count }} countries.{% if strategy.label %} Our proposal is built on "
        "{{ strategy.label }}: {{ strategy.pitch }}{% endif %}"
    )
    _if(doc, "win_themes")
    doc.add_paragraph("Why us:")
    _bullets(doc, "win_themes", "theme")
    _endif(doc)
    doc.add_paragraph(
        "Total: {{ totals.monthly }} {{ currency }} per month and {{ totals.one_off }} "
        "{{ currency }} one-off, over {{ contract_months }} months ({{ totals.contract }} "
        "{{ currency }} contract value{{ discount_text }})."
    )
    _endif(doc)

    _if(doc, "sections.solution")
    _heading(doc, "solution")
    _loop_table(
        doc,
        ["Service", "Solution", "Sites", "Access"],
        "services",
        ["{{ sv.label }}", "{{ sv.description }}", "{{ sv.sites }}", "{{ sv.access_mix }}"],
        "sv",
        [3.6, 7.8, 1.6, 4.4],
    )
    _endif(doc)

    _if(doc, "sections.quality_of_service")
    _heading(doc, "quality_of_service")
    doc.add_paragraph("{{ quality_of_service.intro }}")
    _loop_table(
        doc,
        ["Traffic class", "Commitment"],
        "quality_of_service.rows",
        ["{{ r.label }}", "{{ r.value }}"],
        "r",
        [5.0, 12.4],
    )
    _endif(doc)

    _if(doc, "sections.service_levels")
    _heading(doc, "service_levels")
    doc.add_paragraph("{{ service_levels.intro }}")
    _loop_table(
        doc,
        ["Class", "Access", "Availability", "Repair", "Service window"],
        "service_levels.classes",
        [
            "{{ c.name }}",
            "{{ c.access }}",
            "{{ c.availability }}",
            "{{ c.repair }}",
            "{{ c.window }}",
        ],
        "c",
        [2.4, 4.4, 2.8, 3.8, 4.0],
    )
    doc.add_paragraph("")
    _loop_table(
        doc,
        ["Item", "Commitment"],
        "service_levels.rows",
        ["{{ r.label }}", "{{ r.value }}"],
        "r",
        [4.2, 13.2],
    )
    _endif(doc)

    _if(doc, "sections.cost_breakdown")
    _heading(doc, "cost_breakdown")
    doc.add_paragraph("{{ cost_breakdown.intro }}")
    _loop_table(
        doc,
        ["Item", "How it is priced"],
        "cost_breakdown.rows",
        ["{{ r.label }}", "{{ r.value }}"],
        "r",
        [4.2, 13.2],
    )
    doc.add_paragraph("")
    _loop_table(
        doc,
        [
            "Access",
            "Mbps",
            "Sites",
            "Monthly per site ({{ currency }})",
            "One-off per site ({{ currency }})",
        ],
        "cost_breakdown.bands",
        ["{{ b.access }}", "{{ b.mbps }}", "{{ b.sites }}", "{{ b.monthly }}", "{{ b.one_off }}"],
        "b",
        [3.4, 2.2, 2.0, 4.9, 4.9],
    )
    _endif(doc)

    _heading(doc, "pricing")
    doc.add_paragraph("Per country:")
    _loop_table(
        doc,
        [
            "Country",
            "Sites",
            "Monthly ({{ currency }})",
            "One-off ({{ currency }})",
            "Contract ({{ currency }})",
        ],
        "pricing",
        [
            "{{ p.country }}",
            "{{ p.sites }}",
            "{{ p.monthly }}",
            "{{ p.one_off }}",
            "{{ p.contract }}",
        ],
        "p",
        [2.4, 1.8, 4.2, 4.2, 4.8],
    )
    _bullets(doc, "bid_lines", "b")
    doc.add_paragraph(
        "Total: {{ totals.monthly }} {{ currency }} monthly, {{ totals.one_off }} {{ currency }} "
        "one-off, {{ totals.contract }} {{ currency }} over {{ contract_months }} "
        "months{{ discount_text }}. The price of every site follows."
    )
    _break(doc, landscape=True)
    doc.add_heading("Pricing per site", level=2)
    _loop_table(
        doc,
        [
            "Site ID",
            "Site",
            "City",
            "Country",
            "Service",
            "Access",
            "Mbps",
            "SLA class",
            "Monthly ({{ currency }})",
            "One-off ({{ currency }})",
        ],
        "sites",
        [
            "{{ s.site_id }}",
            "{{ s.name }}",
            "{{ s.city }}",
            "{{ s.country }}",
            "{{ s.service }}",
            "{{ s.access }}",
            "{{ s.bandwidth_mbps }}",
            "{{ s.sla }}",
            "{{ s.monthly }}",
            "{{ s.one_off }}",
        ],
        "s",
        [2.2, 4.6, 3.2, 1.7, 3.4, 2.4, 1.4, 1.9, 2.6, 2.6],
    )
    _break(doc, landscape=False)

    _heading(doc, "transition")
    doc.add_paragraph("{{ transition_intro }}")
    _loop_table(
        doc,
        ["Wave", "Country", "Sites", "Carriers", "Lead time", "Starts", "Completed"],
        "waves",
        [
            "{{ w.wave }}",
            "{{ w.country }}",
            "{{ w.sites }}",
            "{{ w.carriers }}",
            "{{ w.lead_time }}",
            "{{ w.starts }}",
            "{{ w.completed }}",
        ],
        "w",
        [1.3, 1.8, 1.4, 5.0, 2.9, 2.5, 2.5],
    )

    _if(doc, "sections.compliance")
    _heading(doc, "compliance")
    doc.add_paragraph(
        "We answered your {{ compliance.total }} requirements ({{ compliance.mandatory }} "
        "mandatory): {{ compliance.counts }}. The compliance matrix is annex A, and beside "
        "this proposal as a workbook."
    )
    _endif(doc)

    _heading(doc, "assumptions")
    _bullets(doc, "assumptions", "a")

    _if(doc, "sections.compliance")
    _break(doc, landscape=True)
    doc.add_heading("Annex A — Compliance matrix", level=1)
    _loop_table(
        doc,
        ["Requirement", "Section", "Requirement text", "M", "Compliance", "Our response"],
        "compliance.rows",
        [
            "{{ r.id }}",
            "{{ r.section }}",
            "{{ r.text }}",
            "{{ r.mandatory }}",
            "{{ r.compliance }}",
            "{{ r.answer }}",
        ],
        "r",
        [2.6, 3.2, 7.6, 0.9, 2.6, 9.1],
    )
    _break(doc, landscape=False)
    _endif(doc)
    doc.add_paragraph("Contact: {{ prepared_by.line }} · {{ prepared_by.email }}")
    return doc


# --- internal documents -----------------------------------------------------------------------


def build_control_plan() -> DocumentObject:
    doc = _new("Bid Control Plan", INTERNAL_VERSION)
    doc.add_paragraph("{{ title }} · {{ customer }} · {{ ref }}")
    doc.add_paragraph("Submission deadline: {{ deadline }} · step: {{ state }}")
    doc.add_paragraph("{{ calendar }}")
    doc.add_heading("Milestones", level=1)
    _loop_table(
        doc,
        ["Milestone", "Due (UTC)", "Owner role", "Owner", "Status", "Completed"],
        "milestones",
        [
            "{{ m.name }}",
            "{{ m.due }}",
            "{{ m.owner_role }}",
            "{{ m.owners }}",
            "{{ m.status }}",
            "{{ m.completed }}",
        ],
        "m",
        [5.0, 2.8, 2.9, 2.6, 1.5, 2.6],
    )
    _if(doc, "carriers")
    doc.add_heading("Carriers: reply-by dates and lead times", level=1)
    _loop_table(
        doc,
        ["Quote request", "Carrier", "Reply by", "Turnaround", "Delivery (working days)", "Status"],
        "carriers",
        [
            "{{ c.name }}",
            "{{ c.provider }}",
            "{{ c.reply_by }}",
            "{{ c.turnaround }}",
            "{{ c.delivery }}",
            "{{ c.status }}",
        ],
        "c",
        [4.4, 3.6, 2.3, 2.4, 3.2, 1.5],
    )
    _endif(doc)
    _if(doc, "approval_pack.rows")
    doc.add_heading("Approval pack: what each approver decides on", level=1)
    _bullets(doc, "approval_pack.flags", "f")
    _loop_table(
        doc,
        ["Area", "Item", "Detail"],
        "approval_pack.rows",
        ["{{ p.area }}", "{{ p.item }}", "{{ p.detail }}"],
        "p",
        [2.4, 3.6, 11.8],
    )
    _endif(doc)
    doc.add_heading("Team", level=1)
    _loop_table(
        doc,
        ["Role", "Name", "E-mail"],
        "team",
        ["{{ t.role }}", "{{ t.name }}", "{{ t.email }}"],
        "t",
        [4.0, 5.0, 8.4],
    )
    return doc


def build_order_sheet() -> DocumentObject:
    doc = _new("Clean order sheet", INTERNAL_VERSION, landscape=True)
    doc.add_paragraph("{{ title }} · {{ customer }} · {{ ref }} · {{ state }}")
    doc.add_paragraph(
        "Legal entity: {{ order.legal_entity }} · billing entity: {{ order.billing_entity }} · "
        "purchase order: {{ order.purchase_order }}"
    )
    doc.add_paragraph(
        "Contract: {{ order.contract_start }} to {{ order.contract_end }} "
        "({{ order.contract_months }} months) · prices in {{ currency }}"
    )
    doc.add_paragraph(
        "{{ line_count }} order line(s), {{ problem_count }} problem(s) blocking order "
        "management, {{ change_count }} change order(s)."
    )
    doc.add_paragraph(
        "Totals ({{ currency }}): monthly recurring {{ totals.monthly }} · one-off "
        "{{ totals.one_off }} · contract value {{ totals.contract_value }}"
    )
    doc.add_heading("Sites and services", level=1)
    _loop_table(
        doc,
        [
            "Line",
            "Site ID",
            "Site",
            "Address",
            "Contact",
            "Service",
            "Mbps",
            "SLA class",
            "Interface",
            "Resilience",
            "Router",
        ],
        "lines",
        [
            "{{ l.line }}",
            "{{ l.site_id }}",
            "{{ l.name }}",
            "{{ l.street }}, {{ l.postcode }} {{ l.city }}, {{ l.country }}",
            "{{ l.contact }}",
            "{{ l.service }} {{ l.access }}",
            "{{ l.bandwidth_mbps }}",
            "{{ l.sla_class }}",
            "{{ l.interface }}",
            "{{ l.resilience }}",
            "{{ l.cpe }}",
        ],
        "l",
        [1.1, 2.0, 2.9, 4.0, 2.6, 3.0, 1.3, 1.9, 2.6, 2.3, 2.3],
    )
    doc.add_heading("Supply, prices and delivery", level=1)
    _loop_table(
        doc,
        [
            "Line",
            "Site ID",
            "Provider",
            "Provider ref.",
            "Buy monthly",
            "Buy one-off",
            "Monthly ({{ currency }})",
            "One-off ({{ currency }})",
            "Delivery",
            "Check",
        ],
        "lines",
        [
            "{{ l.line }}",
            "{{ l.site_id }}",
            "{{ l.provider }}",
            "{{ l.provider_reference }}",
            "{{ l.buy_monthly }} {{ l.buy_currency }}",
            "{{ l.buy_one_off }} {{ l.buy_currency }}",
            "{{ l.monthly }}",
            "{{ l.one_off }}",
            "{{ l.delivery_date }}",
            "{{ l.check }}",
        ],
        "l",
        [1.1, 2.0, 2.4, 2.9, 2.6, 2.6, 2.6, 2.6, 2.2, 5.1],
    )
    doc.add_heading("Problems blocking order management", level=1)
    _bullets(doc, "problems", "p")
    doc.add_heading("Change history (MACDs)", level=1)
    _loop_table(
        doc,
        ["#", "At", "Site", "Kind", "By", "Changes"],
        "changes",
        [
            "{{ c.number }}",
            "{{ c.at }}",
            "{{ c.site_id }}",
            "{{ c.kind }}",
            "{{ c.actor }}",
            "{{ c.summary }}",
        ],
        "c",
        [1.0, 3.0, 2.2, 1.8, 5.0, 13.0],
    )
    return doc


# --- the submission letter (to the customer) ----------------------------------------------


def build_submission_letter() -> DocumentObject:
    doc = _new("Our proposal", "{{ customer }} · {{ title }} · {{ proposal_label }}")
    doc.add_paragraph("To: {{ customer }}")
    doc.add_paragraph("Subject: {{ title }}{{ rfp_text }}")
    doc.add_paragraph("Date: {{ date }}")
    doc.add_paragraph("Dear {{ customer }} team,")
    doc.add_paragraph(
        "We are pleased to submit our proposal for {{ site_count }} sites in "
        "{{ country_count }} countries ({{ proposal_label }}). We look forward to discussing "
        "it with you."
    )
    doc.add_heading("Enclosed", level=1)
    _loop_table(
        doc,
        ["Document", "File", "Version"],
        "enclosures",
        ["{{ e.title }}", "{{ e.file }}", "{{ e.version }}"],
        "e",
        [5.0, 6.8, 5.6],
    )
    doc.add_paragraph("Kind regards,")
    doc.add_paragraph("{{ signatory.name }}")
    doc.add_paragraph("{{ signatory.role }} · {{ signatory.email }}")
    return doc


BUILDERS = {
    "qrf.docx": build_qrf,
    "proposal.docx": build_proposal,
    "control_plan.docx": build_control_plan,
    "order_sheet.docx": build_order_sheet,
    "submission_letter.docx": build_submission_letter,
}


def main(out_dir: Path = HERE) -> list[Path]:
    written = []
    for name, build in BUILDERS.items():
        path = out_dir / name
        build().save(str(path))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in main():
        print(path)
