"""`bid docs --pdf`: every document of a bid in ONE LibreOffice run, and a run that fails or
hangs ends in one line naming the document, exit 2, the .docx files kept (issue 26).

The real LibreOffice converts in the first tests (it is required, never skipped); a fake
`soffice` put first on PATH counts the runs, hangs or fails in the others."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from orchestrator.context import Context
from orchestrator.documents.pdf import convert_to_pdf
from orchestrator.errors import PdfUnavailable
from tests.conftest import RunCli
from tests.factories import new_bid

REAL_SOFFICE = "/usr/bin/soffice"


def _fake_soffice(folder: Path, body: str) -> Path:
    """A `soffice` on PATH that runs `body` (a shell script)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "soffice"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return folder


def _on_path(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def _docx(path: Path, text: str) -> Path:
    from docx import Document

    path.parent.mkdir(parents=True, exist_ok=True)
    document = Document()
    document.add_paragraph(text)
    document.save(str(path))
    return path


def test_files_of_several_folders_with_the_same_name_convert_in_one_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "runs.log"
    _on_path(
        monkeypatch,
        _fake_soffice(tmp_path / "bin", f'echo run >> "{log}"\nexec {REAL_SOFFICE} "$@"'),
    )
    first = _docx(tmp_path / "out" / "proposal.docx", "the working proposal")
    second = _docx(tmp_path / "out" / "v2" / "proposal.docx", "version two as sent")
    third = _docx(tmp_path / "out" / "qrf" / "qrf-DE.docx", "a quote request")
    pdfs = convert_to_pdf([first, second, third])
    assert pdfs == [p.with_suffix(".pdf") for p in (first, second, third)]
    texts = [" ".join(page.extract_text() for page in PdfReader(p).pages) for p in pdfs]
    assert ["working" in texts[0], "version two" in texts[1], "quote request" in texts[2]] == [
        True,
        True,
        True,
    ]
    assert log.read_text().splitlines() == ["run"]  # one LibreOffice for all three


def test_bid_docs_pdf_converts_every_document_of_the_bid_in_one_run(
    run_cli: RunCli, ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = new_bid(ctx)
    log = tmp_path / "runs.log"
    _on_path(
        monkeypatch,
        _fake_soffice(tmp_path / "bin", f'echo run >> "{log}"\nexec {REAL_SOFFICE} "$@"'),
    )
    out = tmp_path / "docs"
    result = run_cli("docs", ref, "--out", str(out), "--pdf")
    assert result.code == 0, result.err
    docx = sorted(out.rglob("*.docx"))
    assert len(docx) >= 3 and any(p.parent.name == "qrf" for p in docx)  # two folders
    assert all(p.with_suffix(".pdf").is_file() for p in docx)
    assert log.read_text().splitlines() == ["run"]


def test_a_hanging_libreoffice_is_stopped_and_names_the_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _on_path(monkeypatch, _fake_soffice(tmp_path / "bin", "sleep 120 & sleep 120"))
    files = [_docx(tmp_path / "a.docx", "a"), _docx(tmp_path / "b.docx", "b")]
    started = time.monotonic()
    with pytest.raises(PdfUnavailable) as raised:
        convert_to_pdf(files, timeout=1.5)
    assert time.monotonic() - started < 10  # its children were stopped with it
    message = str(raised.value)
    assert "\n" not in message
    assert "a.docx" in message and "1.5 s" in message
    assert all(f.is_file() and not f.with_suffix(".pdf").exists() for f in files)


def test_a_failing_libreoffice_names_the_document_it_could_not_convert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _on_path(
        monkeypatch,
        _fake_soffice(
            tmp_path / "bin", 'echo "Error: source file could not be loaded" >&2\nexit 1'
        ),
    )
    files = [_docx(tmp_path / "proposal.docx", "p")]
    with pytest.raises(PdfUnavailable) as raised:
        convert_to_pdf(files)
    message = str(raised.value)
    assert "proposal.docx" in message and "source file could not be loaded" in message
    assert "\n" not in message and files[0].is_file()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("sleep 120", "did not finish converting"),
        ('echo "Error: source file could not be loaded" >&2\nexit 1', "could not convert"),
    ],
)
def test_bid_docs_pdf_that_fails_is_one_line_exit_2_and_the_docx_are_kept(
    run_cli: RunCli,
    ctx: Context,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    body: str,
    says: str,
) -> None:
    ref = new_bid(ctx)
    _on_path(monkeypatch, _fake_soffice(tmp_path / "bin", body))
    monkeypatch.setenv("BID_PDF_TIMEOUT", "2")
    out = tmp_path / "docs"
    result = run_cli("docs", ref, "--out", str(out), "--pdf")
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    assert says in lines[0] and ".docx" in lines[0]
    kept = Path(lines[0].rsplit("the .docx files are kept in ", 1)[1])
    docx = sorted(kept.rglob("*.docx"))
    assert docx and not list(kept.rglob("*.pdf"))
    assert any(p.name.startswith("proposal-") for p in docx)
    history = run_cli("docs", ref, "--out", str(out), "--json")  # still renders without --pdf
    assert history.code == 0, history.err


def test_a_long_table_is_laid_out_in_parts_and_the_docx_stays_one_table(tmp_path: Path) -> None:
    from docx import Document

    from orchestrator.documents.pdf import LAYOUT_ROWS

    rows = LAYOUT_ROWS * 2 + 17
    document = Document()
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Site", "Monthly"
    header = table.rows[0]._tr.get_or_add_trPr()
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    header.append(repeat)
    for n in range(1, rows + 1):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = f"S-{n:05d}", f"{n}.00"
    path = tmp_path / "long.docx"
    document.save(str(path))
    before = path.read_bytes()
    [pdf] = convert_to_pdf([path])
    assert path.read_bytes() == before
    kept = Document(str(path))
    assert len(kept.tables) == 1 and len(kept.tables[0].rows) == rows + 1
    text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    found = [n for n in range(1, rows + 1) if f"S-{n:05d}" in text]
    assert found == list(range(1, rows + 1))  # every row, once each, in order of the parts
    assert text.count("Site Monthly") >= len(PdfReader(pdf).pages) > 1  # a header each page
