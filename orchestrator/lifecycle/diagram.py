"""Generate docs/lifecycle.md from the transition table.

python -m orchestrator.lifecycle.diagram > docs/lifecycle.md
"""

from __future__ import annotations

import sys

from orchestrator.lifecycle.machine import mermaid_diagram
from orchestrator.lifecycle.table import TRANSITIONS


def render() -> str:
    rows = "\n".join(
        f"| `{t.trigger}` | {t.source.value} | {t.dest.value} | "
        f"{', '.join(f'`{g}`' for g in t.guards) or '-'} | {'yes' if t.automatic else 'no'} |"
        for t in TRANSITIONS
    )
    return f"""# The bid lifecycle

Generated from `orchestrator/lifecycle/table.py` by
`python -m orchestrator.lifecycle.diagram > docs/lifecycle.md`; a test fails when it is out of date.

The eight steps: pre-qualification, qualification, kick-off, bid production, governance
review, submission, customer decision, contract preparation. Qualification ends in *bid*,
*no bid* or *redefine strategy* (the strategy is reworked in `strategy_rework`, then decided
again). A governance rejection returns the bid to bid production. Any open bid can be
withdrawn.

```mermaid
{mermaid_diagram().strip()}
```

| trigger | from | to | guards | automatic (`bid advance`) |
|---|---|---|---|---|
{rows}
"""


if __name__ == "__main__":
    sys.stdout.write(render())
