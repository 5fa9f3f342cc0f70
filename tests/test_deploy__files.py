"""The deployment files are valid: compose against the Compose specification, the rest parsed.

No container engine is needed: `check-jsonschema` carries the Compose specification's schema.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
CHECK = Path(sys.executable).parent / "check-jsonschema"


def _compose_valid(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_compose_file_follows_the_compose_specification() -> None:
    done = _compose_valid(DEPLOY / "compose.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_check_catches_a_broken_compose_file(tmp_path: Path) -> None:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    data["services"]["task-worker"]["comand"] = "bid task-worker"  # a typo in a key
    broken = tmp_path / "compose.yaml"
    broken.write_text(yaml.safe_dump(data))
    done = _compose_valid(broken)
    assert done.returncode == 1
    assert "comand" in done.stdout


def test_compose_runs_task_workers_with_shared_task_storage() -> None:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = data["services"]
    assert services["task-worker"]["command"].startswith("bid task-worker")
    environment = data["x-bid"]["environment"]
    assert environment["BID_FLOW_DISPATCH"] == "tasks"
    assert environment["PREFECT_LOCAL_STORAGE_PATH"].startswith("/data/")


def test_kubernetes_example_runs_the_task_worker_command() -> None:
    (manifest,) = yaml.safe_load_all((DEPLOY / "kubernetes" / "task-workers.yaml").read_text())
    assert manifest["kind"] == "Deployment"
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:2] == ["bid", "task-worker"]


def test_every_prefect_yaml_entrypoint_names_a_flow() -> None:
    data = yaml.safe_load((DEPLOY / "prefect.yaml").read_text())
    from prefect import Flow

    for deployment in data["deployments"]:
        module_path, attribute = deployment["entrypoint"].split(":")
        module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
        assert isinstance(getattr(module, attribute), Flow), deployment["entrypoint"]
