"""Prompt templates as data: the paper's Prompt-1 (`### Input:` style, also the training format) and
Prompt-2 (natural language), from its prompt_map.json. The target follows the template's last colon
with no space, as in the paper, so a demonstration reads `### Sentiment:positive`.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files

from ftscope.errors import ConfigError
from ftscope.tasks import Task
from ftscope.types import Example

TEMPLATE_IDS = ("p1", "p2")
DEMO_SEPARATOR = "\n\n"  # the paper joins demonstrations and the query with a blank line


@cache
def paper_templates() -> dict[str, dict[str, str]]:
    return json.loads(files("ftscope.prompts").joinpath("paper_templates.json").read_text())


def template_for(task: Task, template_id: str) -> str:
    if template_id in task.templates:
        return task.templates[template_id]
    if template_id not in TEMPLATE_IDS:
        raise ConfigError(f"template '{template_id}' is not one of {', '.join(TEMPLATE_IDS)}")
    table = paper_templates()[template_id]
    if task.name not in table:
        raise ConfigError(f"task '{task.name}' has no template '{template_id}'; give one with template: "
                          "in its task spec")
    return table[task.name]


def render(template: str, example: Example) -> str:
    """The prompt for one example, ending where the target begins."""
    return template.format_map(example.fields)


def target_text(task: Task, example: Example) -> str:
    return task.verbalize(example.target) if task.is_classification else example.target


def demonstration(template: str, task: Task, example: Example) -> str:
    return render(template, example) + target_text(task, example) + DEMO_SEPARATOR


def context(template: str, task: Task, demos: tuple[Example, ...]) -> str:
    """The shared few-shot prefix: every demonstration followed by a blank line."""
    return "".join(demonstration(template, task, d) for d in demos)
