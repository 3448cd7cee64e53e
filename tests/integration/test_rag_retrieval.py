"""BM25 and the packaged MiniLM over the shared NYT file: retrieval finds the gold paragraph.

Chance is 5 / ~2,000 paragraphs (0.25%); recall@5 above 0.5 means the whole path (loading, indexing,
tokenising, the cache) works on real data. The index cache ($FTSCOPE_CACHE or the user cache dir) is
used on purpose: the first run embeds ~2k paragraphs (about a minute on 2 CPU cores), later runs load.
"""

from pathlib import Path

import pytest

from ftscope.errors import ModelError
from ftscope.rag import RETRIEVERS, DenseRetriever, load_corpus
from ftscope.rag.metrics import recall_at_k

NYT = Path(__file__).resolve().parents[3] / "shared" / "data" / "squad_shifts" / "nyt_v1.0.json"


@pytest.fixture(scope="module")
def nyt():
    if not NYT.exists():
        pytest.skip(f"{NYT} not found (the shared data folder sits beside the repository)")
    return load_corpus(NYT)


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["bm25", "dense"])
def test_recall_at_5_on_nyt_is_far_above_chance(nyt, kind):
    questions = nyt.questions[:50]
    hits = RETRIEVERS[kind].open(nyt).search([q.question for q in questions], k=5)
    ranked = [[nyt.passages[i].id for i, _ in row] for row in hits]
    recall = sum(recall_at_k(ids, q.gold_passage_id, 5) for ids, q in zip(ranked, questions)) / len(questions)
    assert recall > 0.5, f"{kind} recall@5 = {recall:.2f}"


@pytest.mark.integration
def test_missing_embedding_model_is_one_clear_line(tmp_path):
    with pytest.raises(ModelError, match="cannot load offline") as err:
        DenseRetriever.build(["text"], model=str(tmp_path / "no-model"))
    assert "\n" not in str(err.value)
