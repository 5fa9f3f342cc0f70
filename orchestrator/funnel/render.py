"""The renderer of the meeting documents: a Jinja page (autoescaped) and its PDF.

The monthly business review and the meeting packs are HTML pages from `templates/report/`,
printed to PDF by headless Chromium (`--print-to-pdf`), the browser the tests render them
in. Without Chromium the page is still written and the PDF is reported as not written.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PDF_TIMEOUT_S = 120


def environment(templates_dir: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def write_page(templates_dir: Path, template: str, out: Path, **values: Any) -> Path:
    """Render `template` with `values` into the file `out`; returns it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    page = environment(templates_dir).get_template(template).render(**values)
    out.write_text(page, encoding="utf-8")
    return out


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(page: Path, pdf: Path, chromium: str | None = None) -> Path | None:
    """Print an HTML page to PDF in headless Chromium; None when no Chromium is installed.

    A profile of its own per run, so two runs at once never share one; a browser that fails
    raises `subprocess.CalledProcessError` (a bug or a broken installation, not user input).
    """
    browser = chromium or find_chromium()
    if browser is None:
        return None
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bid-chromium-") as profile:
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--no-pdf-header-footer",
                f"--user-data-dir={profile}",
                f"--print-to-pdf={pdf}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=PDF_TIMEOUT_S,
        )
    return pdf if pdf.is_file() and pdf.stat().st_size > 0 else None
