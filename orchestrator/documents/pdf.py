"""PDFs beside the documents, by headless LibreOffice (`soffice --convert-to pdf`).

One `soffice` call converts all the files of a folder (starting LibreOffice costs more than
converting), with a profile of its own so a LibreOffice the user has open is left alone.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

from orchestrator.errors import PdfUnavailable

SOFFICE_NAMES = ("soffice", "libreoffice")
TIMEOUT_SECONDS = 600


def soffice() -> str:
    for name in SOFFICE_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise PdfUnavailable(
        "PDFs need LibreOffice: install it (e.g. apt-get install libreoffice-writer-nogui "
        "libreoffice-calc-nogui) and run again"
    )


def convert_to_pdf(paths: list[Path]) -> list[Path]:
    """Convert each file to a PDF beside it; returns the PDFs in the order of `paths`."""
    if not paths:
        return []
    program = soffice()
    by_folder: dict[Path, list[Path]] = defaultdict(list)
    for path in paths:
        by_folder[path.parent].append(path)
    with tempfile.TemporaryDirectory(prefix="bid-soffice-") as profile:
        for folder, files in by_folder.items():
            for file in files:
                file.with_suffix(".pdf").unlink(missing_ok=True)
            command = [
                program,
                f"-env:UserInstallation={Path(profile).as_uri()}",
                "--headless",
                "--norestore",
                "--convert-to",
                "pdf",
                "--outdir",
                str(folder),
                *(str(f) for f in files),
            ]
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
            )
            missing = [f for f in files if not f.with_suffix(".pdf").exists()]
            if done.returncode != 0 or missing:
                detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
                names = ", ".join(f.name for f in missing) or str(folder)
                raise PdfUnavailable(f"LibreOffice could not convert {names}: {detail[0]}")
    return [path.with_suffix(".pdf") for path in paths]
