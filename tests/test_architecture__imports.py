"""The import contract in pyproject.toml holds, and it does catch a forbidden import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _copy_tree(tmp_path: Path) -> Path:
    for name in ("orchestrator", "flows"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_the_write_path_importing_slack_breaks_the_contract(tmp_path: Path) -> None:
    tree = _copy_tree(tmp_path)
    services = tree / "orchestrator" / "bid" / "progress" / "services.py"
    services.write_text(services.read_text() + "\nfrom orchestrator.slack import messages\n")
    result = _lint(tree)
    assert result.returncode == 1
    assert "orchestrator.bid.progress.services -> orchestrator.slack.messages" in result.stdout


def test_the_funnel_writing_a_bid_breaks_the_contract(tmp_path: Path) -> None:
    tree = _copy_tree(tmp_path)
    measure = tree / "orchestrator" / "funnel" / "measure.py"
    measure.write_text(measure.read_text() + "\nfrom orchestrator.bid.progress import services\n")
    result = _lint(tree)
    assert result.returncode == 1
    assert "The funnel measures bids and never changes one BROKEN" in " ".join(
        result.stdout.split()
    )


def test_the_store_importing_upwards_breaks_the_layers(tmp_path: Path) -> None:
    tree = _copy_tree(tmp_path)
    models = tree / "orchestrator" / "store" / "outbox.py"
    models.write_text(models.read_text() + "\nfrom orchestrator.lifecycle import table\n")
    result = _lint(tree)
    assert result.returncode == 1
    assert "orchestrator.store.outbox -> orchestrator.lifecycle.table" in result.stdout


def test_an_import_cycle_inside_a_room_breaks_the_contract(tmp_path: Path) -> None:
    """Issue 22: the write path had two cycles (facts ⇄ production, governance ⇄ orders);
    a lazy import that closes one again is caught."""
    tree = _copy_tree(tmp_path)
    facts = tree / "orchestrator" / "bid" / "facts.py"
    facts.write_text(
        facts.read_text()
        + "\n\ndef _again() -> object:\n"
        + "    from orchestrator.bid.producing.production import freeze_design\n\n"
        + "    return freeze_design\n"
    )
    result = _lint(tree)
    assert result.returncode == 1
    assert "No import cycles among the modules and packages of any one room BROKEN" in " ".join(
        result.stdout.split()
    )
