"""The human answer of a command, rendered from its result as JSON (a dict).

One renderer for both ways a command runs: in this process (the result's `as_json()`) and
through the local service (the JSON the API returned), so the two cannot drift. Plain text,
standard library only: the thin client imports this and nothing heavier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def result_lines(data: dict[str, Any]) -> list[str]:
    """The lines a command prints on success (notes and warnings go to stderr)."""
    command = str(data.get("command") or "")
    ref = data.get("opportunity")
    if command == "opportunity.create":
        return [str(ref)] if ref else [str(data.get("message") or "")]
    if command == "sites.import":
        message = data.get("message") or f"imported {data.get('count')} sites into {ref}"
        return [str(message), *finding_lines(data)]
    if command in ("advance", "strategy"):
        lines = [f"{ref}: {data.get('message')}"]
        if command == "advance" and data.get("waiting_for"):
            lines.append(f"waiting for {data['waiting_for']}")
    elif "state" in data:
        lines = [f"{ref}: {data.get('message')}; now {data.get('state')}"]
    else:
        lines = [str(data.get("message") or "")]
    carried = data.get("carried_on") or {}
    if carried.get("waiting"):
        lines.append(f"{ref}: {carried['waiting']}")
    elif carried.get("continued"):
        lines.append(f"continued: {carried['continued']}")
    return lines


FINDINGS_SHOWN = 20
"""An import's findings printed on screen; the rest are counted (all: --problems FILE.csv)."""


def finding_lines(data: Mapping[str, Any], problems_file: str | None = None) -> list[str]:
    """An import's findings: the first `FINDINGS_SHOWN`, then how many more and where."""
    findings = data.get("findings") or []
    lines = []
    for f in findings[:FINDINGS_SHOWN]:
        where = [str(f.get("file") or "")]
        if f.get("row") is not None:
            where.append(f"row {f['row']}")
        if f.get("field"):
            where.append(f"field '{f['field']}'")
        owner = f" ({f['owner_role']})" if f.get("owner_role") else ""
        lines.append(f"{f['kind']}{owner}: {', '.join(where)}: {f['message']}")
    rest = len(findings) - FINDINGS_SHOWN
    if rest > 0:
        listed = (
            f"all {len(findings):,} in {problems_file}"
            if problems_file
            else "every one: --problems FILE.csv"
        )
        lines.append(f"… and {rest:,} more ({listed})")
    elif problems_file and findings:
        lines.append(f"all {len(findings):,} in {problems_file}")
    return lines


def note_lines(data: dict[str, Any]) -> list[str]:
    """Notes and warnings of a result, for stderr."""
    notes = [f"note: {note}" for note in data.get("notes") or []]
    return notes + [f"warning: {warning}" for warning in data.get("warnings") or []]


def status_lines(data: dict[str, Any]) -> list[str]:
    """`bid status`: state, step owner, next actions and what blocks the next step."""
    lines = [
        f"{data['ref']} {data['title']} — {data['account']} ({data['tier']})",
        f"state: {data['state']}   deadline: {data['submission_deadline']}",
        f"step owner: {data['step_owner']}   sites: {data['sites']}",
    ]
    version = data.get("version")
    if version:
        line = f"version: {version['number']} ({version['reason']}, {version['created_at'][:10]})"
        held = data.get("submitted_version")
        if held:
            line += (
                f" · the customer holds version {held['number']}"
                f" (submitted {str(held['submitted_at'])[:10]})"
            )
        lines.append(line)
    lines += [f"next: {action}" for action in data.get("next_actions") or []]
    for criterion in data.get("exit_criteria") or []:
        mark = "done" if criterion["holds"] else "open"
        lines.append(f"{mark}: {criterion['text']}")
    lines += [f"blocked: {block}" for block in data.get("blocked_by") or []]
    exceptions = data.get("exceptions") or {}
    if exceptions.get("open_count"):
        lines.append(
            f"exceptions: {exceptions['open_count']:,} open, {exceptions['resolved']:,} of "
            f"{exceptions['total']:,} resolved (the design freeze waits for them)"
        )
        for item in exceptions.get("open") or []:
            lines.append(f"exception ({item['owner_role']}): {item['text']}")
        more = exceptions["open_count"] - len(exceptions.get("open") or [])
        if more > 0:
            lines.append(f"exception: … and {more:,} more (bid status --json)")
    for area, state in (data.get("approvals") or {}).items():
        lines.append(f"approval {area}: {state}")
    for milestone in data.get("next_milestones") or []:
        due = str(milestone["due_at"])[:16].replace("T", " ")
        lines.append(f"milestone {milestone['name']} due {due} UTC ({milestone['owner_role']})")
    for effect in data.get("failed_effects") or []:
        again = effect.get("next_attempt_at")
        when = f"; tried again at {str(again)[:16].replace('T', ' ')} UTC" if again else ""
        lines.append(
            f"failed: {effect['kind']} after {effect['attempts']} attempt(s): "
            f"{effect.get('error') or 'no error recorded'}{when} (bid resume runs it now)"
        )
    pending = data.get("pending_effects") or []
    if pending:
        kinds = ", ".join(sorted({str(e["kind"]) for e in pending}))
        lines.append(f"pending: {len(pending)} effect(s) of the last change ({kinds})")
    return lines


def list_lines(rows: Sequence[dict[str, Any]], width: int) -> list[str]:
    """`bid list`: a line per bid, the last column cut to the terminal's width.

    For long lists (a thousand bids): a line per bid reads and greps well, and it is drawn in
    milliseconds where a wrapped table takes a second.
    """
    columns = ["id", "state", "deadline", "tier", "account", "title"]
    keys = ["id", "state", "submission_deadline", "tier", "account", "title"]
    cells = [[_one_line(row.get(key)) for key in keys] for row in rows]
    widths = [
        min(40, max([len(column), *(len(row[i]) for row in cells)]))
        for i, column in enumerate(columns)
    ]
    out = []
    for row in [list(columns), *cells]:
        parts = [text[: widths[i]].ljust(widths[i]) for i, text in enumerate(row[:-1])]
        line = "  ".join([*parts, row[-1]])
        out.append(line if len(line) <= width else line[: max(width - 1, 0)] + "…")
    out.append(f"{len(rows)} bid{'s' if len(rows) != 1 else ''}")
    return out


def _one_line(value: Any) -> str:
    text = "" if value is None else str(value)
    return " ".join(text.split())


_UNKNOWN_PERSON = "no person with e-mail "


def with_hint(line: str) -> str:
    """A refusal line with what to do next where `bid` knows it: a person nobody added yet
    is added by an admin (`bid people add EMAIL --name NAME`)."""
    where = line.find(_UNKNOWN_PERSON)
    if where < 0 or "bid people add" in line:
        return line
    email = line[where + len(_UNKNOWN_PERSON) :].split()[0].rstrip(".,;")
    return f"{line} (an admin adds them: bid people add {email} --name 'Their Name')"


def outbox_lines(messages: Sequence[dict[str, Any]], width: int = 80) -> list[str]:
    """The outbox for a terminal of `width` columns: per message, a head line (id, bid,
    event, recipient, sent or pending) and its text wrapped and indented below it."""
    import textwrap

    if not messages:
        return ["the outbox is empty"]
    width = max(width, 40)
    lines = [f"Outbox: {len(messages)} message(s), {_pending(messages)} pending"]
    for message in messages:
        sent = "sent " + str(message["sent_at"])[:16] if message.get("sent_at") else "pending"
        head = " · ".join(
            str(part)
            for part in (
                f"#{message['id']}",
                message.get("opportunity") or "-",
                message["event"],
                f"to {message.get('recipient') or '-'}",
                sent,
            )
        )
        lines.append("")
        lines.extend(textwrap.wrap(_one_line(head), width, subsequent_indent="  "))
        text = _one_line(message.get("text") or "")
        lines.extend(textwrap.wrap(text, width, initial_indent="    ", subsequent_indent="    "))
        if message.get("last_error"):
            error = _one_line(f"last error: {message['last_error']}")
            lines.extend(
                textwrap.wrap(error, width, initial_indent="    ", subsequent_indent="    ")
            )
    return lines


def _pending(messages: Sequence[dict[str, Any]]) -> int:
    return sum(1 for message in messages if not message.get("sent_at"))
