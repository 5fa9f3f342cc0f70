"""The Prefect UI speaks to people: every deployment is named for what it does, the same
whether `bid serve-flows` or deploy/prefect.yaml made it, and the runner finds the lifecycle's
deployment by that name."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

from flows.deployments import DEPLOYMENT_TITLES, all_deployments
from orchestrator.runtime.prefect_runner import LIFECYCLE_DEPLOYMENT

ROOT = Path(__file__).resolve().parent.parent


def test_every_served_deployment_has_its_own_plain_words_name_and_a_description() -> None:
    deployments = all_deployments()
    names = [d.name for d in deployments]
    assert len(set(names)) == len(names) == len(DEPLOYMENT_TITLES)
    assert {"New bid from an RFP", "Advance a bid", "Deadline watch"} <= set(names)
    for deployment in deployments:
        assert deployment.name == DEPLOYMENT_TITLES[deployment.flow_name or ""]
        assert deployment.name != "bid-orchestrator"
        assert "_" not in deployment.name and deployment.name[0].isupper()
        assert deployment.description and len(deployment.description) > 20, deployment.name


def test_prefect_yaml_names_each_flow_as_serve_flows_does() -> None:
    data = yaml.safe_load((ROOT / "deploy" / "prefect.yaml").read_text())
    seen = {}
    for deployment in data["deployments"]:
        module_path, attribute = deployment["entrypoint"].split(":")
        module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
        seen[getattr(module, attribute).name] = deployment["name"]
    assert seen == DEPLOYMENT_TITLES


def test_the_runner_starts_the_lifecycle_deployment_by_its_name() -> None:
    flow_name, _, name = LIFECYCLE_DEPLOYMENT.partition("/")
    assert DEPLOYMENT_TITLES[flow_name] == name
