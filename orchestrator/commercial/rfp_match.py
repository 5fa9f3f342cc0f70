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
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.decisions.rfp_rules import MatchSettings, Synonyms

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

WORD = re.compile(r"[a-z0-9][a-z0-9_]*(?:[./+][a-z0-9_]+)*")
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
    found = WORD.findall(synonyms.canonical(text))
    kept = [w for w in found if w not in STOPWORDS]
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
        for row, encoding in enumerate(
            self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        ):
            ids = [i for i in encoding.ids if 0 <= i < table.shape[0]]
            if ids:
                out[row] = table[ids].astype(np.float32).mean(axis=0)
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
    table = load_file(str(weights))["embedding.weight"]
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


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, value))))


class AnswerIndex:
    """The library answers, indexed once; `match` ranks them for many requirements."""

    def __init__(
        self,
        documents: Sequence[Document],
        synonyms: Synonyms,
        settings: MatchSettings,
        *,
        use_embeddings: bool = True,
    ) -> None:
        import bm25s

        self.documents = list(documents)
        self.synonyms = synonyms
        self.settings = settings
        heads = [f"{d.question} {' '.join(d.tags)}" for d in self.documents]
        self._heads = [" ".join(words(h, synonyms)) for h in heads]
        self._head_index = bm25s.BM25()
        self._head_index.index([h.split() or ["_"] for h in self._heads], show_progress=False)
        self._body_index = bm25s.BM25()
        self._body_index.index(
            [words(d.answer, synonyms) or ["_"] for d in self.documents], show_progress=False
        )
        self._embedder = embedder() if use_embeddings and settings.embedding > 0 else None
        self._vectors = self._embedder.embed(heads) if self._embedder is not None else None

    @property
    def uses_embeddings(self) -> bool:
        return self._embedder is not None

    def _bm25(self, queries: list[list[str]]) -> NDArray[np.float64]:
        import numpy as np

        settings = self.settings
        out = np.zeros((len(queries), len(self.documents)))
        for row, query in enumerate(queries):
            if not query:
                continue
            head = self._head_index.get_scores(query)
            body = self._body_index.get_scores(query)
            out[row] = head + settings.answer_weight * body
        return out / (out + settings.bm25_half)

    def match(self, requirements: Sequence[str], limit: int) -> list[list[Match]]:
        """Per requirement (in order), the `limit` best answers, most confident first."""
        import numpy as np
        from rapidfuzz import fuzz

        if not requirements or not self.documents:
            return [[] for _ in requirements]
        settings = self.settings
        query_words = [words(text, self.synonyms) for text in requirements]
        lexical = self._bm25(query_words)
        fused = settings.bm25 * lexical
        if self._embedder is not None and self._vectors is not None:
            similarity = self._embedder.embed(requirements) @ self._vectors.T
            low, high = settings.embedding_floor, settings.embedding_ceiling
            fused = fused + settings.embedding * np.clip((similarity - low) / (high - low), 0, 1)
        shortlist = min(int(settings.shortlist), len(self.documents))
        results: list[list[Match]] = []
        for row, query in enumerate(query_words):
            scores = fused[row]
            if shortlist < len(self.documents):
                best = np.argpartition(scores, -shortlist)[-shortlist:]
            else:
                best = np.arange(len(self.documents))
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
