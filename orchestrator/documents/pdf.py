"""PDFs beside the documents, by headless LibreOffice (`soffice --convert-to pdf`).

Every document of a bid is converted in ONE `soffice` run (starting LibreOffice costs more
than converting a document), with a profile of its own so a LibreOffice the user has open is
left alone. The files may sit in several folders (the QRFs in `qrf/`, a version's files in
`v2/`) and share names across them, so each is linked under a numbered name into a scratch
folder, converted there, and its PDF moved beside it.

LibreOffice lays a table out as a whole: a 3,200-row order sheet table took it more than 15
minutes, the same rows as tables of 100 half a minute. So the copy LibreOffice converts has
every long table cut into tables of `LAYOUT_ROWS` rows, each with the header rows again and a
hairline paragraph between them (Word would join adjacent tables); the page reads the same.
The .docx the user keeps is not touched.

A run that fails or outlives `timeout` seconds is stopped (its whole process group: soffice
starts soffice.bin) and reported in one line naming the first document without a PDF; the
.docx files stay as they are. LibreOffice converts in the order given, so the first missing
PDF is the one it was working on.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import shutil
import signal
import subprocess
import tempfile
import zipfile
from pathlib import Path

from lxml import etree  # type: ignore[import-untyped]

from orchestrator.documents.files import atomic_write
from orchestrator.errors import PdfUnavailable

SOFFICE_NAMES = ("soffice", "libreoffice")
TIMEOUT_SECONDS = 300.0
"""How long one conversion run of a bid's documents may take (BID_PDF_TIMEOUT)."""
LAYOUT_ROWS = 100
"""Rows of a table LibreOffice lays out at once (see the module docstring)."""
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_BODY_XML = "word/document.xml"
_ROW = re.compile(rb"<w:tr[ >]")


def soffice() -> str:
    for name in SOFFICE_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise PdfUnavailable(
        "PDFs need LibreOffice: install it (e.g. apt-get install libreoffice-writer-nogui "
        "libreoffice-calc-nogui) and run again"
    )


def convert_to_pdf(paths: list[Path], timeout: float = TIMEOUT_SECONDS) -> list[Path]:
    """Convert each file to a PDF beside it, all in one LibreOffice run; returns the PDFs in
    the order of `paths`. Raises `PdfUnavailable` (one line, naming the document) when the
    run fails or times out; the source files are never touched."""
    if not paths:
        return []
    program = soffice()
    kept = f"the .docx files are kept in {os.path.commonpath([p.parent for p in paths])}"
    with tempfile.TemporaryDirectory(prefix="bid-soffice-") as scratch:
        work = Path(scratch)
        inbox, outbox = work / "in", work / "out"
        inbox.mkdir()
        outbox.mkdir()
        staged: list[Path] = []
        for number, path in enumerate(paths):
            path.with_suffix(".pdf").unlink(missing_ok=True)
            link = inbox / f"{number:05d}-{path.name}"
            if not _cut_long_tables(path, link):
                os.symlink(path.resolve(), link)
            staged.append(link)
        command = [
            program,
            f"-env:UserInstallation={(work / 'profile').as_uri()}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            "pdf",
            "--outdir",
            str(outbox),
            *(str(link) for link in staged),
        ]
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: a timeout stops soffice.bin too
        )
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(process)
            first = _first_missing(paths, staged, outbox)
            raise PdfUnavailable(
                f"LibreOffice did not finish converting {first.name} within {timeout:g} s "
                f"(BID_PDF_TIMEOUT); no PDF written, {kept}"
            ) from None
        results = [outbox / f"{link.stem}.pdf" for link in staged]
        missing = [path for path, pdf in zip(paths, results, strict=True) if not pdf.is_file()]
        if process.returncode != 0 or missing:
            detail = (err or out or "").strip().splitlines()[-1:] or ["no output"]
            name = missing[0].name if missing else paths[0].name
            raise PdfUnavailable(
                f"LibreOffice could not convert {name} (exit {process.returncode}: "
                f"{detail[0][:200]}); {kept}"
            )
        for path, pdf in zip(paths, results, strict=True):
            with atomic_write(path.with_suffix(".pdf")) as tmp:
                shutil.copyfile(pdf, tmp)
    return [path.with_suffix(".pdf") for path in paths]


def _stop(process: subprocess.Popen[str]) -> None:
    """End the run and everything it started."""
    with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def _first_missing(paths: list[Path], staged: list[Path], outbox: Path) -> Path:
    for path, link in zip(paths, staged, strict=True):
        if not (outbox / f"{link.stem}.pdf").is_file():
            return path
    return paths[-1]


def _cut_long_tables(source: Path, target: Path) -> bool:
    """Write to `target` a copy of the .docx `source` whose tables have at most LAYOUT_ROWS
    body rows each; False (nothing written) when no table is that long."""
    if source.suffix.lower() != ".docx":
        return False
    try:
        with zipfile.ZipFile(source) as archive:
            xml = archive.read(_BODY_XML)
            if len(_ROW.findall(xml)) <= LAYOUT_ROWS:
                return False
            root = etree.fromstring(xml, parser=etree.XMLParser(huge_tree=True))
            if not _cut_tables(root):
                return False
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy_:
                for item in archive.infolist():
                    data = archive.read(item.filename)
                    if item.filename == _BODY_XML:
                        data = etree.tostring(root, xml_declaration=True, standalone=True)
                    copy_.writestr(item, data)
    except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError):
        return False  # not ours to fix: LibreOffice says what is wrong with it
    return True


def _cut_tables(root: etree._Element) -> bool:
    cut = False
    for table in list(root.iter(f"{_W}tbl")):
        if table.getparent() is None or table.getparent().tag != f"{_W}body":
            continue  # a table inside a cell stays whole
        rows = table.findall(f"{_W}tr")
        header = [row for row in rows if row.find(f"{_W}trPr/{_W}tblHeader") is not None]
        body = [row for row in rows if row not in header]
        if len(body) <= LAYOUT_ROWS:
            continue
        anchor = table
        for start in range(LAYOUT_ROWS, len(body), LAYOUT_ROWS):
            part = etree.Element(f"{_W}tbl")
            for kept in (f"{_W}tblPr", f"{_W}tblGrid"):
                found = table.find(kept)
                if found is not None:
                    part.append(copy.deepcopy(found))
            for row in header:
                part.append(copy.deepcopy(row))
            for row in body[start : start + LAYOUT_ROWS]:
                part.append(row)  # moved out of the first table
            spacer = _hairline()
            anchor.addnext(spacer)
            spacer.addnext(part)
            anchor = part
        cut = True
    return cut


def _hairline() -> etree._Element:
    """An empty paragraph one twentieth of a point high: keeps two tables apart."""
    paragraph = etree.Element(f"{_W}p")
    properties = etree.SubElement(paragraph, f"{_W}pPr")
    spacing = etree.SubElement(properties, f"{_W}spacing")
    for key, value in (("before", "0"), ("after", "0"), ("line", "1"), ("lineRule", "exact")):
        spacing.set(f"{_W}{key}", value)
    run = etree.SubElement(properties, f"{_W}rPr")
    etree.SubElement(run, f"{_W}sz").set(f"{_W}val", "2")
    return paragraph
