"""The RAG evaluation: question -> top-k passages -> prompt -> answer -> scores (and a judge's grades).

This is the Barnett et al. setting: the same retrieval for every model, so a drop in answer quality
after fine-tuning is the model's, not the retriever's. It returns its results and writes nothing; the
experiment layer's CellFiles owns the files.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ftscope.errors import ConfigError, DataError
from ftscope.rag import RETRIEVERS
from ftscope.rag.corpus import Corpus, Passage, RagQuestion, load_corpus, load_questions
from ftscope.rag.documents import Chunking
from ftscope.rag.judge import Grader, check_template as check_judge_template, judge_answers
from ftscope.rag.prompting import BuiltPrompt, CountTokens, build_prompt, check_template, generate_all
from ftscope.rag.prompting import whitespace_tokens
from ftscope.rag.scoring import aggregate, score_question
from ftscope.specs import RagSpec
from ftscope.tasks.paper import QA
from ftscope.types import LanguageModel

# The training format of the RAG study's tuned models (the qa task's Prompt-1), with the retrieved
# passages as the context: a model tuned on SQuAD pairs is asked exactly as it was trained.
TRAIN_FORMAT = QA.templates["p1"]


@dataclass
class RagResult:
    records: list[dict]  # one per question: the answer, its gold answers, what was retrieved, its scores
    metrics: dict  # means with standard errors, counts, and the judge's identity when one graded
    notes: list[str]
    corpus: str


def check_spec(spec: RagSpec) -> RagSpec:
    """One line for the first bad value of a RAG spec (the dataclass itself is plain data)."""
    if spec.retriever not in RETRIEVERS:
        raise ConfigError(f"rag: retriever: '{spec.retriever}' is not one of {', '.join(RETRIEVERS)}")
    for name in ("k", "max_new_tokens", "passage_budget"):
        if getattr(spec, name) < 1:
            raise ConfigError(f"rag: {name}: {getattr(spec, name)} must be at least 1")
    if spec.limit is not None and spec.limit < 1:
        raise ConfigError(f"rag: limit: {spec.limit} must be at least 1, or None for every question")
    check_template(spec.template, ("context", "question"), "template")
    if spec.judge_template is not None:
        check_judge_template(spec.judge_template)
    Chunking(spec.chunking, spec.chunk_size, spec.chunk_overlap)  # building the rule validates it
    return spec


def load_rag_corpus(spec: RagSpec) -> Corpus:
    """The spec's corpus with its questions (from `spec.questions` when given); errors if none."""
    corpus = load_corpus(spec.corpus, Chunking(spec.chunking, spec.chunk_size, spec.chunk_overlap))
    if spec.questions:
        questions, skipped = load_questions(spec.questions)
        corpus = replace(corpus, questions=tuple(questions), skipped_no_answer=skipped)
    if not corpus.questions:
        raise DataError(
            f"{spec.questions or spec.corpus}: no questions with a gold answer; give a SQuAD-format file "
            "or questions= a JSONL file with id, question and answers"
        )
    return corpus


def run_rag(spec: RagSpec, lm: LanguageModel, judge: Grader | None = None,
            count_tokens: CountTokens = whitespace_tokens) -> RagResult:
    """Answer every question (up to `limit`) from its retrieved passages and score the answers.

    `count_tokens` measures the passage budget; pass the model tokenizer's length for exact cuts."""
    check_spec(spec)
    corpus = load_rag_corpus(spec)
    questions = list(corpus.questions[: spec.limit])
    retrieved = _retrieve(spec, corpus, questions)
    template = TRAIN_FORMAT if spec.format == "train" else spec.template
    built = [build_prompt(template, q.question, [p.text for p in ps], spec.passage_budget, count_tokens)
             for q, ps in zip(questions, retrieved)]
    prompts = [b.prompt for b in built]
    # The instruct format goes in the model's chat template: an instruct model given raw "...Answer:" text
    # often ends its turn at once. The training format is what the tuned model saw, unwrapped.
    if spec.format == "instruct" and hasattr(lm, "chat_prompt"):
        prompts = [lm.chat_prompt(p) for p in prompts]
    # Stop at a blank line, not a newline: instruct models often open with "\n" before the answer,
    # and _first_line keeps the first non-empty line anyway.
    replies = generate_all(lm, prompts, spec.max_new_tokens, ["\n\n"], "rag answer")
    predictions = [_first_line(r) for r in replies]
    records = [_record(q, pred, [p.id for p in ps], b, spec.k)
               for q, pred, ps, b in zip(questions, predictions, retrieved, built)]
    if judge is not None:
        _add_grades(records, judge_answers(judge, spec.judge_template, [q.question for q in questions],
                                           [q.answers for q in questions], predictions))
    return _result(spec, corpus, records, judge)


def _retrieve(spec: RagSpec, corpus: Corpus, questions: list[RagQuestion]) -> list[list[Passage]]:
    retriever = RETRIEVERS[spec.retriever].open(corpus, spec.embedding_model, spec.cache)
    hits = retriever.search([q.question for q in questions], spec.k)
    return [[corpus.passages[i] for i, _ in row] for row in hits]


def _record(question: RagQuestion, prediction: str, ids: list[str], built: BuiltPrompt, k: int) -> dict:
    return {"id": question.id, "question": question.question, "prediction": prediction,
            "gold": list(question.answers), "gold_passage_id": question.gold_passage_id, "retrieved": ids,
            "truncated": built.truncated, "scores": score_question(question, prediction, ids, built.shown, k)}


def _add_grades(records: list[dict], grades: list[dict[str, float | None]]) -> None:
    for record, grade in zip(records, grades):
        record["scores"].update({f"judge_{name}": value for name, value in grade.items() if value is not None})


def _first_line(reply: str) -> str:
    # Models may ignore `stop`; the answer is the first line either way, as the template asks.
    return reply.strip().split("\n", 1)[0].strip()


def _result(spec: RagSpec, corpus: Corpus, records: list[dict], judge: Grader | None) -> RagResult:
    metrics = aggregate([r["scores"] for r in records])
    metrics.update({"truncated": sum(r["truncated"] for r in records), "skipped_no_answer": corpus.skipped_no_answer,
                    "format": spec.format, "judge": judge.name if judge else None})
    notes = [f"{corpus.skipped_no_answer} question(s) without a gold answer were left out"] \
        if corpus.skipped_no_answer else []
    return RagResult(records, metrics, notes, corpus.name)
