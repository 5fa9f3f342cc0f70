"""docs/architecture.md names every module of the package and the flows (it is the map a new
engineer reads first; a module it does not name is a room nobody was told about)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_architecture_names_every_module() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = [
        path.relative_to(ROOT).as_posix()
        for folder in ("orchestrator", "flows")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "migrations" not in path.parts
    ]
    assert len(modules) > 150
    missing = [module for module in modules if f"`{module}`" not in text]
    assert missing == [], f"docs/architecture.md does not name: {missing}"
