"""The docs run: every `bid …` command they show parses, and every relative link resolves.

Commands are taken from README.md and docs/*.md — code blocks (fenced or indented, with `\\`
continuations, `&&` / `;` chains and `VAR=value` prefixes) and inline code that starts with
`bid `. Each is resolved in the Click tree of `orchestrator.cli.app.app` (the same tree `bid
--help` prints): every word that names a command must be one at that place, and every
`--option` must exist on the command it is given to. Placeholders (`<file>`, `OPP-0042`, `…`)
end the command path; they are arguments, not checked.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer

from orchestrator.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
WORD = re.compile(r"^[a-z][a-z0-9-]*$")
ENV_PREFIX = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*$")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE = re.compile(r"(?<!`)`(bid [^`]+)`(?!`)")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


@dataclass(frozen=True)
class Example:
    doc: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.text}"


def _commands_in_code(code: str) -> list[str]:
    """The `bid …` commands of one (joined) line of a code block."""
    found = []
    for part in re.split(r"&&|\|\||;|\|", code):
        words = part.strip().removeprefix("$ ").split()
        while words and ENV_PREFIX.match(words[0]):
            words.pop(0)
        if words and words[0] == "bid":
            found.append(" ".join(words))
    return found


def _strip_comment(line: str) -> str:
    return re.sub(r"\s+#(?![^\s]*[\"']).*$", "", line) if " #" in line else line


def examples(path: Path) -> list[Example]:
    """Every `bid …` command shown in the Markdown file `path`, with its line number."""
    doc = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Example] = []
    fenced = False
    pending, start = "", 0
    for number, raw in enumerate(lines, start=1):
        if FENCE.match(raw):
            fenced = not fenced
            continue
        in_code = fenced or (raw.startswith("    ") and not re.match(r"[-*+] ", raw.lstrip()))
        if in_code:
            text = _strip_comment(raw.strip())
            if not pending:
                start = number
            if text.endswith("\\"):
                pending += text[:-1] + " "
                continue
            for command in _commands_in_code(pending + text):
                found.append(Example(doc, start, command))
            pending = ""
            continue
        pending = ""
        for match in INLINE.finditer(raw):
            found.append(Example(doc, number, match.group(1).strip()))
    return found


ROOT_ONLY = {"--version"}
"""Answered by `orchestrator.cli.thin.main` (the `bid` script) before the command tree."""


def _options_of(command: Any, root: bool = False) -> set[str]:
    names = {"--help"} | (ROOT_ONLY if root else set())
    for parameter in command.params:
        names.update(parameter.opts)
        names.update(parameter.secondary_opts)
    return names


def check(command_line: str, root: Any = None) -> str | None:
    """None when `command_line` parses in the `bid` command tree, else why not (one line).

    Typer vendors its own Click; a group is what has `commands`."""
    command: Any = root or typer.main.get_command(app)
    try:
        words = shlex.split(command_line)
    except ValueError:
        words = command_line.split()
    path = ["bid"]
    resolving = True
    for word in words[1:]:
        token = word.strip("[]()…,")
        if token.startswith("--"):
            option = token.split("=", 1)[0]
            if option not in _options_of(command, root=path == ["bid"]):
                return f"`{' '.join(path)}` has no option {option}"
            continue
        if not resolving or not hasattr(command, "commands"):
            resolving = False
            continue
        if not WORD.match(token):  # a placeholder: the command path ends here
            resolving = False
            continue
        sub = command.commands.get(token)
        if sub is None:
            if any(getattr(p, "param_type_name", "") == "argument" for p in command.params):
                resolving = False  # a group that also runs on its own, with arguments
                continue
            return f"`{' '.join(path)}` has no command {token!r}"
        command, path = sub, [*path, token]
    return None


ALL = [example for doc in DOCS for example in examples(doc)]


def test_the_docs_show_commands_to_check() -> None:
    docs = {example.doc for example in ALL}
    assert "README.md" in docs and "docs/deploy.md" in docs and "docs/slack.md" in docs
    assert len(ALL) > 50


@pytest.mark.parametrize("example", ALL, ids=[f"{e.doc}:{e.line}" for e in ALL])
def test_every_documented_command_parses(example: Example) -> None:
    problem = check(example.text)
    assert problem is None, f"{example}: {problem}"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("bid new tests/scenarios/bids/<a scenario>.yaml", "`bid` has no command 'new'"),
        ("bid status OPP-0042 --jsn", "`bid status` has no option --jsn"),
        ("bid server stat", "`bid server` has no command 'stat'"),
        ("bid people add anna@example.com --name Anna", None),
        ("bid resume --older-than=30 --json", None),
        ("bid server --port 4300 [--no-flows]", None),
    ],
)
def test_the_check_refuses_what_bid_refuses(line: str, problem: str | None) -> None:
    assert check(line) == problem


def test_commands_are_found_in_blocks_chains_and_inline_code(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Run `bid list --json` or `bid`.\n\n"
        "    source stack.env && BID_THIN=0 bid status OPP-1   # a comment\n"
        "    python deploy/stack.py up \\\n"
        "        --dir /srv/bid\n"
        "    bid resume \\\n"
        "        --older-than 30\n\n"
        "```sh\n$ bid people add a@example.com; bid outbox\n```\n",
        encoding="utf-8",
    )
    found = [(e.line, e.text) for e in examples(page)]
    assert found == [
        (1, "bid list --json"),
        (3, "bid status OPP-1"),
        (6, "bid resume --older-than 30"),
        (10, "bid people add a@example.com"),
        (10, "bid outbox"),
    ]


def _links(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    fenced = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
        if fenced or line.startswith("    "):
            continue
        found.extend((number, target) for target in LINK.findall(line))
    return found


LINKS = [
    (doc, number, target)
    for doc in DOCS
    for number, target in _links(doc)
    if not re.match(r"^[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")
]


@pytest.mark.parametrize(
    ("doc", "number", "target"),
    LINKS,
    ids=[f"{d.relative_to(ROOT).as_posix()}:{n}" for d, n, _ in LINKS],
)
def test_every_relative_link_resolves(doc: Path, number: int, target: str) -> None:
    resolved = (doc.parent / target.split("#", 1)[0]).resolve()
    assert resolved.exists(), f"{doc.relative_to(ROOT)}:{number}: {target} does not exist"


SCOPES = {
    "chat_postMessage": {"chat:write"},
    "chat_postEphemeral": {"chat:write"},
    "users_lookupByEmail": {"users:read", "users:read.email"},
    "users_info": {"users:read"},
    "conversations_open": {"im:write"},
    "views_open": set(),  # needs a trigger_id from interactivity, no scope
    "chat_update": {"chat:write"},  # a decided message loses its buttons
    "views_publish": set(),  # the App Home tab, no scope
}
"""The bot scopes each Slack Web API method needs (api.slack.com/methods)."""


def _slack_manifest() -> dict[str, Any]:
    import yaml

    text = (ROOT / "docs" / "slack.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```yaml\n(.*?)```", text, re.S)
    manifest: dict[str, Any] = yaml.safe_load(textwrap.dedent(block))
    return manifest


def test_the_slack_manifest_asks_for_the_scopes_the_code_uses_and_no_more() -> None:
    from orchestrator.doors.slack import EVENTS_PATH

    manifest = _slack_manifest()
    source = "\n".join(
        path.read_text(encoding="utf-8")
        for folder in ("slack", "doors")
        for path in (ROOT / "orchestrator" / folder).glob("*.py")
    )
    called = set(re.findall(r"client\.([a-zA-Z_]+)\(", source))
    unknown = called - set(SCOPES)
    assert not unknown, f"add the scopes of {sorted(unknown)} to SCOPES and to docs/slack.md"
    needed = set().union(*(SCOPES[method] for method in called))
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"].endswith(EVENTS_PATH)
    # the one event the door reads: the App Home tab opened (it publishes the tab)
    events = manifest["settings"]["event_subscriptions"]
    assert events["request_url"].endswith(EVENTS_PATH)
    assert events["bot_events"] == ["app_home_opened"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
