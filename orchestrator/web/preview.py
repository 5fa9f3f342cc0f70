"""A bid's documents previewed in the browser: the .docx converted to PDF on demand.

    GET /bids/{ref}/preview/{name}   a page with the PDF embedded and the file to download
    GET /bids/{ref}/pdf/{name}       the PDF itself (inline)

The conversion is LibreOffice's (`documents.pdf.convert_to_pdf`), run the first time a
document is previewed and kept in the bid's output folder under `preview/<digest>/`, where
the digest is the .docx's content hash: a document rendered from a new version gets a new
preview, the same version is converted once. Conversions run one at a time (LibreOffice is
heavy and two on one profile collide). When it fails — LibreOffice missing, a broken file —
the page says why in one line and offers the .docx to download. Only a person who may see
the bid's files (its team, an organisation role) gets either.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse

from orchestrator.context import Context
from orchestrator.errors import NotFound, PdfUnavailable
from orchestrator.store.models import Person
from orchestrator.text import one_line
from orchestrator.web import queries as q

PREVIEW_FOLDER = "preview"
CONVERTIBLE = (".docx", ".xlsx")
_converting = threading.Lock()


def cached_pdf(ctx: Context, ref: str, name: str, person: Person) -> Path:
    """The PDF of the bid's document `name` (converted now, or the one kept from before).
    `NotPermitted`/`NotFound` as for a download; `PdfUnavailable` when it cannot be made."""
    source = q.bid_file(ctx, ref, name, person)
    if source.suffix.lower() == ".pdf":
        return source
    if source.suffix.lower() not in CONVERTIBLE:
        raise NotFound(f"{name[:80]} is not a document that previews as a PDF")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    folder = ctx.output_dir_for(ref) / PREVIEW_FOLDER / digest
    target = folder / (source.stem + ".pdf")
    if target.is_file():
        return target
    from orchestrator.documents.pdf import convert_to_pdf

    with _converting:
        if target.is_file():  # converted while this request waited
            return target
        folder.mkdir(parents=True, exist_ok=True)
        work = folder / source.name
        shutil.copyfile(source, work)
        try:
            convert_to_pdf([work])
        finally:
            work.unlink(missing_ok=True)
    if not target.is_file():  # pragma: no cover - convert_to_pdf raises first
        raise PdfUnavailable(f"LibreOffice wrote no PDF for {name}")
    return target


def add(
    app: FastAPI,
    *,
    context: Callable[[], Context],
    render: Callable[..., HTMLResponse],
    signed_in: Callable[[Request], Person],
) -> None:
    """Add the preview page and the PDF to the workspace `app`."""

    @app.get("/bids/{ref}/preview/{name}", response_class=HTMLResponse)
    def preview(request: Request, ref: str, name: str) -> HTMLResponse:
        person = signed_in(request)
        ctx = context()
        source = q.bid_file(ctx, ref, name, person)
        reason = None
        try:
            cached_pdf(ctx, ref, name, person)
        except PdfUnavailable as failed:
            reason = one_line(str(failed))
        from orchestrator.bid.reports.queries import status

        bid = status(ctx, ref)
        return render(
            request,
            "preview.html",
            {"bid": bid, "name": source.name, "reason": reason, "pdf_name": source.name},
            status=200,
        )

    @app.get("/bids/{ref}/pdf/{name}")
    def pdf(request: Request, ref: str, name: str) -> FileResponse:
        person = signed_in(request)
        path = cached_pdf(context(), ref, name, person)
        response = FileResponse(
            path,
            media_type="application/pdf",
            filename=path.name,
            content_disposition_type="inline",
        )
        # the preview page embeds it: framing by this site only, and nothing else loads
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'self'"
        return response
