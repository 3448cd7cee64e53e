"""RAG evaluation (Barnett et al. 2024, "Fine-Tuning or Fine-Failing?"): corpora, retrievers, the
answer pipeline and its metrics.

    from ftscope.rag import RagSpec, run_rag
    run_rag(RagSpec(corpus="../shared/data/squad_shifts/nyt_v1.0.json", retriever="hybrid"), lm, out_dir)
"""

from ftscope.rag.corpus import Corpus, Passage, RagQuestion, load_corpus, load_questions
from ftscope.rag.documents import Chunking
from ftscope.rag.retrievers import BM25Retriever, DenseRetriever, HybridRetriever, Retriever

# Defined before the pipeline import below, which looks retrievers up here by name.
RETRIEVERS: dict[str, type[BM25Retriever] | type[DenseRetriever] | type[HybridRetriever]] = {
    "bm25": BM25Retriever,
    "dense": DenseRetriever,
    "hybrid": HybridRetriever,
}

from ftscope.rag.pipeline import RagSpec, load_rag_corpus, run_rag  # noqa: E402

__all__ = [
    "RETRIEVERS",
    "BM25Retriever",
    "Chunking",
    "Corpus",
    "DenseRetriever",
    "HybridRetriever",
    "Passage",
    "RagQuestion",
    "RagSpec",
    "Retriever",
    "load_corpus",
    "load_questions",
    "load_rag_corpus",
    "run_rag",
]
