"""Documents published to an object store: stored once by content, under their human names,
never half-written — on fsspec's memory file system and on a local S3-compatible server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from orchestrator.config import load_settings
from orchestrator.documents.store import OBJECTS, FsspecStore
from orchestrator.ports import ProducedDocuments, RenderedDocument
from orchestrator.store.models import Document
from tests.conftest import RunCli
from tests.factories_sites import make_opportunity
from tests.support.prefect_server import free_port

REPO = Path(__file__).resolve().parent.parent


def _produced(folder: Path, **files: str) -> ProducedDocuments:
    folder.mkdir(parents=True, exist_ok=True)
    documents = []
    for name, text in files.items():
        path = folder / f"{name}.docx"
        path.write_text(text)
        documents.append(RenderedDocument(name, name, path, f"{name}-{text}".replace(" ", "-")))
    return ProducedDocuments(documents)


@pytest.fixture
def memory_store(tmp_path: Path) -> Iterator[FsspecStore]:
    store = FsspecStore(f"memory://bid-{os.getpid()}-{tmp_path.name}", tmp_path / "staging")
    yield store
    store.fs.rm(store.root, recursive=True)


def _objects(store: FsspecStore) -> list[str]:
    return [p for p in store.fs.find(f"{store.root}/{OBJECTS}") if not p.endswith(".part")]


def test_a_document_is_stored_once_and_published_under_its_name(
    memory_store: FsspecStore,
) -> None:
    store = memory_store
    folder = store.folder_for("OPP-0001")
    first = store.publish("OPP-0001", _produced(folder, proposal="version 1", plan="the plan"))
    assert [d.published for d in first.documents] == [
        f"memory://{store.root.lstrip('/')}/OPP-0001/proposal.docx",
        f"memory://{store.root.lstrip('/')}/OPP-0001/plan.docx",
    ]
    assert store.fs.cat_file(f"{store.root}/OPP-0001/proposal.docx") == b"version 1"
    assert len(_objects(store)) == 2
    # the same content again (a rerun): nothing new stored
    store.publish("OPP-0001", _produced(folder, proposal="version 1"))
    assert len(_objects(store)) == 2
    # a new version: one more object, the human name now shows it
    store.publish("OPP-0001", _produced(folder, proposal="version 2"))
    assert len(_objects(store)) == 3
    assert store.fs.cat_file(f"{store.root}/OPP-0001/proposal.docx") == b"version 2"


def test_a_publish_that_fails_midway_leaves_the_previous_version_whole(
    memory_store: FsspecStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = memory_store
    folder = store.folder_for("OPP-0001")
    store.publish("OPP-0001", _produced(folder, proposal="the approved version"))

    original = store.fs.pipe_file

    def torn(path: str, value: bytes, **kwargs: object) -> None:
        original(path, value[:5])  # part of the file reached the store, then the line broke
        raise OSError("connection reset while uploading")

    monkeypatch.setattr(store.fs, "pipe_file", torn)
    with pytest.raises(OSError, match="connection reset"):
        store.publish("OPP-0001", _produced(folder, proposal="a new version, much longer"))
    assert store.fs.cat_file(f"{store.root}/OPP-0001/proposal.docx") == b"the approved version"
    for path in store.fs.find(store.root):
        if not path.endswith(".part"):
            assert store.fs.cat_file(path) in (b"the approved version",), path


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "FSSPEC_S3_ENDPOINT_URL": endpoint,
    }.items():
        monkeypatch.setenv(key, value)
    import fsspec.config

    fsspec.config.conf.clear()
    fsspec.config.set_conf_env(fsspec.config.conf)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    s3 = s3fs.S3FileSystem(endpoint_url=endpoint)
    if not s3.exists("bid-documents"):
        s3.mkdir("bid-documents")
    yield endpoint
    server.stop()
    fsspec.config.conf.clear()


def test_bid_docs_publishes_to_s3_and_records_where(
    s3_endpoint: str, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import s3fs

    prefix = f"bid-documents/{tmp_path.name}"
    monkeypatch.setenv("BID_OUTPUT_DIR", f"s3://{prefix}")
    settings = load_settings({**os.environ, "BID_OUTPUT_DIR": f"s3://{prefix}"})
    from orchestrator.store.db import open_database

    engine = open_database(settings.database_url)
    make_opportunity(engine, sites=4, countries=("DE", "FR"))
    result = run_cli("docs", "OPP-0001", "--json")
    assert result.code == 0, result.err
    s3 = s3fs.S3FileSystem(endpoint_url=s3_endpoint)
    names = sorted(p.rsplit("/", 1)[-1] for p in s3.find(f"{prefix}/OPP-0001"))
    assert "proposal-OPP-0001.docx" in names and "control-plan-OPP-0001.docx" in names
    objects = s3.find(f"{prefix}/objects")
    assert objects and not any(p.endswith(".part") for p in s3.find("bid-documents"))
    proposal = s3.cat_file(f"{prefix}/OPP-0001/proposal-OPP-0001.docx")
    assert proposal[:2] == b"PK"  # a whole .docx (a zip)
    with Session(engine) as session:
        paths = [d.path for d in session.exec(select(Document)).all()]
    assert f"s3://{prefix}/OPP-0001/proposal-OPP-0001.docx" in paths
    assert all(p.startswith(f"s3://{prefix}/OPP-0001/") for p in paths)
    # rendering again stores nothing new: the same bytes, the same objects
    assert run_cli("docs", "OPP-0001").code == 0
    assert sorted(s3.find(f"{prefix}/objects")) == sorted(objects)
    engine.dispose()
