"""Turning a question and its retrieved passages into one prompt, within a per-passage token budget."""

from __future__ import annotations

import re
from typing import Callable, Mapping, NamedTuple, Sequence

from rich.progress import Progress

from ftscope.errors import ConfigError
from ftscope.types import LanguageModel

DEFAULT_TEMPLATE = (
    "Answer the question using the context.\n\nContext:\n{context}\n\nQuestion: {question}\nAnswer:"
)
CountTokens = Callable[[str], int]
GENERATE_CHUNK = 256
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def whitespace_tokens(text: str) -> int:
    return len(text.split())


def check_template(template: str, needs: Sequence[str], field: str) -> None:
    wanted = ["{" + name + "}" for name in needs]
    missing = [w for w in wanted if w not in template]
    if missing:
        raise ConfigError(f"rag: {field}: missing {', '.join(missing)}; a template needs {', '.join(wanted)}")


def fill(template: str, values: Mapping[str, str]) -> str:
    """Substitute {name} placeholders in one pass.

    Not str.format: templates may hold other literal braces, and a passage that happens to contain
    '{question}' must stay as it is rather than be substituted a second time.
    """
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def truncate(text: str, budget: int, count_tokens: CountTokens = whitespace_tokens) -> tuple[str, bool]:
    """The longest whole-word prefix of `text` within `budget` tokens, and whether anything was cut.

    Binary search over the word count, so a real tokenizer is called O(log words) times, not per word.
    """
    if count_tokens(text) <= budget:
        return text, False
    words = text.split()
    lo, hi = 0, len(words)  # invariant: words[:lo] fits, words[:hi+1] does not (or hi is the end)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if count_tokens(" ".join(words[:mid])) <= budget else (lo, mid - 1)
    return " ".join(words[:lo]), True


class BuiltPrompt(NamedTuple):
    prompt: str
    shown: list[str]  # the passage texts as the model saw them, after truncation
    truncated: bool  # whether any passage was cut to fit the budget


def build_prompt(
    template: str, question: str, passages: Sequence[str], budget: int, count_tokens: CountTokens
) -> BuiltPrompt:
    cuts = [truncate(p, budget, count_tokens) for p in passages]
    shown = [text for text, _ in cuts]
    prompt = fill(template, {"context": "\n\n".join(shown), "question": question})
    return BuiltPrompt(prompt, shown, any(cut for _, cut in cuts))


def generate_all(
    lm: LanguageModel, prompts: Sequence[str], max_new_tokens: int, stop: Sequence[str], desc: str
) -> list[str]:
    """All prompts through `lm.generate`, in chunks so a progress bar can show counts and an ETA.

    Chunks are large enough that the model's own length-bucketed batching inside each stays efficient.
    """
    replies: list[str] = []
    with Progress(transient=True) as progress:
        bar = progress.add_task(desc, total=len(prompts))
        for start in range(0, len(prompts), GENERATE_CHUNK):
            chunk = list(prompts[start : start + GENERATE_CHUNK])
            out = lm.generate(prefix="", prompts=chunk, max_new_tokens=max_new_tokens, stop=list(stop))
            if len(out) != len(chunk):
                name = type(lm).__name__
                raise RuntimeError(f"{name}.generate returned {len(out)} answers for {len(chunk)} prompts")
            replies.extend(out)
            progress.advance(bar, len(chunk))
    return replies
