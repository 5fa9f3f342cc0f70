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

Submission is a step people take: the last approval leaves the bid in `submission` until
someone records that the offer went out, how, when and by whom:

    bid submit OPP-0001 --by bm@example.com --channel portal --reference "receipt 7781"

Before the last approval `bid submit` is refused (one line naming the approvals missing,
exit 2); a `--channel` other than portal, email or hand is refused listing the choices. The
version sent is marked submitted and the customer-decision clock (the `customer_decision`
milestone of rules/milestones.yaml) starts when it went out (`--at 2026-12-07T10:30`, by
default now).

On hold, not gone: a bid the customer postpones keeps its state and everything in it.

    bid hold OPP-0001 --reason "customer froze its budget" --until 2027-03-01
    bid resume OPP-0001

A held bid does not move (`bid advance` waits; only a withdrawal ends it), its milestones
leave the deadline watch, and its open QRFs are cancelled with one message to each carrier's
contact (`bid qrf status OPP-0001` lists them as cancelled, when and why). `bid resume` puts
it back in the state it was in, its open milestones later by the time it was held; the next
`bid qrf` sends the requests again. `bid withdraw` stays for bids that end (it cancels the
open QRFs too).

```mermaid
{mermaid_diagram().strip()}
```

| trigger | from | to | guards | automatic (`bid advance`) |
|---|---|---|---|---|
{rows}
"""


if __name__ == "__main__":
    sys.stdout.write(render())
