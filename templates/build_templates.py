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
from docx.enum.text import WD_BREAK
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


PROPOSAL_FONT = "Arial"
"""Word has Arial, LibreOffice its metric twin Liberation Sans: the column widths below hold
their longest words in both (Calibri falls back to a wider font where it is missing)."""


def _page_break(doc: DocumentObject) -> None:
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def _field(paragraph: object, instruction: str, placeholder: str) -> None:
    """A Word field (e.g. a table of contents) whose shown result is `placeholder`; marked
    dirty, so Word brings it up to date when the document opens."""

    def run(*children: object) -> None:
        r = paragraph.add_run()  # type: ignore[attr-defined]
        for child in children:
            r._r.append(child)

    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    begin.set(qn("w:dirty"), "true")
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    separate = OxmlElement("w:fldChar")
    separate.set(qn("w:fldCharType"), "separate")
    finish = OxmlElement("w:fldChar")
    finish.set(qn("w:fldCharType"), "end")
    run(begin)
    run(instr)
    run(separate)
    paragraph.add_run(placeholder)  # type: ignore[attr-defined]
    run(finish)


def _answers(doc: DocumentObject, section: str) -> None:
    """The accepted answers placed in `section`, under the customer's section titles."""
    doc.add_paragraph(f"{{%p for g in answers.{section} %}}")
    doc.add_heading("{{ g.title }}", level=2)
    doc.add_paragraph("{%p for a in g.entries %}")
    question = doc.add_paragraph()
    question.add_run("{{ a.id }} {{ a.question }}").italic = True
    doc.add_paragraph("{{ a.answer }}")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph("{%p endfor %}")


def build_proposal() -> DocumentObject:
    doc = _new(
        "Proposal", "{{ company.name }} · {{ customer }} · {{ title }} · {{ version_label }}"
    )
    for style in ("Normal", TABLE_STYLE):
        doc.styles[style].font.name = PROPOSAL_FONT
    for level in ("Title", "Heading 1", "Heading 2"):
        doc.styles[level].font.name = PROPOSAL_FONT
    first = doc.paragraphs[0]._element  # the cover carries the title below the logo
    first.getparent().remove(first)

    # -- cover
    doc.add_paragraph("{{ logo }}")
    name = doc.add_paragraph().add_run("{{ company.name }}")
    name.bold, name.font.size = True, Pt(16)
    doc.add_paragraph("")
    doc.add_heading("Proposal", level=0)
    title = doc.add_paragraph().add_run("{{ title }}")
    title.bold, title.font.size = True, Pt(14)
    doc.add_paragraph(
        "Prepared for {{ customer }}{% if rfp_reference %} · your reference "
        "{{ rfp_reference }}{% endif %}"
    )
    doc.add_paragraph("{{ version_label }} · {{ prepared_by.line }}")
    doc.add_paragraph("{{ company.address }}")
    _page_break(doc)

    # -- contents
    contents = doc.add_paragraph().add_run("Contents")
    contents.bold, contents.font.size = True, Pt(14)
    _field(doc.add_paragraph(), r'TOC \o "1-1" \h \z \u', "{{ toc }}")
    _page_break(doc)

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
        "{{ currency }} contract value{{ discount_text }}). This offer is valid for "
        "{{ validity_days }} days, until {{ valid_until }}."
    )

    _heading(doc, "company")
    doc.add_paragraph("{%p for o in company.overview %}")
    doc.add_paragraph("{{ o }}")
    doc.add_paragraph("{%p endfor %}")
    _if(doc, "company.references")
    doc.add_heading("References", level=2)
    doc.add_paragraph("{%p for r in company.references %}")
    reference = doc.add_paragraph()
    reference.add_run("{{ r.title }}").bold = True
    doc.add_paragraph("{{ r.text }}")
    doc.add_paragraph("{%p endfor %}")
    _endif(doc)

    _heading(doc, "solution")
    _loop_table(
        doc,
        ["Service", "Solution", "Sites", "Access"],
        "services",
        ["{{ sv.label }}", "{{ sv.description }}", "{{ sv.sites }}", "{{ sv.access_mix }}"],
        "sv",
        [3.6, 7.8, 1.6, 4.4],
    )
    _answers(doc, "solution")

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
        [2.4, 4.2, 3.0, 3.8, 4.0],
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
    _answers(doc, "service_levels")
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
        [2.6, 1.8, 4.2, 4.2, 4.6],
    )
    doc.add_paragraph("")
    doc.add_paragraph("Per service:")
    _loop_table(
        doc,
        [
            "Service",
            "Sites",
            "Monthly ({{ currency }})",
            "One-off ({{ currency }})",
            "Contract ({{ currency }})",
        ],
        "service_pricing",
        [
            "{{ p.service }}",
            "{{ p.sites }}",
            "{{ p.monthly }}",
            "{{ p.one_off }}",
            "{{ p.contract }}",
        ],
        "p",
        [4.0, 1.6, 3.8, 3.8, 4.2],
    )
    _bullets(doc, "bid_lines", "b")
    doc.add_paragraph(
        "Total: {{ totals.monthly }} {{ currency }} monthly, {{ totals.one_off }} {{ currency }} "
        "one-off, {{ totals.contract }} {{ currency }} over {{ contract_months }} "
        "months{{ discount_text }}. The price of every site is in the pricing schedule, a "
        "workbook that comes with this proposal{% if sites %}, and in the appendix{% endif %}."
    )
    _answers(doc, "pricing")

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
        [1.4, 1.9, 1.4, 3.9, 3.0, 2.9, 2.9],
    )
    _answers(doc, "transition")

    _if(doc, "sections.compliance")
    _heading(doc, "compliance")
    doc.add_paragraph(
        "We answered your {{ compliance.total }} requirements ({{ compliance.mandatory }} "
        "mandatory): {{ compliance.counts }}. The compliance matrix is annex A, and beside "
        "this proposal as a workbook."
    )
    _endif(doc)

    _heading(doc, "terms")
    doc.add_paragraph("This offer is made on these terms:")
    _bullets(doc, "terms", "t")
    _if(doc, "deviations")
    doc.add_paragraph("Deviations from the standard terms that apply to this offer:")
    doc.add_paragraph("{%p for d in deviations %}")
    doc.add_paragraph("{{ loop.index }}. {{ d }}", style="List Number")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph("{%p else %}")
    doc.add_paragraph("This offer makes no deviation from these terms.")
    _endif(doc)
    _answers(doc, "terms")

    _heading(doc, "assumptions")
    _bullets(doc, "assumptions", "a")

    _heading(doc, "acceptance")
    doc.add_paragraph(
        "This offer is valid for {{ validity_days }} days from {{ offer_date }}, until "
        "{{ valid_until }}. To accept it, sign below and return a copy to "
        "{{ prepared_by.line }}{% if prepared_by.email %} · {{ prepared_by.email }}{% endif %}."
    )
    signature = doc.add_table(rows=5, cols=2)
    signature.style = "Table Grid"
    cells = [
        ("For {{ company.name }}", "For {{ customer }}"),
        ("Name: {{ signature.ours.name }}", "Name:"),
        ("Title: {{ signature.ours.role }}", "Title:"),
        ("Date:", "Date:"),
        ("Signature:\n\n", "Signature:\n\n"),
    ]
    for row, (ours, theirs) in zip(signature.rows, cells, strict=True):
        for cell, text in zip(row.cells, (ours, theirs), strict=True):
            cell.text = text
            cell.paragraphs[0].style = doc.styles[TABLE_STYLE]
    for cell in signature.rows[0].cells:
        for run in cell.paragraphs[0].runs:
            run.bold = True
    _fixed(signature, [8.7, 8.7])

    doc.add_paragraph("Contact: {{ prepared_by.line }} · {{ prepared_by.email }}")

    # -- appendix and annex: landscape pages after the signature, then portrait again
    _if(doc, "sites or sections.compliance")
    _break(doc, landscape=True)
    _if(doc, "sites")
    doc.add_heading("Appendix — Pricing per site", level=1)
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
        [2.2, 4.2, 3.0, 1.9, 3.6, 2.6, 1.4, 2.2, 2.5, 2.5],
    )
    _endif(doc)
    _if(doc, "sections.compliance")
    annex = doc.add_heading("Annex A — Compliance matrix", level=1)
    annex.paragraph_format.page_break_before = True
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
        [2.9, 3.0, 7.4, 0.9, 2.7, 9.2],
    )
    _endif(doc)
    _break(doc, landscape=False)
    _endif(doc)
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


def build_logo(width: int = 112, height: int = 96) -> bytes:
    """Our logo (rules/proposal.yaml company.logo) as a PNG, drawn here so the repository
    needs no image tool: three rising teal bars on navy, the mark of a network."""
    import struct
    import zlib

    navy, teal = (16, 42, 84), (0, 150, 160)
    bars = [(22, 56, 40), (47, 36, 65), (72, 16, 90)]  # (left, top, right) per bar

    def pixel(x: int, y: int) -> tuple[int, int, int]:
        for left, top, right in bars:
            if left <= x < right and top <= y < height - 16:
                return teal
        return navy

    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in pixel(x, y)) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


STYLE_REFS = ("w:pStyle", "w:rStyle", "w:tblStyle", "w:numStyleLink", "w:styleLink")
STYLE_LINKS = ("w:basedOn", "w:link", "w:next")
STYLES_WITH_EFFECTS = "http://schemas.microsoft.com/office/2007/relationships/stylesWithEffects"


def _slim(doc: DocumentObject) -> DocumentObject:
    """Keep only the styles the template uses (and what they are based on, linked to or
    followed by, and the defaults), and drop Word 2010's copy of them (stylesWithEffects).

    python-docx's blank document carries 165 style definitions (100 of them table styles)
    in 350 KB, and the 440 KB copy: every render parsed, serialised and compressed them
    again. Word still offers its built-in styles (the latent styles stay), and adds a
    definition when one is applied."""
    package = doc.part.package
    used: set[str] = set()
    for part in package.iter_parts():
        element = getattr(part, "element", None)
        if element is None or element is doc.styles.element:
            continue
        for tag in STYLE_REFS:
            used.update(str(e.get(qn("w:val"))) for e in element.iter(qn(tag)))
    styles = doc.styles.element
    by_id = {str(s.get(qn("w:styleId"))): s for s in styles.iter(qn("w:style"))}
    keep = {i for i, s in by_id.items() if s.get(qn("w:default")) in ("1", "true")}
    todo = [i for i in used if i in by_id]
    while todo:
        style_id = todo.pop()
        if style_id in keep and style_id not in used:
            continue
        keep.add(style_id)
        used.discard(style_id)
        for tag in STYLE_LINKS:
            for link in by_id[style_id].iter(qn(tag)):
                target = str(link.get(qn("w:val")))
                if target in by_id and target not in keep:
                    todo.append(target)
    for style_id, style in by_id.items():
        if style_id not in keep:
            styles.remove(style)
    for r_id, rel in list(doc.part.rels.items()):
        if rel.reltype == STYLES_WITH_EFFECTS:
            del doc.part.rels[r_id]
    return doc


def main(out_dir: Path = HERE) -> list[Path]:
    logo = out_dir / "logo.png"
    logo.write_bytes(build_logo())
    written = [logo]
    for name, build in BUILDERS.items():
        path = out_dir / name
        _slim(build()).save(str(path))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in main():
        print(path)
