"""Finding the library answer a requirement asks for: BM25, fuzzy matching and word
embeddings, fused into one calibrated confidence (0-100).

Customers never write the library's words, so three views of a requirement are combined:

- **BM25** (`bm25s`) over the library's question and tags, and (at a lower weight) its answer,
  on stemmed words (`PyStemmer`) after the synonyms of `rules/synonyms.yaml` are read as one
  word each ("uptime" is "availability", "cut-over" is "cutover") — the words that matter;
- **fuzzy matching** (`rapidfuzz` token-set ratio) of the same normalised texts — a short
  library question found whole inside a long requirement;
- **word embeddings** (WordLlama's 256-dimension static model, whose weights and tokenizer
  ship inside the `wordllama` wheel: nothing is downloaded) — meaning beyond shared words.

The three are fused into a relevance (weights in `rules/rfp.yaml` `library.match`); the
confidence is a logistic curve of the relevance and of its lead over the next answer, so
that a score means the same from one questionnaire to the next: auto-accept above the
calibrated threshold, a draft below it. Everything is computed for all requirements at
once (one matrix per view); a questionnaire of 1,000 requirements against 2,000 answers
takes a fraction of a second.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.decisions.rfp_rules import MatchSettings, Synonyms

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "by",
        "can",
        "could",
        "do",
        "does",
        "did",
        "for",
        "from",
        "has",
        "have",
        "how",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "ours",
        "shall",
        "should",
        "so",
        "such",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "please",
        "provide",
        "describe",
        "explain",
        "state",
        "give",
        "detail",
        "details",
        "indicate",
        "specify",
        "list",
        "any",
        "all",
        "each",
        "every",
        "also",
        "must",
        "may",
        "own",
        "per",
    ]
)
"""Words every requirement uses: they say nothing about which answer it wants."""


@dataclass(frozen=True)
class Document:
    """A library answer as the index reads it."""

    answer_id: str
    question: str
    tags: tuple[str, ...]
    answer: str = ""


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def words(text: str, synonyms: Synonyms) -> list[str]:
    """The stemmed words of `text` that matter, synonyms read as their group's one word."""
    stemmer = _stemmer()
    kept = [w for w in synonyms.words(text) if w not in STOPWORDS]
    return [w if "_" in w else stemmer.stemWord(w) for w in kept]


# --- word embeddings ----------------------------------------------------------------------


@dataclass(frozen=True)
class Embedder:
    """Mean-pooled static word embeddings (WordLlama l2_supercat, 256 dimensions)."""

    tokenizer: Any
    table: Any

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """One unit vector per text (zeros for a text without a known token)."""
        import numpy as np

        table = self.table
        out = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
        for first in range(0, len(texts), CHUNK):
            encodings = self.tokenizer.encode_batch(
                list(texts[first : first + CHUNK]), add_special_tokens=False
            )
            ids = [np.asarray(e.ids, dtype=np.int64) for e in encodings]
            counts = np.array([len(i) for i in ids])
            filled = np.flatnonzero(counts)
            if not filled.size:
                continue
            flat = np.clip(np.concatenate([ids[i] for i in filled]), 0, table.shape[0] - 1)
            starts = np.concatenate(([0], np.cumsum(counts[filled])[:-1]))
            sums = np.add.reduceat(table[flat].astype(np.float32), starts, axis=0)
            out[first + filled] = sums / counts[filled][:, None]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        unit: NDArray[np.float32] = out / norms
        return unit


def _wordllama_files() -> tuple[Path, Path] | None:
    """The weights and tokenizer shipped in the `wordllama` wheel, or None if not installed."""
    from importlib.util import find_spec

    spec = find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    weights = root / "weights" / "l2_supercat_256.safetensors"
    tokenizer = root / "tokenizers" / "l2_supercat_tokenizer_config.json"
    return (weights, tokenizer) if weights.is_file() and tokenizer.is_file() else None


@lru_cache(maxsize=1)
def embedder() -> Embedder | None:
    """The embedding model, loaded once per process from the installed wheel (no download;
    the `wordllama` package itself is not imported: its loader looks for the tokenizer in a
    folder the wheel does not have and then tries the network)."""
    files = _wordllama_files()
    if files is None:
        return None
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    weights, tokenizer_file = files
    table = load_file(str(weights))["embedding.weight"]  # float16: rows widened when used
    return Embedder(Tokenizer.from_file(str(tokenizer_file)), table)


# --- the index ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """One library answer proposed for one requirement."""

    position: int
    """The answer's position in the documents the index was built on."""
    confidence: float
    """Calibrated 0-100: how sure the matcher is this is the answer."""
    relevance: float
    """The fused relevance (0-1) the confidence was computed from."""


@dataclass(frozen=True)
class Lexicon:
    """A BM25 index as `bm25s` builds it (its eager score per word and answer, in columns
    per word), kept as plain arrays so that it can be cached."""

    data: Any
    indices: Any
    indptr: Any
    vocabulary: dict[str, int]

    @classmethod
    def of(cls, texts: list[list[str]]) -> Lexicon:
        import bm25s

        index = bm25s.BM25()
        index.index([t or ["_"] for t in texts], show_progress=False)
        scores = index.scores
        return cls(scores["data"], scores["indices"], scores["indptr"], dict(index.vocab_dict))

    def scores(self, queries: list[list[str]], documents: int) -> NDArray[np.float64]:
        """BM25 of many queries against every answer: each word the queries use is expanded
        once into a row over the answers, and each query sums its words' rows (rather than
        one `get_scores` call per query)."""
        import numpy as np

        rows: dict[int, int] = {}
        wanted: list[list[int]] = []
        for query in queries:
            ids = [self.vocabulary.get(word) for word in query]
            wanted.append([rows.setdefault(t, len(rows)) for t in ids if t is not None])
        out = np.zeros((len(queries), documents))
        if not rows:
            return out
        dense = np.zeros((len(rows), documents), dtype=np.float32)
        for token, row in rows.items():
            start, end = self.indptr[token], self.indptr[token + 1]
            dense[row, self.indices[start:end]] = self.data[start:end]
        for number, picked in enumerate(wanted):
            if picked:
                out[number] = dense[picked].sum(axis=0)
        return out


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, value))))


CHUNK = 256
"""Requirements matched at a time, and texts embedded at a time."""

CACHE_FORMAT = 1
"""Bumped when what the cache holds changes."""


def _cache_key(documents: Sequence[Document], synonyms: Synonyms, embed: bool) -> str:
    import hashlib
    import json

    files = _wordllama_files() if embed else None
    model = [str(f.stat().st_size) for f in files] if files else []
    content = json.dumps(
        [
            CACHE_FORMAT,
            model,
            [list(g) for g in synonyms.groups],
            [[d.answer_id, d.question, list(d.tags), d.answer] for d in documents],
        ]
    )
    return hashlib.sha256(content.encode()).hexdigest()[:32]


class AnswerIndex:
    """The library answers, indexed once; `match` ranks them for many requirements.

    With a `cache_dir`, what indexing the library computes (its words, BM25 arrays and
    embeddings) is kept in one `.npz` file named by the hash of the library, the synonyms
    and the model: the next questionnaire against the same library starts from it. A cache
    that cannot be read or written is ignored (it is rebuilt)."""

    def __init__(
        self,
        documents: Sequence[Document],
        synonyms: Synonyms,
        settings: MatchSettings,
        *,
        use_embeddings: bool = True,
        cache_dir: Path | None = None,
    ) -> None:
        self.documents = list(documents)
        self.synonyms = synonyms
        self.settings = settings
        embed = use_embeddings and settings.embedding > 0
        self._embedder = embedder() if embed else None
        embed = self._embedder is not None
        path = (
            cache_dir / f"answer-index-{_cache_key(self.documents, synonyms, embed)}.npz"
            if cache_dir is not None
            else None
        )
        if path is None or not self._load(path, embed):
            self._build()
            if path is not None:
                self._save(path)

    def _build(self) -> None:
        heads = [f"{d.question} {' '.join(d.tags)}" for d in self.documents]
        head_words = [words(h, self.synonyms) for h in heads]
        self._heads = [" ".join(w) for w in head_words]
        self._head_index = Lexicon.of(head_words)
        self._body_index = Lexicon.of([words(d.answer, self.synonyms) for d in self.documents])
        self._vectors = self._embedder.embed(heads) if self._embedder is not None else None

    def _save(self, path: Path) -> None:
        import json

        import numpy as np

        arrays: dict[str, Any] = {"heads": np.array(json.dumps(self._heads))}
        for name, lexicon in (("head", self._head_index), ("body", self._body_index)):
            arrays[f"{name}_data"] = lexicon.data
            arrays[f"{name}_indices"] = lexicon.indices
            arrays[f"{name}_indptr"] = lexicon.indptr
            arrays[f"{name}_vocabulary"] = np.array(json.dumps(lexicon.vocabulary))
        if self._vectors is not None:
            arrays["vectors"] = self._vectors
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial.npz")
            np.savez(partial, **arrays)
            partial.replace(path)
            for older in path.parent.glob("answer-index-*.npz"):
                if older != path:
                    older.unlink(missing_ok=True)
        except OSError:
            return  # a cache, not the record: the next call builds it again

    def _load(self, path: Path, embed: bool) -> bool:
        import json
        import zipfile

        import numpy as np

        try:
            with np.load(path, allow_pickle=False) as held:
                lexicons = [
                    Lexicon(
                        held[f"{name}_data"],
                        held[f"{name}_indices"],
                        held[f"{name}_indptr"],
                        json.loads(str(held[f"{name}_vocabulary"])),
                    )
                    for name in ("head", "body")
                ]
                heads = json.loads(str(held["heads"]))
                vectors = held["vectors"] if embed else None
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            return False
        if len(heads) != len(self.documents):
            return False
        self._heads, (self._head_index, self._body_index) = heads, lexicons
        self._vectors = vectors
        return True

    @property
    def uses_embeddings(self) -> bool:
        return self._embedder is not None

    def _bm25(self, queries: list[list[str]]) -> NDArray[np.float64]:
        """BM25 of every query against every answer, saturated to 0-1."""
        settings = self.settings
        out = self._head_index.scores(queries, len(self.documents))
        out += settings.answer_weight * self._body_index.scores(queries, len(self.documents))
        saturated: NDArray[np.float64] = out / (out + settings.bm25_half)
        return saturated

    def match(self, requirements: Sequence[str], limit: int) -> list[list[Match]]:
        """Per requirement (in order), the `limit` best answers, most confident first
        (`CHUNK` requirements at a time, so that memory stays small for any questionnaire)."""
        if not requirements or not self.documents:
            return [[] for _ in requirements]
        results: list[list[Match]] = []
        for start in range(0, len(requirements), CHUNK):
            results += self._match(requirements[start : start + CHUNK], limit)
        return results

    def _match(self, requirements: Sequence[str], limit: int) -> list[list[Match]]:
        import numpy as np
        from rapidfuzz import fuzz

        settings = self.settings
        query_words = [words(text, self.synonyms) for text in requirements]
        lexical = self._bm25(query_words)
        fused = settings.bm25 * lexical
        if self._embedder is not None and self._vectors is not None:
            similarity = self._embedder.embed(requirements) @ self._vectors.T
            low, high = settings.embedding_floor, settings.embedding_ceiling
            fused = fused + settings.embedding * np.clip((similarity - low) / (high - low), 0, 1)
        shortlist = min(int(settings.shortlist), len(self.documents))
        if shortlist < len(self.documents):
            shortlists = np.argpartition(fused, -shortlist, axis=1)[:, -shortlist:]
        else:
            shortlists = np.tile(np.arange(len(self.documents)), (len(query_words), 1))
        results: list[list[Match]] = []
        for row, query in enumerate(query_words):
            scores = fused[row]
            best = shortlists[row]
            text = " ".join(query)
            relevance = {
                int(position): float(scores[position])
                + settings.fuzzy * fuzz.token_set_ratio(text, self._heads[position]) / 100
                for position in best.tolist()
            }
            ranked = sorted(relevance.items(), key=lambda item: (-item[1], item[0]))
            found = []
            for index, (position, value) in enumerate(ranked[:limit]):
                other = ranked[1][1] if index == 0 and len(ranked) > 1 else ranked[0][1]
                lead = value - other if index == 0 else value - ranked[0][1]
                confidence = 100 * _sigmoid(
                    settings.slope * (value - settings.midpoint) + settings.lead * lead
                )
                found.append(Match(position, round(confidence, 1), round(value, 4)))
            results.append(found)
        return results
