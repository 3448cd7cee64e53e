from ftscope.prompts import context, render, select_demos, template_for
from ftscope.tasks import PAPER_TASKS
from ftscope.types import Example

SENT = PAPER_TASKS["sentiment"]
DEMOS = tuple(Example(str(i), {"input": f"text {i}"}, "positive" if i % 3 else "negative") for i in range(9))


def test_prompt1_renders_as_the_paper_with_no_space_before_the_target():
    template = template_for(SENT, "p1")
    assert render(template, DEMOS[0]) == "### Input:\ntext 0\n### Sentiment:"
    assert context(template, SENT, DEMOS[:2]) == (
        "### Input:\ntext 0\n### Sentiment:negative\n\n### Input:\ntext 1\n### Sentiment:positive\n\n")


def test_prompt2_is_the_natural_language_set():
    assert template_for(PAPER_TASKS["inference"], "p2").endswith("The relation is ")


def test_selection_first_random_balanced():
    assert select_demos(DEMOS, 3, "first") == DEMOS[:3]
    assert select_demos(DEMOS, 3, "random", seed=1) == select_demos(DEMOS, 3, "random", seed=1)
    balanced = select_demos(DEMOS, 4, "balanced", seed=0)
    assert sorted(d.target for d in balanced) == ["negative", "negative", "positive", "positive"]
    assert select_demos(DEMOS, 0) == ()
