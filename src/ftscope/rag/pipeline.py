"""The RAG evaluation: question -> top-k passages -> prompt -> answer -> scores, written to a folder.

This is the Barnett et al. setting: the same retrieval for every model, so a drop in answer quality
after fine-tuning is the model's, not the retriever's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ftscope.errors import ConfigError, DataError
from ftscope.rag import RETRIEVERS
from ftscope.rag.corpus import Corpus, Passage, RagQuestion, load_corpus, load_questions
from ftscope.rag.documents import Chunking
from ftscope.rag.judge import DEFAULT_JUDGE_TEMPLATE, JUDGE_FIELDS, judge_answers
from ftscope.rag.prompting import DEFAULT_TEMPLATE, BuiltPrompt, CountTokens, build_prompt, check_template
from ftscope.rag.prompting import generate_all, whitespace_tokens
from ftscope.rag.scoring import aggregate, score_question
from ftscope.results import write_json, write_jsonl
from ftscope.types import LanguageModel


@dataclass(frozen=True)
class RagSpec:
    """One RAG evaluation cell. `corpus` is a SQuAD-format .json, a .jsonl or a folder of documents;
    a document corpus needs `questions` (JSONL: id, question, answers, gold_passage_id optional)."""

    corpus: str
    retriever: str = "bm25"
    k: int = 3
    limit: int | None = None
    max_new_tokens: int = 32
    template: str = DEFAULT_TEMPLATE
    chunking: str = "paragraph"
    chunk_size: int = 200
    chunk_overlap: int = 50
    passage_budget: int = 256  # tokens per passage, by `count_tokens`, before it is cut
    seed: int = 0
    questions: str | None = None
    embedding_model: str | None = None  # None: the packaged all-MiniLM-L6-v2
    judge_template: str = DEFAULT_JUDGE_TEMPLATE
    cache: bool = True
    # Wrap each prompt in the model's chat template when it has one: an instruct model given raw
    # "...Answer:" text often ends its turn at once instead of answering.
    chat: bool = True

    def __post_init__(self) -> None:
        if self.retriever not in RETRIEVERS:
            raise ConfigError(f"rag: retriever: '{self.retriever}' is not one of {', '.join(RETRIEVERS)}")
        for name in ("k", "max_new_tokens", "passage_budget"):
            if getattr(self, name) < 1:
                raise ConfigError(f"rag: {name}: {getattr(self, name)} must be at least 1")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"rag: limit: {self.limit} must be at least 1, or None for every question")
        check_template(self.template, ("context", "question"), "template")
        check_template(self.judge_template, JUDGE_FIELDS, "judge_template")
        _ = self.chunking_rule  # building the rule validates it

    @property
    def chunking_rule(self) -> Chunking:
        return Chunking(self.chunking, self.chunk_size, self.chunk_overlap)


def load_rag_corpus(spec: RagSpec) -> Corpus:
    """The spec's corpus with its questions (from `spec.questions` when given); errors if none."""
    corpus = load_corpus(spec.corpus, spec.chunking_rule)
    if spec.questions:
        questions, skipped = load_questions(spec.questions)
        corpus = replace(corpus, questions=tuple(questions), skipped_no_answer=skipped)
    if not corpus.questions:
        raise DataError(
            f"{spec.questions or spec.corpus}: no questions with a gold answer; give a SQuAD-format file "
            "or questions= a JSONL file with id, question and answers"
        )
    return corpus


def run_rag(
    spec: RagSpec,
    lm: LanguageModel,
    out_dir: str | Path,
    judge: LanguageModel | None = None,
    count_tokens: CountTokens = whitespace_tokens,
) -> dict:
    """Answer every question (up to `limit`) from its retrieved passages; write predictions.jsonl and
    metrics.json into `out_dir`; return {"rag": {corpus_name: {metric: value, metric_se: ..., n, ...}}}.

    `count_tokens` measures the passage budget; pass the model tokenizer's length for exact cuts.
    """
    corpus = load_rag_corpus(spec)
    questions = list(corpus.questions[: spec.limit])
    retrieved = _retrieve(spec, corpus, questions)
    built = [
        build_prompt(spec.template, q.question, [p.text for p in ps], spec.passage_budget, count_tokens)
        for q, ps in zip(questions, retrieved)
    ]
    # Stop at a blank line, not a newline: instruct models often open with "\n" before the answer,
    # and _first_line keeps the first non-empty line anyway.
    prompts = [b.prompt for b in built]
    if spec.chat and hasattr(lm, "chat_prompt"):
        prompts = [lm.chat_prompt(p) for p in prompts]
    replies = generate_all(lm, prompts, spec.max_new_tokens, ["\n\n"], "rag answer")
    predictions = [_first_line(r) for r in replies]
    ratings = _judge(spec, judge, questions, predictions) if judge else None
    records = [
        _record(q, pred, [p.id for p in ps], b, spec.k)
        for q, pred, ps, b in zip(questions, predictions, retrieved, built)
    ]
    for record, rating in zip(records, ratings or []):
        record["judge"] = rating
    return _write(Path(out_dir), spec, corpus, records, ratings)


def _retrieve(spec: RagSpec, corpus: Corpus, questions: list[RagQuestion]) -> list[list[Passage]]:
    retriever = RETRIEVERS[spec.retriever].open(corpus, spec.embedding_model, spec.cache)
    hits = retriever.search([q.question for q in questions], spec.k)
    return [[corpus.passages[i] for i, _ in row] for row in hits]


def _record(question: RagQuestion, prediction: str, ids: list[str], built: BuiltPrompt, k: int) -> dict:
    return {
        "id": question.id,
        "question": question.question,
        "prediction": prediction,
        "answers": list(question.answers),
        "gold_passage_id": question.gold_passage_id,
        "retrieved": ids,
        "truncated": built.truncated,
        "metrics": score_question(question, prediction, ids, built.shown, k),
    }


def _judge(spec: RagSpec, judge: LanguageModel, questions: list[RagQuestion], predictions: list[str]) -> list:
    golds = [q.answers for q in questions]
    return judge_answers(judge, spec.judge_template, [q.question for q in questions], golds, predictions)


def _first_line(reply: str) -> str:
    # Models may ignore `stop`; the answer is the first line either way, as the template asks.
    return reply.strip().split("\n", 1)[0].strip()


def _write(out_dir: Path, spec: RagSpec, corpus: Corpus, records: list[dict], ratings: list | None) -> dict:
    summary = aggregate([r["metrics"] for r in records], ratings, spec.seed)
    summary["truncated"] = sum(r["truncated"] for r in records)
    summary["skipped_no_answer"] = corpus.skipped_no_answer
    metrics = {"rag": {corpus.name: summary}}
    write_jsonl(out_dir / "predictions.jsonl", records)
    write_json(out_dir / "rag_spec.json", asdict(spec))
    write_json(out_dir / "metrics.json", metrics)  # last: its presence means the run finished
    return metrics
