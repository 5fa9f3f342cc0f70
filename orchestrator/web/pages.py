"""The workspace's bid pages: the list, a bid, a new bid, the approvals inbox, and the buttons
that send the pipeline's commands (advance, decide, freeze, result, withdraw, approve).

Each action builds the typed command from the form and hands it to `run` (the app's one
call of `dispatch`); a refusal comes back as the bid layer's one line, shown on the page the
person came from. Nothing here writes to the database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.decisions.funnel_rules import reason_categories
from orchestrator.decisions.offer_rules import strategy_names
from orchestrator.errors import BidError, InputError, InputErrors, NotPermitted
from orchestrator.lifecycle.table import State
from orchestrator.store.models import Person
from orchestrator.text import one_line
from orchestrator.web import forms
from orchestrator.web import queries as q
from orchestrator.web.uploads import check_csv, dry_read_sites, problem_lines

Render = Callable[..., HTMLResponse]

ACTIONS = ("advance", "decide", "freeze", "submit", "result", "hold", "resume", "withdraw")
STATES = tuple(s.value for s in State)


def validation_line(error: ValidationError) -> str:
    """A form's first invalid field as one line ("field: what is wrong")."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _text(form: FormData, key: str) -> str | None:
    value = form.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def action_command(action: str, ref: str, form: FormData) -> c.Command:
    """The command a bid page's button sends (`ValidationError` for a bad form)."""
    if action == "advance":
        return c.Advance(opportunity=ref)
    if action == "decide":
        return c.Decide(
            opportunity=ref,
            outcome=_text(form, "outcome") or "",
            reason=_text(form, "reason") or "",
            category=_text(form, "category"),
        )
    if action == "freeze":
        return c.FreezeDesign(opportunity=ref, note=_text(form, "note"))
    if action == "submit":
        return c.SubmitOffer.model_validate(
            {
                "opportunity": ref,
                "channel": _text(form, "channel") or "",
                "reference": _text(form, "reference") or "",
                "at": _text(form, "at"),
            }
        )
    if action == "hold":
        return c.HoldBid.model_validate(
            {
                "opportunity": ref,
                "reason": _text(form, "reason") or "",
                "until": _text(form, "until"),
            }
        )
    if action == "resume":
        return c.ResumeBid(opportunity=ref)
    if action == "result":
        gap = _text(form, "price_gap")
        return c.RecordResult.model_validate(
            {
                "opportunity": ref,
                "outcome": _text(form, "outcome") or "",
                "reason": _text(form, "reason"),
                "category": _text(form, "category"),
                "competitor": _text(form, "competitor"),
                "price_gap": gap,
                "deadline": _text(form, "deadline"),
            }
        )
    return c.Withdraw.model_validate(
        {
            "opportunity": ref,
            "reason": _text(form, "reason") or "",
            "category": _text(form, "category") or "",
            "wake_up": _text(form, "wake_up"),
        }
    )


def add(
    app: FastAPI,
    *,
    context: Callable[[], Context],
    render: Render,
    signed_in: Callable[[Request], Person],
    form_of: Callable[[Request], Awaitable[FormData]],
    run: Callable[[c.Command, Person], c.Result],
    flash: Callable[..., None],
    back_to: Callable[[str], RedirectResponse],
    prefect_url: str,
) -> None:
    """Add the bid pages to the workspace `app`."""

    @app.get("/bids", response_class=HTMLResponse)
    def bid_list(
        request: Request, scope: str = "mine", state: str = "", search: str = ""
    ) -> HTMLResponse:
        person = signed_in(request)
        chosen = state if state in STATES else ""
        mine = scope != "all"
        rows = q.list_rows(context(), person, mine=mine, state=chosen or None, search=search)
        values = {
            "rows": rows,
            "scope": "mine" if mine else "all",
            "state": chosen,
            "search": search,
            "states": STATES,
            "labels": q.STEP_LABELS,
        }
        if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "bid-rows":
            return render(request, "_bid_rows.html", values)
        return render(request, "bids.html", values)

    @app.get("/bids/new", response_class=HTMLResponse)
    def new_bid_page(request: Request) -> HTMLResponse:
        person = signed_in(request)
        defaults = {
            "team_bid_manager": person.email,
            "source": "rfp",
            "currency": "EUR",
            "strategic_fit": "medium",
        }
        return _new_form(request, person, defaults, [], None)

    def _new_form(
        request: Request,
        person: Person,
        values: dict[str, Any],
        problems: list[str],
        error: str | None,
        status: int = 200,
    ) -> HTMLResponse:
        return render(
            request,
            "new_bid.html",
            {
                "values": values,
                "services_chosen": values.get("services", ["managed_network"]),
                "people": q.people_to_pick(context()),
                "roles": forms.TEAM_ROLES,
                "tiers": forms.TIERS,
                "sources": forms.SOURCES,
                "services": forms.SERVICES,
                "authorities": forms.AUTHORITIES,
                "needs": forms.NEEDS,
                "fits": forms.FIT,
                "strategies": strategy_names(context().settings.rules_dir),
                "problems": problems,
                "error": error,
            },
            status=status,
        )

    @app.post("/bids/new", response_class=HTMLResponse)
    async def new_bid(request: Request) -> Response:
        person = signed_in(request)
        form = await form_of(request)
        values: dict[str, Any] = {
            k: v for k, v in form.multi_items() if isinstance(v, str) and k != "csrf"
        }
        services = [str(s) for s in form.getlist("services") if isinstance(s, str)]
        values["services"] = services
        upload = form.get("sites")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _new_form(request, person, values, [], "Choose the site list (.csv).", 400)
        name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1] or "sites.csv"
        content = await upload.read()
        ctx = context()
        try:
            check_csv(name, content)
            warnings = dry_read_sites(ctx.settings.rules_dir, name, content)
        except InputError as refused:
            lines = problem_lines(refused)
            summary = f"{name}: nothing was saved; fix the file and send it again"
            return _new_form(request, person, values, lines, summary, 400)
        yaml_file = c.FileUpload.of(forms.FORM_NAME, forms.opportunity_yaml(values, services))
        try:
            created = run(c.CreateOpportunity(file=yaml_file), person)
        except InputErrors as refused:
            lines = [_form_line(p) for p in refused.problems]
            return _new_form(request, person, values, lines, "The bid was not created.", 400)
        except InputError as refused:
            return _new_form(request, person, values, [_form_line(refused)], None, 400)
        except NotPermitted as refused:
            return _new_form(request, person, values, [], one_line(str(refused)), 403)
        ref = created.opportunity or ""
        try:
            imported = run(
                c.ImportSites(opportunity=ref, file=c.FileUpload.of(name, content)), person
            )
        except BidError as refused:
            flash(
                request, "error", f"{ref} was created, but its sites were not imported: {refused}"
            )
            return back_to(ref)
        notes = [*created.notes, *warnings]
        flash(request, "ok", f"{created.message}; {imported.message}", notes)
        return back_to(ref)

    @app.get("/bids/{ref}", response_class=HTMLResponse)
    def bid_page(request: Request, ref: str) -> HTMLResponse:
        from orchestrator.bid.reports.queries import history, status

        person = signed_in(request)
        ctx = context()
        bid = status(ctx, ref)
        trail = list(reversed(history(ctx, bid.ref)))
        may_files = q.may_see_files(ctx, bid.ref, person)
        return render(
            request,
            "bid.html",
            {
                "bid": bid,
                "steps": q.stage_path(ctx, bid.ref),
                "team": q.team_of(ctx, bid.ref),
                "trail": trail[:50],
                "trail_more": max(0, len(trail) - 50),
                "files": list(q.bid_files(ctx, bid.ref)) if may_files else [],
                "may_files": may_files,
                "actions": _actions_for(bid.state),
                "inbox": q.inbox_of_bid(ctx, bid.ref, person),
                "prefect_runs": f"{prefect_url.rstrip('/')}/runs",
                "label": q.STEP_LABELS.get(bid.state, bid.state.replace("_", " ")),
                "categories": reason_categories(ctx.settings.rules_dir),
            },
        )

    @app.post("/bids/{ref}/{action}")
    async def bid_action(request: Request, ref: str, action: str) -> Response:
        person = signed_in(request)
        form = await form_of(request)
        if action not in ACTIONS:
            return render(request, "error.html", {"message": f"no action {action[:40]!r}"}, 404)
        try:
            command = action_command(action, ref, form)
        except ValidationError as invalid:
            flash(request, "error", f"{action}: {validation_line(invalid)}")
            return back_to(ref)
        try:
            result = run(command, person)
        except NotPermitted:
            raise
        except BidError as refused:
            lines = refused.lines() if isinstance(refused, InputErrors) else []
            flash(request, "error", str(refused), lines)
            return back_to(ref)
        carried = result.carried_on if isinstance(result, c.Moved) else None
        continued = (carried.continued or carried.waiting) if carried else None
        extra = [f"then: {continued}"] if continued else []
        moved = not isinstance(result, c.Moved) or result.moved
        kind = "ok" if moved else "info"
        flash(request, kind, result.message or f"{action} done", [*result.notes, *extra])
        return back_to(result.opportunity or ref)

    @app.get("/approvals", response_class=HTMLResponse)
    def approvals(request: Request) -> HTMLResponse:
        from orchestrator.bid.reports.queries import approval_view

        person = signed_in(request)
        ctx = context()
        rows = q.inbox(ctx, person)
        refs = sorted({row["ref"] for row in rows})
        views = {ref: approval_view(ctx, ref) for ref in refs}
        files = {
            ref: list(q.bid_files(ctx, ref)) if q.may_see_files(ctx, ref, person) else []
            for ref in refs
        }
        decides = {
            f"{row['ref']}/{row['area']}": area_view(views[row["ref"]], row["area"]) for row in rows
        }
        return render(
            request,
            "approvals.html",
            {"rows": rows, "views": views, "files": files, "decides": decides},
        )

    @app.post("/approvals/{ref}/{area}")
    async def decide_approval(request: Request, ref: str, area: str) -> Response:
        person = signed_in(request)
        form = await form_of(request)
        ctx = context()
        if not q.may_decide(ctx, ref, area, person):
            return render(
                request,
                "error.html",
                {"message": f"{person.email} has no pending {area[:20]} approval on {ref[:32]}"},
                403,
            )
        reject = form.get("verdict") == "reject"
        try:
            command = c.Approve.model_validate(
                {
                    "opportunity": ref,
                    "area": area,
                    "reject": reject,
                    "reason": _text(form, "reason"),
                    "version": _text(form, "version"),
                    "request_id": _text(form, "request_id"),
                    "fingerprint": _text(form, "fingerprint"),
                }
            )
        except ValidationError as invalid:
            flash(request, "error", validation_line(invalid))
            return RedirectResponse("/approvals", status_code=303)
        try:
            result = run(command, person)
        except NotPermitted:
            raise
        except BidError as refused:
            flash(request, "error", str(refused))
            return RedirectResponse("/approvals", status_code=303)
        verdict = "rejected" if reject else "approved"
        flash(request, "ok", f"{ref} {area}: {verdict} — {result.message}")
        return RedirectResponse("/approvals", status_code=303)


AREA_TITLES = {"technical": "Technical", "financial": "Financial", "legal": "Legal"}


def area_view(summary: dict[str, Any], area: str) -> dict[str, Any]:
    """What the approver of `area` decides on, in the words `bid approval show --area` and
    Slack's `area_blocks` use (`core.approval_views`): the flags that must stand out (budget
    above BANTS, quotes ending before the offer, loss-making lines…) and the area's lines
    (management: all three views), as {"flags": [...], "sections": [(title, lines)]}."""
    from orchestrator.core.approval_views import AREAS, for_area, section_lines, sections_of

    if area not in AREAS or not isinstance(summary.get("areas"), dict):
        return {"flags": [], "sections": []}
    view = for_area(summary, area)
    sections = [(AREA_TITLES[name], section_lines(name, view[name])) for name in sections_of(area)]
    return {"flags": list(view["flags"]), "sections": sections}


def _form_line(problem: InputError) -> str:
    """A problem of the form's YAML by its field (the YAML's lines mean nothing to a form)."""
    if problem.field:
        return f"{problem.field}: {problem.detail}"
    return problem.detail


def _actions_for(state: str) -> list[str]:
    """Which buttons the bid page offers in this state (the pipeline still decides)."""
    ends = {"no_bid", "lost", "contracted", "withdrawn"}
    if state in ends:
        return []
    shown = ["advance"]
    if state == "qualification":
        shown.append("decide")
    if state == "bid_production":
        shown.append("freeze")
    if state == "submission":
        shown.append("submit")
    if state == "customer_decision":
        shown.append("result")
    shown += ["hold", "resume", "withdraw"]
    return shown
