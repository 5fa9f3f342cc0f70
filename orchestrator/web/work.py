"""The workspace's pages for a bid's production work: the questionnaire and the quotes.

    GET  /bids/{ref}/questionnaire              requirements by section, owner, state and the
                                                library's suggestions with their scores
    POST /bids/{ref}/questionnaire/{req}        edit-then-accept one answer (`rfp.answer`)
    POST /bids/{ref}/questionnaire/{req}/assign  make a team member its owner (`rfp.assign`)
    POST /bids/{ref}/questionnaire/{req}/review  accept an answer, or reject it with a reason
                                                (`rfp.review`)
    POST /bids/{ref}/questionnaire-suggestions  accept every suggestion above a score
    GET  /bids/{ref}/quotes                     the QRFs per country and provider
    POST /bids/{ref}/quotes                     a returned QRF (.csv/.xlsx) through `quotes.import`
    POST /bids/{ref}/qrf                        write and record the QRFs (`qrf`)
    POST /bids/{ref}/exceptions/{site}/quote    an outlier quote: use it with a reason
                                                (`quotes.accept`) or ask again (`quotes.requote`)
    POST /bids/{ref}/exceptions/{site}/design   a site exception: propose another access
                                                (`design.propose`: access, bandwidth, reason)

Each action builds the command the CLI would (`bid rfp answer`, `bid rfp suggest`, `bid quotes
import`, `bid qrf`) and hands it to `run`, the app's one call of `dispatch`. An answer whose
text is the suggested library answer, unedited, is recorded as that library answer (so the
library's use is counted); an edited one as our own text. A returned QRF is checked before
the command sees it (`uploads.check_returned_qrf`: what it claims to be, no formulas, an
.xlsx read as values); the import takes every row or none, so a file with problems shows
them row by row on the page and nothing is saved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, get_args
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.core.intake_commands import ACCESS as DESIGN_ACCESS
from orchestrator.errors import BidError, InputError, InputErrors, NotPermitted
from orchestrator.store.models import Compliance, Person
from orchestrator.web import queries as q
from orchestrator.web.pages import validation_line
from orchestrator.web.uploads import check_returned_qrf, problem_lines

Render = Callable[..., HTMLResponse]
FILTERS = ("all", "mine", "mandatory_open")
SUGGESTIONS_SHOWN = 3
COMPLIANCE = tuple(item.value for item in Compliance)
ACCESS: tuple[str, ...] = get_args(DESIGN_ACCESS)
"""The accesses a design may propose (`design.propose`'s own list)."""


def _field(form: FormData, key: str) -> str | None:
    value = form.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _same_text(left: str, right: str) -> bool:
    """The text was not edited (line endings and surrounding blanks aside)."""

    def norm(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n"))

    return norm(left) == norm(right)


def add(
    app: FastAPI,
    *,
    context: Callable[[], Context],
    render: Render,
    signed_in: Callable[[Request], Person],
    form_of: Callable[[Request], Awaitable[FormData]],
    run: Callable[[c.Command, Person], c.Result],
    flash: Callable[..., None],
) -> None:
    """Add the questionnaire and quotes pages to the workspace `app`."""

    def questionnaire_url(ref: str, anchor: str = "", show: str = "") -> RedirectResponse:
        query = f"?show={quote(show)}" if show in FILTERS and show != "all" else ""
        fragment = f"#{quote(anchor)}" if anchor else ""
        return RedirectResponse(f"/bids/{quote(ref)}/questionnaire{query}{fragment}", 303)

    def send(
        request: Request,
        person: Person,
        label: str,
        back: RedirectResponse,
        build: Callable[[], c.Command],
        done: str,
    ) -> RedirectResponse:
        """Send one command built from a form; a refusal is one line on the page, prefixed
        with `label` (the requirement or site it concerns), and nothing changed."""
        try:
            result = run(build(), person)
        except ValidationError as invalid:
            flash(request, "error", f"{label}: {validation_line(invalid)}")
            return back
        except NotPermitted:
            raise
        except BidError as refused:
            flash(request, "error", f"{label}: {refused}")
            return back
        flash(request, "ok", result.message or f"{label} {done}", list(result.notes))
        return back

    @app.get("/bids/{ref}/questionnaire", response_class=HTMLResponse)
    def questionnaire(request: Request, ref: str, show: str = "all") -> HTMLResponse:
        from orchestrator.bid.answers.rfp import rfp_status, suggestions

        person = signed_in(request)
        ctx = context()
        coverage = rfp_status(ctx, ref)
        chosen = show if show in FILTERS else "all"
        mine = q.team_roles_of(ctx, coverage.ref, person)
        rows = list(coverage.requirements)
        if chosen == "mine":
            rows = [r for r in rows if r["owner_role"] in mine]
        elif chosen == "mandatory_open":
            rows = [r for r in rows if r["mandatory"] and not r["answer"]]
        wanted = {r["id"] for r in rows if not r["answer"]}
        offered = {
            s.req_id: list(s.suggestions[:SUGGESTIONS_SHOWN])
            for s in suggestions(ctx, coverage.ref, limit=SUGGESTIONS_SHOWN)
            if s.req_id in wanted
        }
        library = q.library_entries(ctx, {s.answer_id for found in offered.values() for s in found})
        owners: dict[str, list[str]] = {}
        team = q.team_of(ctx, coverage.ref)
        for member in team:
            owners.setdefault(member["role"], []).append(member["name"])
        people = {m["email"]: m["name"] for m in team}  # whom a requirement can be assigned to
        sections: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            sections.setdefault(row["section"] or "(no section)", []).append(row)
        return render(
            request,
            "questionnaire.html",
            {
                "ref": coverage.ref,
                "coverage": coverage,
                "sections": sections,
                "offered": offered,
                "library": library,
                "show": chosen,
                "mine": sorted(mine),
                "owners": {role: ", ".join(names) for role, names in owners.items()},
                "compliance": COMPLIANCE,
                "people": sorted(people.items(), key=lambda item: (item[1], item[0])),
            },
        )

    @app.post("/bids/{ref}/questionnaire/{requirement}")
    async def answer(request: Request, ref: str, requirement: str) -> Response:
        person = signed_in(request)
        form = await form_of(request)
        show = _field(form, "show") or ""
        library = _field(form, "library")
        text = _field(form, "text")
        if library is not None and text is not None:
            entry = q.library_entries(context(), {library}).get(library)
            if entry is not None and _same_text(entry["answer"], text):
                text = None  # accepted as suggested: the library answer itself
            else:
                library = None  # edited: our own text
        return send(
            request,
            person,
            requirement,
            questionnaire_url(ref, f"r-{requirement}", show),
            lambda: c.AnswerRequirement.model_validate(
                {
                    "opportunity": ref,
                    "requirement": requirement,
                    "library": library,
                    "text": text,
                    "compliance": _field(form, "compliance"),
                    "clear": form.get("clear") == "yes",
                }
            ),
            "answered",
        )

    def rfp_action(
        request: Request,
        person: Person,
        ref: str,
        requirement: str,
        show: str,
        build: Callable[[], c.Command],
    ) -> RedirectResponse:
        """Send one requirement's command; a refusal is one line on the page, at the
        requirement, and nothing changed."""
        back = questionnaire_url(ref, f"r-{requirement}", show)
        return send(request, person, requirement, back, build, "done")

    @app.post("/bids/{ref}/questionnaire/{requirement}/assign")
    async def assign(request: Request, ref: str, requirement: str) -> Response:
        person = signed_in(request)
        form = await form_of(request)
        to = _field(form, "to") or ""
        if not to:
            flash(request, "error", f"{requirement}: choose the person who answers it")
            return questionnaire_url(ref, f"r-{requirement}", _field(form, "show") or "")
        return rfp_action(
            request,
            person,
            ref,
            requirement,
            _field(form, "show") or "",
            lambda: c.AssignRequirement.model_validate(
                {"opportunity": ref, "requirement": requirement, "to": to}
            ),
        )

    @app.post("/bids/{ref}/questionnaire/{requirement}/review")
    async def review(request: Request, ref: str, requirement: str) -> Response:
        person = signed_in(request)
        form = await form_of(request)
        show = _field(form, "show") or ""
        reject = form.get("verdict") == "reject"
        reason = _field(form, "reason") if reject else None
        if reject and reason is None:
            flash(request, "error", f"{requirement}: a rejection needs a reason (what to change)")
            return questionnaire_url(ref, f"r-{requirement}", show)
        return rfp_action(
            request,
            person,
            ref,
            requirement,
            show,
            lambda: c.ReviewRequirement.model_validate(
                {
                    "opportunity": ref,
                    "requirement": requirement,
                    "reject": reject,
                    "reason": reason,
                    "save_to_library": not reject and form.get("save_to_library") == "yes",
                }
            ),
        )

    @app.post("/bids/{ref}/questionnaire-suggestions")
    async def accept_all(request: Request, ref: str) -> Response:
        person = signed_in(request)
        form = await form_of(request)
        try:
            command = c.AcceptSuggestions.model_validate(
                {"opportunity": ref, "min_score": _field(form, "min_score") or ""}
            )
            result = run(command, person)
        except ValidationError:
            flash(request, "error", "min_score: give a score from 0 to 200")
            return questionnaire_url(ref)
        except NotPermitted:
            raise
        except BidError as refused:
            flash(request, "error", str(refused))
            return questionnaire_url(ref)
        flash(request, "ok", result.message or "suggestions accepted")
        return questionnaire_url(ref)

    def quotes_page(
        request: Request,
        ref: str,
        problems: list[str] | None = None,
        error: str | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        from orchestrator.bid.reports.queries import status as bid_status

        ctx = context()
        bid = bid_status(ctx, ref)
        return render(
            request,
            "quotes.html",
            {
                "bid": bid,
                "ref": bid.ref,
                "requests": q.quote_requests(ctx, bid.ref),
                "imports": q.quote_imports(ctx, bid.ref),
                "exceptions": q.intake_exceptions(ctx, bid.ref),
                "access": ACCESS,
                "problems": problems or [],
                "error": error,
            },
            status=status,
        )

    @app.get("/bids/{ref}/quotes", response_class=HTMLResponse)
    def quotes(request: Request, ref: str) -> HTMLResponse:
        signed_in(request)
        return quotes_page(request, ref)

    @app.post("/bids/{ref}/quotes", response_class=HTMLResponse)
    async def upload_quotes(request: Request, ref: str) -> Response:
        person = signed_in(request)
        form = await form_of(request)
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return quotes_page(request, ref, error="Choose the returned QRF (.csv or .xlsx).")
        name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1] or "quotes.csv"
        content = await upload.read()
        summary = f"{name}: nothing was saved; fix the file and send it again"
        try:
            carried, data = check_returned_qrf(name, content)
            result = run(
                c.ImportQuotes(opportunity=ref, file=c.FileUpload.of(carried, data)), person
            )
        except InputError as refused:
            return quotes_page(request, ref, problem_lines(refused), summary, 400)
        except ValidationError:
            return quotes_page(request, ref, [], f"{name}: not a file the import can take", 400)
        except NotPermitted:
            raise
        except BidError as refused:
            return quotes_page(request, ref, [], f"{name}: {refused}", 400)
        notes = list(result.notes)
        if isinstance(result, c.QuotesImported) and result.margin_after_pct is not None:
            notes.append(f"margin now {result.margin_after_pct:.1f}%")
        flash(request, "ok", result.message or "quotes imported", notes)
        return RedirectResponse(f"/bids/{quote(ref)}/quotes", status_code=303)

    @app.post("/bids/{ref}/qrf")
    async def send_qrfs(request: Request, ref: str) -> Response:
        person = signed_in(request)
        await form_of(request)
        try:
            result = run(c.SendQuoteRequests(opportunity=ref), person)
        except NotPermitted:
            raise
        except BidError as refused:
            lines = refused.lines() if isinstance(refused, InputErrors) else []
            flash(request, "error", str(refused), lines)
            return RedirectResponse(f"/bids/{quote(ref)}/quotes", status_code=303)
        flash(request, "ok", result.message or "QRFs written", list(result.notes))
        return RedirectResponse(f"/bids/{quote(ref)}/quotes", status_code=303)

    def exception_action(
        request: Request, person: Person, ref: str, site: str, build: Callable[[], c.Command]
    ) -> RedirectResponse:
        """Send one exception's command; a refusal is one line on the quotes page and
        nothing changed."""
        back = RedirectResponse(f"/bids/{quote(ref)}/quotes#x-{quote(site)}", status_code=303)
        return send(request, person, site[:64], back, build, "done")

    @app.post("/bids/{ref}/exceptions/{site}/quote")
    async def decide_quote(request: Request, ref: str, site: str) -> Response:
        person = signed_in(request)
        form = await form_of(request)
        reason = _field(form, "reason")
        verdict = form.get("verdict")
        if verdict == "accept" and reason is None:
            flash(request, "error", f"{site[:64]}: using an outlier quote needs a reason")
            return RedirectResponse(f"/bids/{quote(ref)}/quotes#x-{quote(site)}", 303)
        if verdict not in ("accept", "requote"):
            flash(request, "error", f"{site[:64]}: choose to use the quote or to ask again")
            return RedirectResponse(f"/bids/{quote(ref)}/quotes#x-{quote(site)}", 303)
        kind = c.AcceptQuote if verdict == "accept" else c.RequoteSite
        return exception_action(
            request,
            person,
            ref,
            site,
            lambda: kind.model_validate({"opportunity": ref, "site": site, "reason": reason}),
        )

    @app.post("/bids/{ref}/exceptions/{site}/design")
    async def propose_access(request: Request, ref: str, site: str) -> Response:
        person = signed_in(request)
        form = await form_of(request)
        back = RedirectResponse(f"/bids/{quote(ref)}/quotes#x-{quote(site)}", 303)
        access, reason = _field(form, "access"), _field(form, "reason")
        bandwidth = _field(form, "bandwidth")
        missing = [name for name, value in (("access", access), ("reason", reason)) if not value]
        if missing:
            flash(request, "error", f"{site[:64]}: a proposed access needs {' and '.join(missing)}")
            return back
        if bandwidth is not None and not bandwidth.isdigit():
            flash(request, "error", f"{site[:64]}: bandwidth: give Mbit/s as a whole number")
            return back
        return exception_action(
            request,
            person,
            ref,
            site,
            lambda: c.ProposeDesign.model_validate(
                {
                    "opportunity": ref,
                    "site": site,
                    "access": access,
                    "bandwidth": int(bandwidth) if bandwidth else None,
                    "reason": reason,
                }
            ),
        )
