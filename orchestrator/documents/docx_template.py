"""Building a .docx from a docxtpl template: once prepared, a render touches only the parts
that change.

docxtpl opens the template with python-docx at every render (parsing its every part),
renders the body and the footers through Jinja, and saves the whole package again
(serialising and compressing every part). For a template rendered thousands of times (the
Bid Control Plan follows every move of every bid) that was two thirds of a render.
`PreparedDocx` does docxtpl's work on the parts that never change once per template: the
body's and the footers' Jinja sources (docxtpl's clean-up of the tags done), the document
part's root without its body, and every other part as python-docx writes it. A render
then runs Jinja over the body and the footers, treats the result exactly as docxtpl does,
and adds those parts to the prepared package. The parts are the same bytes docxtpl writes
(`tests/test_documents__docx_template.py` compares them, template by template).

Pictures (the proposal's logo) are placed once, when the template is prepared with them:
the picture's part is then one of the parts that never change, and its drawing is the text
docxtpl would put where the template names it. A template that needs what only docxtpl
does (footnotes, headers, Jinja in the document's properties) is rendered by docxtpl
itself (`render_with_docxtpl`).
"""

from __future__ import annotations

import copy
import io
import re
import threading
import zipfile
from dataclasses import dataclass
from typing import Any

import jinja2
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.ns import nsmap, qn
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage
from lxml import etree  # type: ignore[import-untyped]
from markupsafe import Markup

DOCX_LOCK = threading.Lock()
"""One .docx built at a time in a process. python-docx parses every part with ONE lxml parser
shared by the whole process, and lxml gives up the GIL while it parses: two threads building
documents at once (a task worker carries eight bids at a time) parse with it concurrently,
which lxml does not support. Found as a segmentation fault in lxml that took a task worker
down with the eight bids it was carrying. Building a .docx holds the GIL nearly all the
time anyway: one at a time costs the other threads little."""

_LISTING_CHARS = re.compile(r"[\t\a\n\f]")
_PATCHED: dict[str, str] = {}
"""docxtpl's tag clean-up of a part's XML, by the XML (the same for every render of it)."""

_PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")
"""The document properties docxtpl renders through Jinja (`DocxTemplate.render_properties`)."""

_FOOTNOTES = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"


class CompilingOnce(jinja2.Environment):
    """A Jinja environment that compiles each docx part's template source once.

    docxtpl turns every part of the .docx (body, headers, footers) into one Jinja template
    source and compiles it at every render; the source is the same for every render of a
    template, and compiling it was half of a small document's render. Compiled templates
    are kept by their source (a few dozen parts across all templates)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._compiled: dict[str, jinja2.Template] = {}

    def from_string(  # type: ignore[override]
        self, source: str, globals: Any = None, template_class: Any = None
    ) -> jinja2.Template:
        if globals is not None or template_class is not None or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        held = self._compiled.get(source)
        if held is None:
            if len(self._compiled) >= 256:  # templates edited over a long life: start afresh
                self._compiled.clear()
            held = self._compiled[source] = super().from_string(source)
        return held


class Template(DocxTemplate):  # type: ignore[misc]
    """docxtpl, minus passes that cost time on 3,200-row tables and change nothing here.

    `resolve_listing` turns \\t \\n \\a \\f in rendered values into Word runs; on 3,200-row
    tables it costs a third of the render even when there is nothing to turn. The output
    is the same either way. `patch_xml` (regular expressions over the template's XML) is
    done once per template part, not at every render.
    """

    def patch_xml(self, src_xml: str) -> str:
        held = _PATCHED.get(src_xml)
        if held is None:
            if len(_PATCHED) >= 256:
                _PATCHED.clear()
            held = _PATCHED[src_xml] = str(super().patch_xml(src_xml))
        return held

    def resolve_listing(self, xml: str) -> str:
        if _LISTING_CHARS.search(xml) is None:
            return xml
        return str(super().resolve_listing(xml))

    def fix_tables(self, xml: str) -> Any:
        """Only parse: our templates repeat rows, never columns (`{%tc %}`), so the column
        grid docxtpl would re-count cell by cell on every row is already right."""
        return etree.fromstring(xml, parser=etree.XMLParser(recover=True))


def drop_empty_last_section(body: Any) -> None:
    """A template whose optional landscape pages end with a section break back to portrait
    leaves an empty last section (a blank page) when those pages are rendered: the break's
    page layout becomes the document's last one instead. `body` is the rendered w:body."""
    children = [c for c in body.iterchildren() if c.tag != qn("w:sectPr")]
    final = body.find(qn("w:sectPr"))
    if not children or final is None:
        return
    last = children[-1]
    if last.tag != qn("w:p") or "".join(last.itertext()).strip():
        return
    properties = last.find(qn("w:pPr"))
    inner = properties.find(qn("w:sectPr")) if properties is not None else None
    if inner is None:
        return
    final.addprevious(inner)
    body.remove(final)
    body.remove(last)


def render_with_docxtpl(
    data: bytes,
    context: dict[str, Any],
    env: jinja2.Environment,
    images: dict[str, Any] | None = None,
) -> bytes:
    """docxtpl's own render of `data` (the template's bytes), `images` placed as 25 mm
    pictures where the template names them. Call under `DOCX_LOCK`."""
    doc = Template(io.BytesIO(data))
    placed = {key: InlineImage(doc, str(p), width=Mm(25)) for key, p in (images or {}).items()}
    doc.render({**context, **placed}, env, autoescape=True)
    drop_empty_last_section(doc.docx.element.body)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# --- the prepared template ---------------------------------------------------------------------


def _jinja_source(xml: str) -> str:
    """A part's XML as docxtpl hands it to Jinja: each paragraph on its own line."""
    return re.sub(r"<w:p([ >])", r"\n<w:p\1", xml)


def _rendered_xml(doc: Template, rendered: str) -> str:
    """What docxtpl does to Jinja's output (`DocxTemplate.render_xml_part`)."""
    xml = re.sub(r"\n<w:p([ >])", r"<w:p\1", rendered)
    xml = xml.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%").replace("%_}", "%}")
    return doc.resolve_listing(xml)


def _part_parser() -> Any:
    """A parser like python-docx's own (`docx.oxml.parser`), for this call alone."""
    return etree.XMLParser(remove_blank_text=True, resolve_entities=False)


def _serialise(element: Any) -> bytes:
    """A part's XML as python-docx writes it (`docx.opc.oxml.serialize_part_xml`)."""
    return bytes(etree.tostring(element, encoding="UTF-8", standalone=True))


@dataclass(frozen=True)
class _Footer:
    member: str
    source: jinja2.Template
    encoding: str


@dataclass(frozen=True)
class PreparedDocx:
    """A template ready to render: see the module's docstring."""

    doc: Template
    body: jinja2.Template
    shell: Any
    """The document part's root element, its body an empty placeholder."""
    footers: tuple[_Footer, ...]
    constant: bytes
    """A .docx (zip) of every part the render does not write, as python-docx writes them."""
    pictures: dict[str, Markup]
    """The drawing of each picture the template was prepared with, by its context key."""

    def render(self, context: dict[str, Any]) -> bytes:
        """The .docx for `context` (plain data). Call under `DOCX_LOCK`."""
        context = {**context, **self.pictures}
        body = etree.fromstring(
            _rendered_xml(self.doc, self.body.render(context)),
            parser=etree.XMLParser(recover=True),
        )
        for number, element in enumerate(body.xpath("//wp:docPr", namespaces=nsmap), 1001):
            element.attrib["id"] = str(number)  # docxtpl's `fix_docpr_ids`
        root = copy.deepcopy(self.shell)
        root.replace(root.find(qn("w:body")), body)
        drop_empty_last_section(body)
        out = io.BytesIO(self.constant)
        with zipfile.ZipFile(out, "a") as package:
            package.writestr(_member("word/document.xml"), _serialise(root))
            for footer in self.footers:
                xml = _rendered_xml(self.doc, footer.source.render(context))
                part = etree.fromstring(xml.encode(footer.encoding), parser=_part_parser())
                package.writestr(_member(footer.member), _serialise(part))
        return out.getvalue()


def prepare(
    data: bytes, env: jinja2.Environment, images: dict[str, Any] | None = None
) -> PreparedDocx | None:
    """`data` (a template's bytes) prepared for `PreparedDocx.render`, with `images` (PNG
    paths by context key) placed as 25 mm pictures; None when it needs docxtpl's own
    render (footnotes, headers, or Jinja in its properties). Call under `DOCX_LOCK`."""
    doc = Template(io.BytesIO(data))
    doc.render_init()
    package = doc.docx.part.package
    if any(part.content_type == _FOOTNOTES for part in package.parts):
        return None
    properties = doc.docx.core_properties
    if any(_has_tags(getattr(properties, name)) for name in _PROPERTIES):
        return None
    if any(rel.reltype == RT.HEADER for rel in doc.docx.part.rels.values()):
        return None
    doc.render_properties({}, env)  # what docxtpl writes for them: the same text
    doc.current_rendering_part = doc.docx.part  # where docxtpl places pictures: the body
    pictures = {
        key: Markup(InlineImage(doc, str(path), width=Mm(25)).__html__())
        for key, path in (images or {}).items()
    }
    body = env.from_string(_jinja_source(doc.patch_xml(doc.get_xml())))
    footers = tuple(
        _Footer(
            member=part.partname.membername,
            source=env.from_string(_jinja_source(doc.patch_xml(doc.get_part_xml(part)))),
            encoding=doc.get_headers_footers_encoding(doc.get_part_xml(part)),
        )
        for _, part in doc.get_headers_footers(doc.FOOTER_URI)
    )
    shell = copy.deepcopy(doc.docx.element)
    shell.replace(shell.find(qn("w:body")), etree.Element(qn("w:body")))
    written = io.BytesIO()
    doc.docx.save(written)
    rendered = {"word/document.xml", *(footer.member for footer in footers)}
    constant = io.BytesIO()
    with (
        zipfile.ZipFile(written) as source,
        zipfile.ZipFile(constant, "w", compression=zipfile.ZIP_DEFLATED) as target,
    ):
        for member in source.infolist():
            if member.filename not in rendered:
                target.writestr(_member(member.filename), source.read(member))
    return PreparedDocx(doc, body, shell, footers, constant.getvalue(), pictures)


def _member(name: str) -> zipfile.ZipInfo:
    """A compressed zip member with a fixed date: the same content gives the same file."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _has_tags(value: object) -> bool:
    return isinstance(value, str) and any(tag in value for tag in ("{{", "{%", "{#"))
