"""The `transitions` state machine over the lifecycle table, wrapped around a bid row.

SQLModel rows refuse the trigger attributes `transitions` adds, so one shared
`Machine(auto_transitions=False)` drives a small `BidStateMachine` wrapper per bid whose
`state` reads and writes the row. Persisting the new state with its audit event is the
service layer's job (`services.py`), in one database transaction.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from transitions import Machine

from orchestrator.errors import TransitionRefused
from orchestrator.lifecycle.guards import GUARDS, BidFacts, GuardResult
from orchestrator.lifecycle.table import TRANSITIONS, State, find_transition, transitions_from
from orchestrator.store.models import Opportunity


@dataclass
class GuardRun:
    """Collects the verdict of each guard while `transitions` evaluates a trigger."""

    facts: BidFacts
    refusals: list[tuple[str, str]] = field(default_factory=list)


class _NamedGuard:
    """A condition for `transitions` that runs one named guard and records a refusal."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.guard = GUARDS[name]

    def __call__(self, run: GuardRun) -> bool:
        result: GuardResult = self.guard(run.facts)
        if not result.ok:
            run.refusals.append((self.name, result.reason))
        return result.ok


def _machine_spec() -> list[dict[str, Any]]:
    return [
        {
            "trigger": t.trigger,
            "source": t.source.value,
            "dest": t.dest.value,
            "conditions": [_NamedGuard(name) for name in t.guards],
        }
        for t in TRANSITIONS
    ]


class BidStateMachine:
    """A plain object over one `Opportunity` row, the model `transitions` drives."""

    def __init__(self, row: Opportunity) -> None:
        self._row = row

    @property
    def state(self) -> str:
        return self._row.state.value

    @state.setter
    def state(self, value: str) -> None:
        self._row.state = State(value)


_MACHINE = Machine(
    model=None,
    states=[state.value for state in State],
    transitions=_machine_spec(),
    initial=None,
    auto_transitions=False,
)
_LOCK = threading.Lock()


def fire(row: Opportunity, trigger: str, facts: BidFacts) -> tuple[State, State]:
    """Fire `trigger` on the bid; return (from, to) or raise `TransitionRefused` with the reason.

    The row's `state` is changed in memory only; the caller commits it with its audit event.
    """
    source = row.state
    transition = find_transition(trigger, source)
    if transition is None:
        allowed = ", ".join(t.trigger for t in transitions_from(source)) or "none (closed)"
        raise TransitionRefused(
            f"'{trigger}' is not possible from {source.value}; possible: {allowed}"
        )
    run = GuardRun(facts)
    wrapper = BidStateMachine(row)
    with _LOCK:
        _MACHINE.add_model(wrapper, initial=source.value)
        try:
            moved = bool(wrapper.trigger(trigger, run))  # type: ignore[attr-defined]
        finally:
            _MACHINE.remove_model(wrapper)
    if not moved:
        guard, reason = run.refusals[0] if run.refusals else ("unknown", "refused")
        row.state = source
        raise TransitionRefused(f"{trigger} refused by guard '{guard}': {reason}", guard=guard)
    return source, row.state


def check(row: Opportunity, trigger: str, facts: BidFacts) -> list[tuple[str, str]]:
    """Run the guards of `trigger` without moving the bid; return the refusals."""
    transition = find_transition(trigger, row.state)
    if transition is None:
        return [("lifecycle", f"'{trigger}' is not possible from {row.state}")]
    refusals = []
    for name in transition.guards:
        result = GUARDS[name](facts)
        if not result.ok:
            refusals.append((name, result.reason))
    return refusals


def mermaid_diagram() -> str:
    """The lifecycle as a Mermaid state diagram, generated from the transition table."""
    from transitions.extensions.diagrams import GraphMachine

    class _Model:
        pass

    model = _Model()
    GraphMachine(
        model=model,
        states=[state.value for state in State],
        transitions=[
            {"trigger": t.trigger, "source": t.source.value, "dest": t.dest.value}
            for t in TRANSITIONS
            if t.trigger != "withdraw"
        ]
        + [{"trigger": "withdraw", "source": "*", "dest": State.WITHDRAWN.value}],
        initial=State.PRE_QUALIFICATION.value,
        auto_transitions=False,
        graph_engine="mermaid",
        title="Bid lifecycle",
        show_conditions=False,
    )
    return str(model.get_graph().draw(None))  # type: ignore[attr-defined]
