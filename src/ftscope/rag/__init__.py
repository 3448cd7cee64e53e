"""RAG evaluation (Barnett et al. 2024, "Fine-Tuning or Fine-Failing?"): corpora, retrievers, the
answer pipeline and its metrics.

    from ftscope.rag import run_rag
    from ftscope.specs import RagSpec
    result = run_rag(RagSpec(corpus="../shared/data/squad_shifts/nyt_v1.0.json", retriever="hybrid"), lm)
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

from ftscope.rag.pipeline import RagResult, check_spec, load_rag_corpus, run_rag  # noqa: E402

__all__ = [
    "RETRIEVERS",
    "BM25Retriever",
    "Chunking",
    "Corpus",
    "DenseRetriever",
    "HybridRetriever",
    "Passage",
    "RagQuestion",
    "RagResult",
    "Retriever",
    "check_spec",
    "load_corpus",
    "load_questions",
    "load_rag_corpus",
    "run_rag",
]
