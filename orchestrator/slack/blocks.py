"""Block Kit for Slack: a bid's key facts, decision buttons and the reason modals.

Outbox rows keep a small marker (`{"type": "approval", "opportunity", "area",
"proposal_hash", "request", "fingerprint", "summary"}` or `{"type": "go_no_go",
"opportunity"}`); the notifier turns it into real blocks at delivery time with the bid's
current facts. An approval's summary is the deal as it was judged when the approval was
requested (`orchestrator.bid.measures.summary`). Button values carry everything the inbound door
needs to call the services (bid, area, proposal version, the approval request's id and the
fingerprint of the summary shown), so a click never depends on process memory and decides
only the request it was shown for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from orchestrator.errors import InputError

APPROVE = "approval_approve"
REJECT = "approval_reject"
GO_NO_GO_ACTIONS = {
    "go_no_go_bid": ("bid", "Bid", "primary"),
    "go_no_go_no_bid": ("no_bid", "No bid", "danger"),
    "go_no_go_redefine": ("redefine_strategy", "Redefine", None),
}
REJECT_MODAL = "approval_reject_modal"
GO_NO_GO_MODAL = "go_no_go_modal"
REASON_BLOCK = "reason"
CATEGORY_BLOCK = "category"

_TEXT_LIMIT = 3000  # a section's text
_FIELD_LIMIT = 2000  # one field of a section
_VALUE_LIMIT = 2000  # a button's value
_BLOCK_KIT_TYPES = frozenset({"section", "context", "divider", "header", "actions", "image"})


@dataclass(frozen=True)
class BidFacts:
    """What every message shows about its bid."""

    ref: str
    title: str
    account: str
    state: str
    deadline: date
    run_url: str | None = None
    page_url: str | None = None
    """The bid's page in the web workspace (BID_WORKSPACE_URL); when known, messages link
    there and not to a Prefect run or a server path."""


@dataclass(frozen=True)
class ButtonValue:
    """What a decision button carries: the bid, and the area, proposal version, approval
    request and summary fingerprint, or the go/no-go outcome."""

    ref: str
    area: str | None = None
    proposal_hash: str | None = None
    outcome: str | None = None
    request: int | None = None
    """The id of the approval request the button was sent with."""
    fingerprint: str | None = None
    """The fingerprint of the summary shown beside the button."""

    def encode(self) -> str:
        data: dict[str, str | int | None] = {
            "ref": self.ref,
            "area": self.area,
            "hash": self.proposal_hash,
            "outcome": self.outcome,
            "req": self.request,
            "fp": self.fingerprint,
        }
        text = json.dumps({k: v for k, v in data.items() if v is not None}, separators=(",", ":"))
        if len(text) > _VALUE_LIMIT:
            raise InputError(f"button value for {self.ref} is too long for Slack")
        return text

    @classmethod
    def decode(cls, text: str) -> ButtonValue:
        """Parse a button value or modal metadata; `InputError` for anything malformed."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise InputError("the Slack button carries no readable value") from exc
        if not isinstance(data, dict) or not isinstance(data.get("ref"), str):
            raise InputError("the Slack button names no opportunity")
        fields = {
            k: data.get(v)
            for k, v in (
                ("area", "area"),
                ("proposal_hash", "hash"),
                ("outcome", "outcome"),
                ("fingerprint", "fp"),
            )
        }
        if any(v is not None and not isinstance(v, str) for v in fields.values()):
            raise InputError("the Slack button value is malformed")
        request = data.get("req")
        if request is not None and (
            isinstance(request, bool) or not isinstance(request, int) or not 0 < request < 2**31
        ):
            raise InputError("the Slack button names no approval request")
        return cls(ref=data["ref"], request=request, **fields)


def slack_escape(value: object) -> str:
    """Slack mrkdwn treats &, < and > as control characters; user text must not link or ping."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str, limit: int = _TEXT_LIMIT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _clip(text, limit)}


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text, limit), "emoji": False}


def _button(action_id: str, label: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": _plain(label),
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def facts_block(facts: BidFacts) -> dict[str, Any]:
    fields = [
        ("Bid", facts.ref),
        ("Title", slack_escape(facts.title)),
        ("Account", slack_escape(facts.account)),
        ("State", facts.state.replace("_", " ")),
        ("Deadline", facts.deadline.isoformat()),
    ]
    return {
        "type": "section",
        "fields": [_mrkdwn(f"*{name}*\n{value}", _FIELD_LIMIT) for name, value in fields],
    }


def approval_actions(
    ref: str,
    area: str,
    proposal_hash: str | None,
    request: int | None = None,
    fingerprint: str | None = None,
) -> dict[str, Any]:
    value = ButtonValue(
        ref=ref, area=area, proposal_hash=proposal_hash, request=request, fingerprint=fingerprint
    ).encode()
    return {
        "type": "actions",
        "block_id": f"approval:{ref}:{area}",
        "elements": [
            _button(APPROVE, "Approve", value, "primary"),
            _button(REJECT, "Reject", value, "danger"),
        ],
    }


def _pct(value: Any) -> str:
    return "—" if value is None else f"{float(value):.2f}%"


_AREA_TITLES = {"technical": "Technical", "financial": "Financial", "legal": "Legal"}
_MAX_AREA_BLOCKS = 12
"""Sections one area may fill (management's three views stay well under Slack's 50 blocks)."""


def area_blocks(summary: dict[str, Any], area: str) -> list[dict[str, Any]]:
    """What the approver of `area` decides on (`bid.approval_summary`): the flags that must
    stand out, then the area's lines (management: all three views), in sections of at most
    3,000 characters."""
    from orchestrator.core.approval_views import AREAS, for_area, section_lines, sections_of

    if area not in AREAS or not isinstance(summary.get("areas"), dict):
        return []
    view = for_area(summary, area)
    blocks: list[dict[str, Any]] = []
    if view["flags"]:
        text = "\n".join(f":warning: *{slack_escape(flag)}*" for flag in view["flags"])
        blocks.append({"type": "section", "text": _mrkdwn(text)})
    for name in sections_of(area):
        chunk = f"*{_AREA_TITLES[name]}*"
        for label, line in section_lines(name, view[name]):
            row = f"\n• *{slack_escape(label)}*: {slack_escape(line)}"
            if len(chunk) + len(row) > _TEXT_LIMIT:
                blocks.append({"type": "section", "text": _mrkdwn(chunk)})
                chunk = f"*{_AREA_TITLES[name]}* (continued)"
            chunk += _clip(row, _TEXT_LIMIT - len(chunk))
        blocks.append({"type": "section", "text": _mrkdwn(chunk)})
    return blocks[:_MAX_AREA_BLOCKS]


def summary_blocks(
    summary: dict[str, Any], area: str | None = None, page_url: str | None = None
) -> list[dict[str, Any]]:
    """What the approver decides on: value, margin vs floor, coverage, discount, deviations,
    risks, the documents and the version the approval binds to (from the request's summary),
    then what the approver of `area` in particular reads (`area_blocks`). With the bid's
    workspace page known, the documents link to their previews there."""
    currency, value = str(summary.get("currency", "")), summary.get("value") or {}
    margin, coverage = summary.get("margin") or {}, summary.get("coverage") or {}
    floor = margin.get("floor_pct")
    below = " :warning: below the floor" if margin.get("below_floor") else ""
    deviations = [slack_escape(d) for d in summary.get("deviations") or []]
    fields = [
        (
            "Value",
            f"{float(value.get('contract', 0)):,.2f} {currency} over "
            f"{value.get('contract_months', '?')} months\n"
            f"{float(value.get('monthly', 0)):,.2f} monthly, "
            f"{float(value.get('one_off', 0)):,.2f} one-off",
        ),
        ("Margin vs floor", f"{_pct(margin.get('pct'))} vs {_pct(floor)}{below}"),
        (
            "Coverage",
            f"firm {coverage.get('firm', 0):,} · budgetary {coverage.get('budgetary', 0):,} · "
            f"missing {coverage.get('missing', 0):,} of {coverage.get('sites', 0):,} sites",
        ),
        ("Discount", f"{_pct(summary.get('discount_pct'))} against list"),
        ("Deviations", "; ".join(deviations) or "standard terms"),
        ("Version", f"`{str(summary.get('version') or '')[:12]}`"),
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "fields": [_mrkdwn(f"*{name}*\n{text}", _FIELD_LIMIT) for name, text in fields],
        }
    ]
    if area is not None:
        blocks.extend(area_blocks(summary, area))
    if isinstance(summary.get("change"), dict):  # a MACD: the change is what is decided
        text = "*The change*\n" + slack_escape(str(summary.get("headline") or ""))
        blocks.insert(0, {"type": "section", "text": _mrkdwn(text)})
    risks = [slack_escape(r) for r in summary.get("risks") or []]
    if risks:
        text = "*Risks*\n" + "\n".join(f"• {risk}" for risk in risks)
        blocks.append({"type": "section", "text": _mrkdwn(text)})
    documents = summary.get("documents") or []
    if documents and page_url:
        listed = ", ".join(
            f"<{page_url}/preview/{quote(_file_name(d))}|{slack_escape(_file_name(d))}>"
            for d in documents
        )
        blocks.append({"type": "context", "elements": [_mrkdwn(f"Preview: {listed}")]})
    elif documents:
        listed = ", ".join(f"{d.get('kind')}: {slack_escape(_file_name(d))}" for d in documents)
        blocks.append({"type": "context", "elements": [_mrkdwn(listed)]})
    return blocks


def _file_name(document: dict[str, Any]) -> str:
    """A document's file name (never the folder it lies in on the server)."""
    return (
        str(document.get("path") or document.get("name") or "")
        .replace("\\", "/")
        .rsplit("/", 1)[-1]
    )


def go_no_go_actions(ref: str) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": f"go_no_go:{ref}",
        "elements": [
            _button(action_id, label, ButtonValue(ref=ref, outcome=outcome).encode(), style)
            for action_id, (outcome, label, style) in GO_NO_GO_ACTIONS.items()
        ],
    }


def message_blocks(text: str, markers: list[Any], facts: BidFacts | None) -> list[dict[str, Any]]:
    """The blocks of one outbox message: its text, the bid's facts, its buttons, its run link."""
    blocks: list[dict[str, Any]] = [{"type": "section", "text": _mrkdwn(text)}]
    if facts is not None:
        blocks.append(facts_block(facts))
    for marker in markers:
        if not isinstance(marker, dict):
            continue
        kind = marker.get("type")
        ref = str(marker.get("opportunity") or (facts.ref if facts else ""))
        if kind == "approval" and marker.get("area"):
            if isinstance(marker.get("summary"), dict):
                blocks.extend(
                    summary_blocks(
                        marker["summary"], str(marker["area"]), facts.page_url if facts else None
                    )
                )
            request = marker.get("request")
            blocks.append(
                approval_actions(
                    ref,
                    str(marker["area"]),
                    marker.get("proposal_hash") or None,
                    request if isinstance(request, int) else None,
                    str(marker.get("fingerprint") or "") or None,
                )
            )
        elif kind == "go_no_go":
            blocks.append(go_no_go_actions(ref))
        elif kind in _BLOCK_KIT_TYPES:
            blocks.append(dict(marker))  # already Block Kit
    if facts is not None and facts.page_url:
        link = f"<{facts.page_url}|Open {facts.ref} in the bid workspace>"
        blocks.append({"type": "context", "elements": [_mrkdwn(link)]})
    elif facts is not None and facts.run_url:
        blocks.append(
            {"type": "context", "elements": [_mrkdwn(f"<{facts.run_url}|Prefect flow run>")]}
        )
    return blocks


# --- modals ------------------------------------------------------------------------------------


def _reason_input(label: str, placeholder: str) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": REASON_BLOCK,
        "label": _plain(label),
        "element": {
            "type": "plain_text_input",
            "action_id": REASON_BLOCK,
            "multiline": True,
            "max_length": 2000,
            "placeholder": _plain(placeholder, 150),
        },
    }


def reject_modal(value: ButtonValue, channel: str | None) -> dict[str, Any]:
    """Asks the approver why they reject; submitting it records the rejection."""
    metadata = json.dumps({"value": value.encode(), "channel": channel})
    return {
        "type": "modal",
        "callback_id": REJECT_MODAL,
        "private_metadata": metadata,
        "title": _plain(f"Reject {value.area or ''} approval", 24),
        "submit": _plain("Reject"),
        "close": _plain("Cancel"),
        "blocks": [
            {
                "type": "section",
                "text": _mrkdwn(
                    f"*{value.ref}*: reject the *{value.area}* approval of proposal version "
                    f"`{(value.proposal_hash or '')[:12]}`. The bid returns to bid production."
                ),
            },
            _reason_input("Why do you reject it?", "e.g. the liability cap is too high"),
        ],
    }


def go_no_go_modal(
    value: ButtonValue, channel: str | None, categories: list[str]
) -> dict[str, Any]:
    """Asks for the reason of a go/no-go (and its category for a no-bid)."""
    labels = {outcome: label for outcome, label, _ in GO_NO_GO_ACTIONS.values()}
    label = labels.get(value.outcome or "", value.outcome or "")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": _mrkdwn(f"*{value.ref}*: decide *{label}*.")},
        _reason_input("Why?", "the reason is kept beside the rules' recommendation"),
    ]
    if value.outcome == "no_bid":
        blocks.append(
            {
                "type": "input",
                "block_id": CATEGORY_BLOCK,
                "label": _plain("Reason category"),
                "element": {
                    "type": "static_select",
                    "action_id": CATEGORY_BLOCK,
                    "options": [
                        {"text": _plain(c.replace("_", " ")), "value": c} for c in categories[:100]
                    ],
                },
            }
        )
    return {
        "type": "modal",
        "callback_id": GO_NO_GO_MODAL,
        "private_metadata": json.dumps({"value": value.encode(), "channel": channel}),
        "title": _plain(f"Go/no-go: {label}", 24),
        "submit": _plain("Decide"),
        "close": _plain("Cancel"),
        "blocks": blocks,
    }


@dataclass(frozen=True)
class ModalAnswer:
    """What a submitted reason modal says."""

    value: ButtonValue
    channel: str | None
    reason: str
    category: str | None


def read_modal(view: dict[str, Any]) -> ModalAnswer:
    """Parse a submitted reject / go-no-go modal; `InputError` when it is not ours."""
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError as exc:
        raise InputError("the Slack modal carries no readable metadata") from exc
    values = (view.get("state") or {}).get("values") or {}
    reason = ((values.get(REASON_BLOCK) or {}).get(REASON_BLOCK) or {}).get("value") or ""
    option = ((values.get(CATEGORY_BLOCK) or {}).get(CATEGORY_BLOCK) or {}).get("selected_option")
    channel = metadata.get("channel")
    return ModalAnswer(
        value=ButtonValue.decode(str(metadata.get("value", ""))),
        channel=channel if isinstance(channel, str) else None,
        reason=str(reason).strip(),
        category=str(option["value"]) if isinstance(option, dict) and "value" in option else None,
    )
