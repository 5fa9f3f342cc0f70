"""Text of notifications, from Jinja templates in `templates/messages/` (autoescaped for Slack)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2


@lru_cache(maxsize=4)
def _environment(templates_dir: str) -> jinja2.Environment:
    import jinja2  # loaded on the first message, not at every command's start

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(templates_dir) / "messages")),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _slack_escape(value: Any) -> str:
    """Slack mrkdwn treats &, < and > as control characters; user text must not link or ping."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(templates_dir: Path, event: str, **values: Any) -> str:
    """Render `messages/<event>.txt.j2`, or the generic `transition.txt.j2` when none exists."""
    from jinja2 import TemplateNotFound

    env = _environment(str(templates_dir))
    env.filters["slack"] = _slack_escape
    try:
        template = env.get_template(f"{event}.txt.j2")
    except TemplateNotFound:
        template = env.get_template("transition.txt.j2")
    return template.render(event=event, **values).strip()


def warm_up(templates_dir: Path) -> int:
    """Compile every message template now (a long-lived process, before its first message);
    the number compiled. A template that does not compile is left to fail where it is used,
    naming the message."""
    from jinja2 import TemplateError

    env = _environment(str(templates_dir))
    env.filters["slack"] = _slack_escape
    compiled = 0
    for name in env.list_templates(extensions=["j2"]):
        try:
            env.get_template(name)
        except TemplateError:
            continue
        compiled += 1
    return compiled


class SlackMessages:
    """`MessagePort` over the templates in `templates/messages/`."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir

    def render(self, event: str, **values: Any) -> str:
        return render(self.templates_dir, event, **values)
