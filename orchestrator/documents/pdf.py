"""PDFs beside the documents, by headless LibreOffice (`soffice --convert-to pdf`).

Every document of a bid is converted in ONE `soffice` run (starting LibreOffice costs more
than converting a document), with a profile of its own so a LibreOffice the user has open is
left alone. The files may sit in several folders (the QRFs in `qrf/`, a version's files in
`v2/`) and share names across them, so each is linked under a numbered name into a scratch
folder, converted there, and its PDF moved beside it.

A run that fails or outlives `timeout` seconds is stopped (its whole process group: soffice
starts soffice.bin) and reported in one line naming the first document without a PDF; the
.docx files stay as they are. LibreOffice converts in the order given, so the first missing
PDF is the one it was working on.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from orchestrator.documents.files import atomic_write
from orchestrator.errors import PdfUnavailable

SOFFICE_NAMES = ("soffice", "libreoffice")
TIMEOUT_SECONDS = 300.0
"""How long one conversion run of a bid's documents may take (BID_PDF_TIMEOUT)."""


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
