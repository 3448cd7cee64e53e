"""The five tasks of Yang et al. (NAACL 2024), with the settings of the paper's published scripts.

Shot counts per task are those of the paper's evaluate_cross.py; generation gets at most 60 new
tokens and classification 5. FTICL's k per task is what the paper's repository trains with: 1 and 2
demonstrations for summary and question generation, 2 and 4 for sentiment and paraphrase, 3 and 5 for NLI.
"""

from __future__ import annotations

from ftscope.tasks.kinds import Task

SUMMARY = Task(
    "summary", "generation", ("input",), paper_shots=(0, 1, 2, 4), paper_fticl_k=(1, 2),
    train_dataset="xsum"
)
QUESTION = Task(
    "question", "generation", ("input", "answer"), paper_shots=(0, 1, 2, 4),
    paper_fticl_k=(1, 2), train_dataset="socialqa"
)
SENTIMENT = Task(
    "sentiment",
    "classification",
    ("input",),
    labels=("positive", "negative"),
    max_new_tokens=5,
    paper_shots=(0, 2, 4, 6),
    paper_fticl_k=(2, 4),
    train_dataset="amazon",
)
DETECTION = Task(
    "detection",
    "classification",
    ("input_1", "input_2"),
    labels=("yes", "no"),
    max_new_tokens=5,
    paper_shots=(0, 2, 4, 6),
    paper_fticl_k=(2, 4),
    train_dataset="paws",
)
INFERENCE = Task(
    "inference",
    "classification",
    ("input_1", "input_2"),
    labels=("entailment", "neutral", "contradiction"),
    max_new_tokens=5,
    paper_shots=(0, 3, 5, 7),
    paper_fticl_k=(3, 5),
    train_dataset="multinli",
)

PAPER_TASKS = {t.name: t for t in (SUMMARY, QUESTION, SENTIMENT, DETECTION, INFERENCE)}

# Reading comprehension, for the RAG study (Barnett et al.): models tuned on SQuAD question–answer
# pairs with their contexts, then placed in a retrieval pipeline.
QA = Task("qa", "generation", ("context", "question"), max_new_tokens=32, train_dataset="squad",
          templates={"p1": "### Context:\n{context}\n### Question:\n{question}\n### Answer:",
                     "p2": "Read the text:{context}\nAnswer the question:{question}\nAnswer:"})
TASKS = {**PAPER_TASKS, QA.name: QA}
