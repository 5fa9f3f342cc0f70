"""The deployment files are valid and hang together, without a container engine or a cluster.

- compose against the Compose specification (`check-jsonschema` carries its schema);
- every Kubernetes manifest against the Kubernetes API's own models (the `kubernetes`
  package's V1 classes): each field must exist on its model, have its type, and the required
  ones must be there — a typo is a failure, not an ignored key;
- the references between them: claims, Secrets, ConfigMaps, Services, Ingress backends,
  probe ports, the image's roles;
- the wheel the Dockerfile installs is built here, and carries rules/, templates/ and the
  migrations (the image has no source tree to fall back on).
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
CHECK = Path(sys.executable).parent / "check-jsonschema"
ENTRYPOINT = DEPLOY / "entrypoint.sh"


def _compose_valid(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


# -- compose ---------------------------------------------------------------------------------


def test_compose_file_follows_the_compose_specification() -> None:
    done = _compose_valid(DEPLOY / "compose.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_check_catches_a_broken_compose_file(tmp_path: Path) -> None:
    data = _compose()
    data["services"]["task-worker"]["comand"] = "bid task-worker"  # a typo in a key
    broken = tmp_path / "compose.yaml"
    broken.write_text(yaml.safe_dump(data))
    done = _compose_valid(broken)
    assert done.returncode == 1
    assert "comand" in done.stdout


def test_compose_runs_task_workers_with_shared_task_storage() -> None:
    data = _compose()
    assert data["services"]["task-worker"]["command"] == ["task-worker"]
    environment = data["x-bid"]["environment"]
    assert environment["BID_FLOW_DISPATCH"] == "tasks"
    assert environment["PREFECT_LOCAL_STORAGE_PATH"].startswith("/data/")


def test_compose_keeps_no_password_and_takes_its_secrets_from_the_env_file() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    assert "bid:bid@" not in text and "POSTGRES_PASSWORD: bid" not in text
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    example = DEPLOY / ".env.example"
    defined = {
        line.split("=", 1)[0]
        for line in example.read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert used <= defined, f"{sorted(used - defined)} are not in {example.name}"
    assert {"POSTGRES_PASSWORD", "PREFECT_UI_API_URL", "SLACK_BOT_TOKEN"} <= defined
    services = _compose()["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${")
    assert services["prefect-server"]["environment"]["PREFECT_UI_API_URL"].startswith(
        "${PREFECT_UI_API_URL"
    )


def test_every_bid_service_waits_for_the_one_shot_migration() -> None:
    services = _compose()["services"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    bid_services = [
        name for name, service in services.items() if service.get("build") and name != "migrate"
    ]
    assert {"task-worker", "flows", "api", "slack", "prefect-server"} <= set(bid_services)
    for name in bid_services:
        if name == "prefect-server":  # Prefect migrates its own database
            continue
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name


def test_every_compose_role_is_one_the_entrypoint_knows() -> None:
    roles = _entrypoint_roles()
    for name, service in _compose()["services"].items():
        command = service.get("command")
        if service.get("build") and isinstance(command, list) and command[0] != "bid":
            assert command[0] in roles, name


# -- the image -------------------------------------------------------------------------------


def _entrypoint_roles() -> set[str]:
    text = ENTRYPOINT.read_text()
    body = text.split('case "$role" in', 1)[1]
    return {
        role
        for line in body.splitlines()
        if re.match(r"^  [a-z|-]+\)$", line)
        for role in line.strip().rstrip(")").split("|")
    }


def test_the_dockerfile_builds_a_wheel_and_runs_it_unprivileged_with_a_healthcheck() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) == 2  # build stage, then the runtime
    assert "pip wheel" in text and "--from=build" in text
    assert not re.search(r"pip install[^\n]* -e ", text)  # not editable
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*bid-entrypoint\", \"health", text, re.M)
    assert 'ENTRYPOINT ["bid-entrypoint"]' in text
    assert "COPY --chmod=0755 deploy/entrypoint.sh /usr/local/bin/bid-entrypoint" in text


def test_the_entrypoint_has_every_role() -> None:
    assert {"server", "flows", "task-worker", "web", "slack", "api", "migrate"} <= (
        _entrypoint_roles()
    )
    assert {"health", "wait-migrated"} <= _entrypoint_roles()
    done = subprocess.run(["sh", "-n", str(ENTRYPOINT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _entrypoint(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),  # the tree under test, whatever the venv has installed
        "TMPDIR": str(tmp_path),
        "HOME": str(tmp_path),
        "BID_DATA_DIR": str(tmp_path / ".bid"),
        **env,
    }
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        cwd=tmp_path,
        check=False,
    )


def test_migrate_brings_a_new_database_to_the_newest_schema_and_wait_migrated_sees_it(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'bid.db'}"
    waited = _entrypoint(tmp_path, "wait-migrated", BID_DATABASE_URL=url, BID_MIGRATE_WAIT="0")
    assert waited.returncode == 1
    assert "was not migrated in time" in waited.stderr
    assert "Traceback" not in waited.stderr

    done = _entrypoint(tmp_path, "migrate", BID_DATABASE_URL=url)
    assert done.returncode == 0, done.stderr
    assert "newest revision" in done.stdout

    from orchestrator.store.db import is_current, make_engine

    engine = make_engine(url)
    try:
        assert is_current(engine)
    finally:
        engine.dispose()
    waited = _entrypoint(tmp_path, "wait-migrated", BID_DATABASE_URL=url, BID_MIGRATE_WAIT="0")
    assert waited.returncode == 0, waited.stderr


def test_health_probes_the_role_the_container_runs(tmp_path: Path) -> None:
    assert _entrypoint(tmp_path, "health").returncode == 0  # nothing started: nothing to probe
    (tmp_path / "bid-role").write_text("api\n")
    refused = _entrypoint(tmp_path, "health", BID_API_PORT="9")  # nothing listens on port 9
    assert refused.returncode != 0


def test_a_bad_log_format_stops_a_role_with_one_line(tmp_path: Path) -> None:
    done = _entrypoint(tmp_path, "slack", BID_LOG_FORMAT="xml")
    assert done.returncode == 2
    assert done.stderr == "error: BID_LOG_FORMAT: 'xml' is not one of plain, json\n"


@pytest.mark.parametrize(
    ("role", "port_variable"), [("api", "BID_API_PORT"), ("web", "BID_WEB_PORT")]
)
def test_the_api_and_web_roles_serve_health(tmp_path: Path, role: str, port_variable: str) -> None:
    import socket
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),  # the tree under test, whatever the venv has installed
        "TMPDIR": str(tmp_path),
        "HOME": str(tmp_path),
        "BID_DATA_DIR": str(tmp_path / ".bid"),
        "BID_DATABASE_URL": f"sqlite:///{tmp_path / 'bid.db'}",
        "BID_FLOW_RUNNER": "inline",
        port_variable: str(port),
        "BID_LOG_FORMAT": "json",
    }
    log = (tmp_path / "api.log").open("w")
    process = subprocess.Popen(
        ["sh", str(ENTRYPOINT), role], env=environment, cwd=tmp_path, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 180  # a loaded 2-core machine starts slowly
        while True:
            health = _entrypoint(tmp_path, "health", **{port_variable: str(port)})
            if health.returncode == 0 or time.monotonic() > deadline or process.poll() is not None:
                break
            time.sleep(0.5)
        assert health.returncode == 0, (tmp_path / "api.log").read_text()
        assert (tmp_path / "bid-role").read_text() == f"{role}\n"
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        if role == "api":  # the JSON API serves the metrics; the workspace does not
            assert metrics.status_code == 200
            assert 'bid_bids{state="pre_qualification"} 0.0' in metrics.text
        else:
            assert metrics.status_code == 404
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_the_wheel_carries_rules_templates_and_migrations(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = tmp_path.glob("bid_orchestrator-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    def shipped(folder: str) -> set[str]:
        return {
            path.relative_to(ROOT / folder).as_posix()
            for path in (ROOT / folder).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }

    for folder in ("rules", "templates"):
        expected = {f"orchestrator/_bundled/{folder}/{name}" for name in shipped(folder)}
        assert expected and expected <= names, sorted(expected - names)[:5]
    migrations = ROOT / "orchestrator" / "store" / "migrations"
    expected = {
        path.relative_to(ROOT).as_posix()
        for path in migrations.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert any(name.endswith("0008.py") or "/0008" in name for name in expected)
    assert expected <= names, sorted(expected - names)[:5]
    assert any(name.startswith("flows/") for name in names)
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "bid = orchestrator.cli.thin:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


# -- Kubernetes ------------------------------------------------------------------------------


def _documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(KUBERNETES.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield path.name, document


def _model_of(document: dict[str, Any]) -> type[Any]:
    version = document["apiVersion"].rsplit("/", 1)[-1]
    name = version[0].upper() + version[1:] + document["kind"]
    model = getattr(k8s, name, None)
    assert model is not None, f"no Kubernetes model {name} for {document['apiVersion']}"
    return model  # type: ignore[no-any-return]


_PRIMITIVES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "object": (object,),
    "datetime": (str,),
    "date": (str,),
    "bytes": (str,),
}


def _build(kind: str, value: Any, where: str) -> Any:
    """`value` as the model type `kind` names, or AssertionError naming the field."""
    if kind.startswith(("List[", "list[")):
        assert isinstance(value, list), f"{where}: not a list"
        return [_build(kind[5:-1], item, f"{where}[{i}]") for i, item in enumerate(value)]
    if kind.startswith(("Dict[", "dict(")):
        inner = kind[5:-1].split(", ", 1)[1]
        assert isinstance(value, dict), f"{where}: not a mapping"
        return {key: _build(inner, item, f"{where}.{key}") for key, item in value.items()}
    if kind in _PRIMITIVES:
        accepted = _PRIMITIVES[kind]
        wrong_bool = isinstance(value, bool) and bool not in accepted and kind != "object"
        assert isinstance(value, accepted) and not wrong_bool, f"{where}: {value!r} is not a {kind}"
        return value
    model = getattr(k8s, kind)
    assert isinstance(value, dict), f"{where}: not a {kind}"
    fields = {json_name: python for python, json_name in model.attribute_map.items()}
    unknown = sorted(set(value) - set(fields))
    assert not unknown, f"{where}: {kind} has no field {', '.join(unknown)}"
    arguments = {
        fields[key]: _build(model.openapi_types[fields[key]], item, f"{where}.{key}")
        for key, item in value.items()
    }
    try:
        return model(**arguments)  # required fields and enumerations are checked here
    except ValueError as refused:
        raise AssertionError(f"{where}: {refused}") from None


def _validate(document: dict[str, Any], where: str) -> Any:
    return _build(_model_of(document).__name__, document, where)


def _manifests() -> list[tuple[str, dict[str, Any]]]:
    return list(_documents())


@pytest.mark.parametrize(
    "document", [d for _, d in _manifests()], ids=[f"{f}:{d['kind']}" for f, d in _manifests()]
)
def test_every_kubernetes_manifest_is_valid_against_the_kubernetes_models(
    document: dict[str, Any],
) -> None:
    _validate(document, f"{document['kind']}/{document['metadata']['name']}")


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        ("spec.template.spec.containers.0.comand", ["bid"], "has no field comand"),
        ("spec.replicas", "two", "'two' is not a int"),
        ("spec.template.spec.containers.0.name", None, "1 validation error for V1Container"),
    ],
)
def test_the_kubernetes_check_catches_typos_wrong_types_and_missing_fields(
    path: str, value: Any, fragment: str
) -> None:
    document = next(d for _, d in _manifests() if d["kind"] == "Deployment")
    node: Any = document
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is None:
        del node[last]
    else:
        node[last] = value
    with pytest.raises(AssertionError, match=re.escape(fragment)):
        _validate(document, "broken")


def _by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in _manifests() if d["kind"] == kind}


def _workloads() -> dict[str, dict[str, Any]]:
    return {**_by_kind("Deployment"), **_by_kind("StatefulSet"), **_by_kind("Job")}


def test_every_part_of_the_stack_has_its_workload() -> None:
    deployments = _by_kind("Deployment")
    roles = {
        d["spec"]["template"]["spec"]["containers"][0].get("args", [""])[0]
        for d in deployments.values()
    }
    assert {"server", "flows", "task-worker", "api", "web", "slack"} <= roles
    assert "postgres" in _by_kind("StatefulSet")
    (job,) = _by_kind("Job").values()
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    assert _by_kind("Ingress") and _by_kind("PersistentVolumeClaim")


def test_every_deployment_container_has_readiness_and_liveness_probes_on_its_ports() -> None:
    for name, workload in {**_by_kind("Deployment"), **_by_kind("StatefulSet")}.items():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            ports = {port.get("name") for port in container.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe"):
                assert probe in container, f"{name}: {container['name']} has no {probe}"
                http = container[probe].get("httpGet")
                if http:
                    assert http["port"] in ports, f"{name}: {probe} port {http['port']}"


def test_bid_pods_run_unprivileged_and_wait_for_the_migration() -> None:
    for name, workload in _by_kind("Deployment").items():
        spec = workload["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        if spec["containers"][0]["args"] != ["server"]:
            (init,) = spec["initContainers"]
            assert init["args"] == ["wait-migrated"], name
        for container in spec["containers"] + spec.get("initContainers", []):
            if container["image"] == "bid-orchestrator":
                assert container["args"][0] in _entrypoint_roles(), name


def test_references_between_manifests_resolve() -> None:
    claims = set(_by_kind("PersistentVolumeClaim"))
    config_maps = _by_kind("ConfigMap")
    secret_keys = {
        line.split("=", 1)[0]
        for line in (KUBERNETES / "secret.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    pod_labels: list[dict[str, str]] = []
    for name, workload in _workloads().items():
        template = workload["spec"]["template"]
        pod_labels.append(template["metadata"]["labels"])
        selector = workload["spec"].get("selector", {}).get("matchLabels")
        if selector:
            assert selector.items() <= template["metadata"]["labels"].items(), name
        spec = template["spec"]
        claim_templates = workload["spec"].get("volumeClaimTemplates", [])
        templates = {claim["metadata"]["name"] for claim in claim_templates}
        volumes = {volume["name"] for volume in spec.get("volumes", [])}
        for volume in spec.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, name
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps, name
        for container in spec["containers"] + spec.get("initContainers", []):
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes | templates, f"{name}: mount {mount['name']}"
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps, name
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {})
                if "secretKeyRef" in ref:
                    assert ref["secretKeyRef"]["name"] == "bid", name
                    assert ref["secretKeyRef"]["key"] in secret_keys, f"{name}: {variable}"
                if "configMapKeyRef" in ref:
                    key = ref["configMapKeyRef"]
                    assert key["key"] in config_maps[key["name"]]["data"], f"{name}: {variable}"
    services = _by_kind("Service")
    for name, service in services.items():
        selector = service["spec"]["selector"]
        assert any(selector.items() <= labels.items() for labels in pod_labels), name
    for ingress in _by_kind("Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] in services, backend
                port_names = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
                assert backend["port"]["name"] in port_names, backend
                assert path["path"] != "/metrics"


def test_the_kustomization_lists_every_manifest_and_names_the_image() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    files = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    images = {image["name"] for image in kustomization["images"]}
    used = {
        container["image"]
        for workload in _workloads().values()
        for container in workload["spec"]["template"]["spec"]["containers"]
        if not container["image"].startswith("postgres")
    }
    assert used == images


# -- Prefect ---------------------------------------------------------------------------------


def test_every_prefect_yaml_entrypoint_names_a_flow() -> None:
    data = yaml.safe_load((DEPLOY / "prefect.yaml").read_text())
    from prefect import Flow

    for deployment in data["deployments"]:
        module_path, attribute = deployment["entrypoint"].split(":")
        module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
        assert isinstance(getattr(module, attribute), Flow), deployment["entrypoint"]


def test_every_prefect_server_we_start_writes_task_run_states_in_batches() -> None:
    """Prefect writes every task-run event alone by default: a quarter of its server's CPU
    in production mode. The folder's server (`bid server`), the stack's and the container's
    run with SERVER_TUNING."""
    from orchestrator.config import load_settings
    from orchestrator.runtime.prefect_home import SERVER_TUNING, base_environment
    from tests.support.production import load_stack_module

    assert SERVER_TUNING["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE"] != "1"
    settings = load_settings({"BID_AUTOSTART": "0"}, cwd=ROOT)
    assert SERVER_TUNING.items() <= base_environment(settings).items()
    stack = load_stack_module()
    config = stack.StackConfig(root=Path("/nonexistent"))
    _, server_env = stack.Stack(config)._commands()["prefect"]
    assert SERVER_TUNING.items() <= server_env.items()
    script = ENTRYPOINT.read_text()
    server_role = script[script.index("  server)") : script.index("exec python -m orchestrator")]
    for name, value in SERVER_TUNING.items():
        assert f'export {name}="${{{name}:-{value}}}"' in server_role


def test_every_prefect_server_we_start_runs_with_the_servers_fixes() -> None:
    """`bid server`'s, `bid ui`'s, the stack's and the container's Prefect server start
    through orchestrator.runtime.prefect_server, which applies the server's fixes first."""
    import inspect

    from orchestrator.runtime import service, ui
    from orchestrator.runtime.prefect_server import COMMAND
    from tests.support.production import load_stack_module

    assert COMMAND[1:] == ("-m", "orchestrator.runtime.prefect_server")
    assert (*COMMAND, "start") == ui.SERVER_COMMAND
    stack = load_stack_module()
    command, _ = stack.Stack(stack.StackConfig(root=Path("/nonexistent")))._commands()["prefect"]
    assert tuple(command[:4]) == (*COMMAND, "start")
    assert "*PREFECT_SERVER," in inspect.getsource(service)
    assert '"-m",\n                "prefect",' not in inspect.getsource(service)
    script = ENTRYPOINT.read_text()
    server_role = script[script.index("  server)") : script.index("  flows)")]
    assert "exec python -m orchestrator.runtime.prefect_server start" in server_role
    assert "exec prefect server" not in script
