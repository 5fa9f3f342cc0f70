"""Build the .docx templates in this folder: `python templates/build_templates.py`.

The templates are Jinja for docxtpl. Every tag is written as ONE run so docxtpl sees it
intact in the XML; table rows repeat with `{%tr for ... %}` / `{%tr endfor %}` rows, which
docxtpl removes while rendering. The generated files are committed; rerun this script after
changing it.
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT
from docx.shared import Cm, Pt

HERE = Path(__file__).resolve().parent
VERSION_LINE = "{{ ref }} · {{ doc_title }} · version {{ content_hash }}"


def _new(title: str, *, landscape: bool = False) -> DocumentObject:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(10)
    section = doc.sections[0]
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = section.page_height, section.page_width
    section.left_margin = section.right_margin = Cm(1.8)
    section.footer.paragraphs[0].text = VERSION_LINE
    doc.add_heading(title, level=0)
    doc.add_paragraph(VERSION_LINE)
    # fixed metadata: the template carries no author or timestamps of the build machine
    props = doc.core_properties
    props.author = "bid-orchestrator"
    props.title = title
    return doc


def _loop_table(
    doc: DocumentObject, headers: list[str], loop: str, cells: list[str], var: str
) -> None:
    """A table: a header row, then one row per item of `loop` with the given cell tags."""
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, headers, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(text).bold = True
    table.add_row().cells[0].text = f"{{%tr for {var} in {loop} %}}"
    row = table.add_row()
    for cell, tag in zip(row.cells, cells, strict=True):
        cell.text = tag
    table.add_row().cells[0].text = "{%tr endfor %}"


def _bullets(doc: DocumentObject, loop: str, var: str) -> None:
    doc.add_paragraph(f"{{%p for {var} in {loop} %}}")
    doc.add_paragraph(f"{{{{ {var} }}}}", style="List Bullet")
    doc.add_paragraph("{%p endfor %}")


def build_qrf() -> DocumentObject:
    doc = _new("Quote Request Form")
    doc.add_paragraph("{{ qrf_name }}")
    doc.add_heading("Cover letter", level=1)
    doc.add_paragraph("To: {{ provider.name }}, attn. {{ provider.contact_name }}")
    doc.add_paragraph("E-mail: {{ provider.contact_email }}")
    doc.add_paragraph("From: {{ sender }}")
    doc.add_paragraph("Customer reference: {{ customer }} · {{ title }}")
    doc.add_paragraph(
        "Please quote the {{ site_count }} site(s) in {{ country }} listed below "
        "({{ budgetary_count }} budgetary, {{ firm_count }} firm) in {{ provider.currency }}, "
        "monthly and one-off, with the validity date of each quote. "
        "Expected lead time: {{ provider.lead_time_days }} days; please reply by {{ reply_by }}."
    )
    doc.add_paragraph(
        "Answer with the attached CSV filled in (columns site_id, provider, kind, "
        "monthly_cost, one_off_cost, currency, valid_until)."
    )
    doc.add_heading("Sites", level=1)
    _loop_table(
        doc,
        ["Site ID", "Name", "Street", "Postcode", "City", "Bandwidth (Mbps)", "Access", "Quote"],
        "lines",
        [
            "{{ s.site_id }}",
            "{{ s.name }}",
            "{{ s.street }}",
            "{{ s.postcode }}",
            "{{ s.city }}",
            "{{ s.bandwidth_mbps }}",
            "{{ s.access }}",
            "{{ s.requested }}",
        ],
        "s",
    )
    return doc


def build_proposal() -> DocumentObject:
    doc = _new("Proposal")
    doc.add_paragraph("{{ title }}")
    doc.add_paragraph("Prepared for {{ customer }}")
    doc.add_heading("1. Executive summary", level=1)
    doc.add_paragraph(
        "{{ customer }} asked us for {{ services_text }} at {{ site_count }} sites in "
        "{{ country_count }} countries. Our proposal is built on {{ strategy.label }}: "
        "{{ strategy.pitch }}"
    )
    doc.add_paragraph(
        "Total: {{ totals.monthly }} {{ currency }} per month and {{ totals.one_off }} "
        "{{ currency }} one-off, over {{ contract_months }} months ({{ totals.contract }} "
        "{{ currency }} contract value)."
    )
    doc.add_heading("2. Solution per service", level=1)
    _loop_table(
        doc,
        ["Service", "Solution", "Sites", "Access mix"],
        "services",
        ["{{ sv.label }}", "{{ sv.description }}", "{{ sv.sites }}", "{{ sv.access_mix }}"],
        "sv",
    )
    doc.add_heading("3. Site list", level=1)
    _loop_table(
        doc,
        [
            "Site ID",
            "Name",
            "City",
            "Country",
            "Service",
            "Access",
            "Mbps",
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
            "{{ s.monthly }}",
            "{{ s.one_off }}",
        ],
        "s",
    )
    doc.add_heading("4. Pricing summary", level=1)
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
    )
    _bullets(doc, "bid_lines", "b")
    doc.add_paragraph(
        "Total: {{ totals.monthly }} {{ currency }} monthly, {{ totals.one_off }} {{ currency }} "
        "one-off, {{ totals.contract }} {{ currency }} over {{ contract_months }} "
        "months{{ discount_text }}."
    )
    doc.add_heading("5. {{ strategy.section_title }}", level=1)
    doc.add_paragraph("{{ strategy.intro }}")
    _loop_table(
        doc, ["Item", "Commitment"], "strategy.rows", ["{{ r.label }}", "{{ r.value }}"], "r"
    )
    doc.add_heading("6. Transition plan", level=1)
    doc.add_paragraph("{{ transition_intro }}")
    _loop_table(
        doc,
        ["Wave", "Country", "Sites", "Planned start"],
        "waves",
        ["{{ w.wave }}", "{{ w.country }}", "{{ w.sites }}", "{{ w.start }}"],
        "w",
    )
    doc.add_heading("7. Assumptions", level=1)
    _bullets(doc, "assumptions", "a")
    return doc


def build_control_plan() -> DocumentObject:
    doc = _new("Bid Control Plan")
    doc.add_paragraph("{{ title }} · {{ customer }}")
    doc.add_paragraph("Submission deadline: {{ deadline }} · state: {{ state }}")
    doc.add_heading("Milestones", level=1)
    _loop_table(
        doc,
        ["Milestone", "Due", "Owner role", "Owner", "Status", "Completed"],
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
    )
    doc.add_heading("Team", level=1)
    _loop_table(
        doc,
        ["Role", "Name", "E-mail"],
        "team",
        ["{{ t.role }}", "{{ t.name }}", "{{ t.email }}"],
        "t",
    )
    return doc


def build_order_sheet() -> DocumentObject:
    doc = _new("Clean order sheet", landscape=True)
    doc.add_paragraph("{{ title }} · {{ customer }} · state: {{ state }}")
    doc.add_paragraph(
        "{{ line_count }} order line(s), {{ problem_count }} blocking problem(s), "
        "{{ change_count }} change order(s). Prices in {{ currency }}."
    )
    doc.add_heading("Order lines", level=1)
    _loop_table(
        doc,
        [
            "Line",
            "Site ID",
            "Name",
            "Street",
            "Postcode",
            "City",
            "Country",
            "Service",
            "Access",
            "Mbps",
            "Provider",
            "Monthly",
            "One-off",
            "Check",
        ],
        "lines",
        [
            "{{ l.line }}",
            "{{ l.site_id }}",
            "{{ l.name }}",
            "{{ l.street }}",
            "{{ l.postcode }}",
            "{{ l.city }}",
            "{{ l.country }}",
            "{{ l.service }}",
            "{{ l.access }}",
            "{{ l.bandwidth_mbps }}",
            "{{ l.provider }}",
            "{{ l.monthly }}",
            "{{ l.one_off }}",
            "{{ l.check }}",
        ],
        "l",
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
    )
    return doc


def build_submission_letter() -> DocumentObject:
    doc = _new("Submission")
    doc.add_paragraph("To: {{ customer }}")
    doc.add_paragraph("Subject: {{ title }}{{ rfp_text }}")
    doc.add_paragraph("Date: {{ date }}")
    doc.add_paragraph(
        "We are pleased to submit our proposal for {{ site_count }} sites in "
        "{{ country_count }} countries. It was approved internally (technical, financial and "
        "legal review) as version {{ proposal_hash }}."
    )
    doc.add_heading("Enclosed", level=1)
    _loop_table(
        doc,
        ["Document", "File", "Version"],
        "enclosures",
        ["{{ e.title }}", "{{ e.file }}", "{{ e.hash }}"],
        "e",
    )
    doc.add_paragraph("Kind regards, {{ sender }}")
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
