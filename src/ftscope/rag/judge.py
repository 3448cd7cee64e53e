"""An LLM judge that grades each RAG answer's accuracy and completeness from 1 to 5, as Barnett et al.
graded their pipelines' answers with an LLM.

The rubric follows G-Eval (Liu et al. 2023): one criterion per prompt, with its definition and the
steps to follow, ending where the score is written; the grade is the probability-weighted mean of the
scores 1–5 (read from the judge's next-token probabilities), which G-Eval found to agree with people
better than the single most likely digit and which never leaves a reply unparsed. An endpoint that
returns no probabilities falls back to the digit it writes. The judge is any local model ftscope can
load, or an OpenAI-compatible completions endpoint (what vLLM and llama.cpp's server expose).

Grades sit beside the automatic scores, never instead of them: a small judge is noisy, so the report
shows the judge's identity and its agreement with token F1.
"""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

from ftscope.errors import ConfigError, ModelError
from ftscope.rag.prompting import fill

CRITERIA = {
    "accuracy": ("Accuracy (1-5): is the answer correct? A correct answer states what the reference answers "
                 "state, in any words. 1 means wrong or no answer, 5 means fully correct.",
                 "1. Read the question and the reference answers.\n2. Read the answer.\n"
                 "3. Decide how much of what the answer claims agrees with the references."),
    "completeness": ("Completeness (1-5): does the answer say everything the reference answers say? 1 means "
                     "it says none of it, 5 means it says all of it.",
                     "1. Read the question and the reference answers.\n2. List what the references say.\n"
                     "3. Check how much of that list the answer says."),
}
DEFAULT_JUDGE_TEMPLATE = (
    "You will grade one answer to a question against reference answers.\n\n"
    "Evaluation criterion:\n{criterion}\n\nEvaluation steps:\n{steps}\n\n"
    "Question: {question}\nReference answers: {answers}\nAnswer: {prediction}\n\n"
    "Write only the score, a number from 1 to 5.\nScore:"
)
JUDGE_FIELDS = ("criterion", "steps", "question", "answers", "prediction")
SCORES = ("1", "2", "3", "4", "5")


class Grader(Protocol):
    """Something that turns rubric prompts into expected scores on 1–5 (None when it cannot tell)."""

    name: str

    def grade(self, prompts: Sequence[str]) -> list[float | None]: ...


def expected_score(logprobs: Sequence[float]) -> float | None:
    """The probability-weighted mean of 1..5 from the log-probabilities of the five score tokens."""
    finite = [(i + 1, lp) for i, lp in enumerate(logprobs) if lp is not None and math.isfinite(lp)]
    if not finite:
        return None
    top = max(lp for _, lp in finite)
    weights = [(score, math.exp(lp - top)) for score, lp in finite]
    return sum(s * w for s, w in weights) / sum(w for _, w in weights)


@dataclass
class LocalJudge:
    """A judge loaded in this process; reads the five score tokens' probabilities in one forward pass."""

    lm: Any  # an ftscope language model (score_choices, and chat_prompt when it has a chat template)
    name: str

    def grade(self, prompts: Sequence[str]) -> list[float | None]:
        chat = hasattr(self.lm, "chat_prompt") and self.lm.chat_prompt("x") != "x"
        wrapped = [self.lm.chat_prompt(p) for p in prompts] if chat else list(prompts)
        # In a chat turn the reply starts bare ("4"); after "Score:" in plain text it follows a space.
        choices = list(SCORES) if chat else [" " + s for s in SCORES]
        rows = self.lm.score_choices("", wrapped, choices, "loglik")
        return [expected_score(row) for row in rows]


@dataclass
class EndpointJudge:
    """An OpenAI-compatible /v1/completions endpoint: greedy, one token, with its top log-probabilities."""

    url: str
    model: str
    name: str
    timeout: float = 60.0

    def grade(self, prompts: Sequence[str]) -> list[float | None]:
        return [self._one(p) for p in prompts]

    def _one(self, prompt: str) -> float | None:
        # A few tokens, not one: a model may open with a space or a newline before the score.
        body = {"model": self.model, "prompt": prompt, "max_tokens": 4, "temperature": 0, "logprobs": 5}
        choice = self._post(body)["choices"][0]
        for top in (choice.get("logprobs") or {}).get("top_logprobs") or []:
            found = {tok.strip(): lp for tok, lp in (top or {}).items() if tok.strip() in SCORES}
            if found:  # the first position where a score is among the likely tokens
                return expected_score([found.get(s, -math.inf) for s in SCORES])
        digit = re.search(r"[1-5]", choice.get("text", ""))
        return float(digit.group()) if digit else None

    def _post(self, body: dict) -> dict:
        request = urllib.request.Request(self.url.rstrip("/") + "/completions", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                return json.loads(reply.read())
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise ModelError(f"judge {self.url}: no answer from the endpoint ({e}); check that it serves an "
                             "OpenAI-compatible /v1/completions API") from None


def parse_endpoint(reference: str) -> tuple[str, str] | None:
    """`http(s)://host:port/v1[#model]` → (base URL, model name); None for a local model reference."""
    if not reference.startswith(("http://", "https://")):
        return None
    url, _, model = reference.partition("#")
    return url, model or "default"


def open_judge(reference: str, options: Any = None) -> Grader:
    """A judge by reference: an endpoint URL (`http://host:8000/v1#model-name`) or any model ftscope loads."""
    endpoint = parse_endpoint(reference)
    if endpoint is not None:
        return EndpointJudge(endpoint[0], endpoint[1], reference)
    from ftscope.models import LoadOptions, language_model, load_model

    return LocalJudge(language_model(load_model(reference, options=options or LoadOptions())), reference)


def check_template(template: str) -> None:
    missing = [f"{{{f}}}" for f in JUDGE_FIELDS if f"{{{f}}}" not in template]
    if missing:
        raise ConfigError(f"rag: judge_template: missing {', '.join(missing)}; a judge template needs "
                          f"{', '.join('{' + f + '}' for f in JUDGE_FIELDS)}")


def judge_answers(grader: Grader, template: str | None, questions: Sequence[str],
                  answers: Sequence[Sequence[str]], predictions: Sequence[str]) -> list[dict[str, float | None]]:
    """Per answer: {"accuracy": 1–5 or None, "completeness": …}."""
    template = template or DEFAULT_JUDGE_TEMPLATE
    grades: dict[str, list[float | None]] = {}
    for name, (criterion, steps) in CRITERIA.items():
        prompts = [fill(template, {"criterion": criterion, "steps": steps, "question": q,
                                   "answers": " | ".join(golds), "prediction": p or "(no answer)"})
                   for q, golds, p in zip(questions, answers, predictions)]
        grades[name] = grader.grade(prompts)
    return [dict(zip(grades, values)) for values in zip(*grades.values())]
