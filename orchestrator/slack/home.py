"""The Slack App Home tab: "my approvals" and "my bids", each linking to the workspace.

Published (views.publish) when a person opens the app's Home tab (`app_home_opened`). The
lists are `orchestrator.bid.reports.inbox`'s — the same approvals the workspace's inbox shows and
the same bids its "mine" list shows; each line links to the bid's workspace page when the
workspace's address is known (BID_WORKSPACE_URL). A Slack user no admin linked to a person
sees how to get linked, and nothing else.
"""

from __future__ import annotations

from typing import Any

from orchestrator.context import Context
from orchestrator.slack.blocks import slack_escape
from orchestrator.store.models import Person

MAX_LINES = 20
_TEXT_LIMIT = 3000


def _section(text: str) -> dict[str, Any]:
    clipped = text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": clipped}}


def _bid(ref: str, title: str, workspace_url: str | None, path: str = "") -> str:
    label = f"*{ref}* {slack_escape(title)}"
    if not workspace_url:
        return label
    return f"<{workspace_url.rstrip('/')}/bids/{ref}{path}|{ref}> {slack_escape(title)}"


def home_view(ctx: Context, person: Person | None) -> dict[str, Any]:
    """The Home tab's view for `person` (None: the Slack user is linked to nobody)."""
    from orchestrator.bid.reports.inbox import open_bids, pending_approvals

    url = ctx.settings.workspace_url
    header = {"type": "header", "text": {"type": "plain_text", "text": "Bids"}}
    if person is None:
        return {
            "type": "home",
            "blocks": [
                header,
                _section(
                    "Your Slack user is not linked to a person of the bid orchestrator. "
                    "Ask an admin: `bid people set EMAIL --slack-user-id YOUR_ID`."
                ),
            ],
        }
    approvals = pending_approvals(ctx, person)[:MAX_LINES]
    bids = open_bids(ctx, person, limit=MAX_LINES)
    blocks: list[dict[str, Any]] = [header, _section("*My approvals*")]
    if approvals:
        lines = [
            f"• {_bid(a['ref'], a['title'], url)} — *{a['area']}*, asked {a['requested_at']}"
            for a in approvals
        ]
        blocks.append(_section("\n".join(lines)))
        if url:
            blocks.append(_section(f"<{url.rstrip('/')}/approvals|Decide in the workspace>"))
    else:
        blocks.append(_section("Nothing waits for you."))
    blocks.append({"type": "divider"})
    blocks.append(_section("*My bids*"))
    if bids:
        lines = [
            f"• {_bid(b['ref'], b['title'], url)} — {b['state'].replace('_', ' ')}, "
            f"due {b['submission_deadline']}"
            for b in bids
        ]
        blocks.append(_section("\n".join(lines)))
    else:
        blocks.append(_section("You are on no open bid's team."))
    return {"type": "home", "blocks": blocks}
