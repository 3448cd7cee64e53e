"""BM25 and the packaged MiniLM over the shared NYT file: retrieval finds the gold paragraph.

The corpus is the file's first 250 paragraphs (of 2,017) and the questions 50 of those whose gold paragraph is
among them, spread over all 250: chance is 5 / 250 (2%), so recall@5 above 0.5 means the whole path
(loading, indexing, tokenising, the cache) works on real data. An eighth of the file, because a fresh machine
embeds it every time (the index cache, $FTSCOPE_CACHE or the user cache dir, starts empty in CI): on 2 slow
cores the whole file took 128 s of the suite, these 250 paragraphs ~30 s, a third of it importing
sentence-transformers.
"""

from pathlib import Path

import pytest

from ftscope.errors import ModelError
from ftscope.rag import RETRIEVERS, DenseRetriever, load_corpus
from ftscope.rag.corpus import Corpus
from ftscope.rag.metrics import recall_at_k

PASSAGES, QUESTIONS = 250, 50
NYT = Path(__file__).resolve().parents[3] / "shared" / "data" / "squad_shifts" / "nyt_v1.0.json"


@pytest.fixture(scope="module")
def nyt():
    if not NYT.exists():
        pytest.skip(f"{NYT} not found (the shared data folder sits beside the repository)")
    whole = load_corpus(NYT)
    passages = whole.passages[:PASSAGES]
    kept = {p.id for p in passages}
    asked = [q for q in whole.questions if q.gold_passage_id in kept]
    return Corpus(f"{whole.name}-first-{PASSAGES}", passages, tuple(asked[::len(asked) // QUESTIONS][:QUESTIONS]))


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["bm25", "dense"])
def test_recall_at_5_on_nyt_is_far_above_chance(nyt, kind):
    questions = nyt.questions
    assert len(questions) == QUESTIONS and len({q.gold_passage_id for q in questions}) > 40  # spread, not one article
    hits = RETRIEVERS[kind].open(nyt).search([q.question for q in questions], k=5)
    ranked = [[nyt.passages[i].id for i, _ in row] for row in hits]
    recall = sum(recall_at_k(ids, q.gold_passage_id, 5) for ids, q in zip(ranked, questions)) / len(questions)
    assert recall > 0.5, f"{kind} recall@5 = {recall:.2f}"


@pytest.mark.integration
def test_missing_embedding_model_is_one_clear_line(tmp_path):
    with pytest.raises(ModelError, match="cannot load offline") as err:
        DenseRetriever.build(["text"], model=str(tmp_path / "no-model"))
    assert "\n" not in str(err.value)
