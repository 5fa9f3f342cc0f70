"""Publishing documents to an object store (any fsspec URL: s3://, gs://, memory://, file://).

Workers render on their own disks (a staging folder); what people and other machines read is
in the store. Each file is stored ONCE under a content-addressed key,
`objects/<content hash>/<file name>` — the hash of the template and of everything rendered
into it, which the renderer computes anyway (a .docx saved twice differs in its zip
timestamps, never in what it says) — and published under its human name, `<bid>/<path>`:

- never half-written: a file goes to a temporary key first and is then moved into place (on
  object stores a single PUT or a server-side copy is atomic), so a reader sees the whole
  previous version or the whole new one;
- stored once: the same bytes rendered again (a rerun after a crash, the same proposal on
  another worker) find their object already there and only publish the name again.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from orchestrator.ports import ProducedDocuments, RenderedDocument

OBJECTS = "objects"


class FsspecStore:
    """`DocumentStore` over an fsspec file system rooted at `url`."""

    def __init__(self, url: str, staging: Path, **storage_options: Any) -> None:
        import fsspec

        self.url = url.rstrip("/")
        self.staging = staging
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **storage_options)
        self.root = str(self.root).rstrip("/")
        self.protocol = url.split("://", 1)[0]

    def folder_for(self, ref: str) -> Path:
        return self.staging / ref

    def _key(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def _public(self, key: str) -> str:
        return f"{self.protocol}://{key.lstrip('/')}" if self.protocol != "file" else key

    def object_key(self, document: RenderedDocument) -> str:
        digest = (
            document.content_hash or hashlib.sha256(Path(document.path).read_bytes()).hexdigest()
        )
        return self._key(OBJECTS, digest[:2], digest, Path(document.path).name)

    def _put_whole(self, key: str, data: bytes) -> None:
        """Write `data` at `key` so that `key` never holds part of it."""
        parent = key.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        temporary = f"{key}.{uuid.uuid4().hex}.part"
        self.fs.pipe_file(temporary, data)
        self.fs.mv(temporary, key)

    def publish(self, ref: str, produced: ProducedDocuments) -> ProducedDocuments:
        published: list[RenderedDocument] = []
        base = self.folder_for(ref)
        for document in produced.documents:
            stored = self.object_key(document)
            if not self.fs.exists(stored):
                self._put_whole(stored, Path(document.path).read_bytes())
            try:
                relative = Path(document.path).relative_to(base).as_posix()
            except ValueError:
                relative = Path(document.path).name
            human = self._key(ref, relative)
            self.fs.makedirs(human.rsplit("/", 1)[0], exist_ok=True)
            temporary = f"{human}.{uuid.uuid4().hex}.part"
            self.fs.copy(stored, temporary)
            self.fs.mv(temporary, human)
            published.append(replace(document, published=self._public(human)))
        return replace(produced, documents=published)
