"""`--model ftscope` (FtscopeLM over ftscope's scorer) against lm-eval's own HFLM: same tiny model, same requests.

Tolerance. Both take a float32 log-softmax of the same logits, but from differently shaped batches: HFLM
runs each context+continuation as one right-padded row; FtscopeLM runs a context once (after a shared
prefix) and continues from its KV cache. Matmul summation order therefore differs, moving a token's
log-probability by ~1e-6 relative; a sum over n tokens moves by up to n times that. LOGPROB (1e-5
relative, 1e-4 absolute) leaves a wide margin over the worst seen here (3e-5 absolute on a sum near
-1300) and holds on any BLAS. Answer choices closer than 2 x 1e-4 could flip either way on another
machine, so argmax agreement is asserted only where the top two are further apart.
"""

from __future__ import annotations

from pathlib import Path

import pytest

lm_eval = pytest.importorskip("lm_eval")

from lm_eval.api.instance import Instance  # noqa: E402
from lm_eval.models.huggingface import HFLM  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402

from ftscope.errors import ConfigError  # noqa: E402
from ftscope.evaluation.lm_eval.model import FtscopeLM, ModelArgs  # noqa: E402
from ftscope.models import language_model  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lm_eval"
LOGPROB = dict(rel=1e-5, abs=1e-4)
TIE = 2e-4
MAX_LENGTH = 64  # below the 2-shot contexts' length: HFLM's left truncation and several rolling windows run
TASKS = ["arc_like", "hellaswag_like", "qa_like", "text_like"]
FEW = ("Question: Which planet is closest to the Sun?\nAnswer: Mercury\n\n"
       "Question: What do caterpillars turn into?\nAnswer: butterflies\n\n")


@pytest.fixture(scope="module")
def models(tiny_loaded):
    # A small token budget and row cap force several batches per forward kind.
    ours = FtscopeLM(language_model(tiny_loaded, batch_tokens=256, max_rows=4))
    theirs = HFLM(pretrained=tiny_loaded.model, tokenizer=tiny_loaded.tokenizer, batch_size=3, device="cpu")
    return ours, theirs


@pytest.fixture(scope="module")
def task_runs(tiny_loaded):
    ours = FtscopeLM(language_model(tiny_loaded, batch_tokens=256, max_rows=4), max_length=MAX_LENGTH)
    theirs = HFLM(pretrained=tiny_loaded.model, tokenizer=tiny_loaded.tokenizer, batch_size=3, device="cpu",
                  max_length=MAX_LENGTH)
    manager = TaskManager(include_path=str(FIXTURES), include_defaults=False)
    return [lm_eval.simple_evaluate(model=m, tasks=TASKS, num_fewshot=2, limit=10, task_manager=manager,
                                    log_samples=True, bootstrap_iters=0) for m in (ours, theirs)]


def _responses(run, task):
    return [r[0] for s in sorted(run["samples"][task], key=lambda s: s["doc_id"]) for r in s["resps"]]


@pytest.mark.parametrize("task", ["arc_like", "hellaswag_like"])
def test_multiple_choice_logliks_and_greedy_flags_match_hflm(task_runs, task):
    ours, theirs = (_responses(run, task) for run in task_runs)
    assert len(ours) == len(theirs) > 30
    assert [lp for lp, _ in ours] == pytest.approx([lp for lp, _ in theirs], **LOGPROB)
    assert [g for _, g in ours] == [g for _, g in theirs]


@pytest.mark.parametrize("task", ["arc_like", "hellaswag_like"])
def test_multiple_choice_answers_match_hflm(task_runs, task):
    decided = 0
    samples = [sorted(run["samples"][task], key=lambda s: s["doc_id"]) for run in task_runs]
    for ours, theirs in zip(*samples):
        scores = sorted((r[0][0] for r in theirs["resps"]), reverse=True)
        if scores[0] - scores[1] > TIE:
            decided += 1
            assert ours["acc"] == theirs["acc"] and ours["acc_norm"] == theirs["acc_norm"]
    assert decided >= 0.9 * len(samples[0])


def test_rolling_loglikelihood_matches_hflm_over_several_windows(task_runs):
    ours, theirs = (_responses(run, "text_like") for run in task_runs)
    assert ours == pytest.approx(theirs, **LOGPROB)
    assert task_runs[0]["results"]["text_like"]["bits_per_byte,none"] == pytest.approx(
        task_runs[1]["results"]["text_like"]["bits_per_byte,none"], rel=1e-5)


def test_generation_task_matches_hflm(task_runs):
    assert _responses(task_runs[0], "qa_like") == _responses(task_runs[1], "qa_like")


def _requests(kind, pairs):
    return [Instance(kind, {}, args, i, task_name="t") for i, args in enumerate(pairs)]


def _greedy_next(tiny_loaded, context):
    """The greedy next token after `context` as text: a continuation whose greedy flag must be True."""
    import torch

    tok = tiny_loaded.tokenizer
    with torch.no_grad():
        logits = tiny_loaded.model(torch.tensor([tok(context).input_ids])).logits[0, -1]
    return tok.decode([int(logits.argmax())])


def test_direct_requests_match_hflm(models, tiny_loaded):
    """A shared few-shot prefix, duplicates, one- and many-token continuations, trailing spaces, an empty
    context, and continuations that are the greedy ones."""
    ours, theirs = models
    queries = ["Question: Which gas do plants take in?\nAnswer:", "Question: What pulls objects down?\nAnswer: ",
               "Question: Which organ pumps blood?\nAnswer:"]
    pairs = [(FEW + q, c) for q in queries for c in (" oxygen", "gravity", " the heart and the lungs", " a")]
    pairs += [(FEW + q, _greedy_next(tiny_loaded, FEW + q)) for q in queries]
    pairs += [pairs[0], ("", "Hello world"), ("Short", " one")]
    requests = _requests("loglikelihood", pairs)
    got, want = ours.loglikelihood(requests), theirs.loglikelihood(requests)
    assert [lp for lp, _ in got] == pytest.approx([lp for lp, _ in want], **LOGPROB)
    assert [g for _, g in got] == [g for _, g in want]
    assert any(g for _, g in want)  # the greedy continuations make the flag comparison informative


def test_generate_until_matches_hflm_texts(models):
    ours, theirs = models
    contexts = [FEW + "Question: Which gas do plants take in?\nAnswer:", "The river rises in the hills",
                FEW + "Question: Which organ pumps blood?\nAnswer:"]
    free = ours.generate_until(_requests("generate_until", [(c, {"until": [], "max_gen_toks": 12}) for c in contexts]))
    stop = free[0][3:5] if len(free[0]) > 5 and free[0][3:5].strip() else "\n"
    for kwargs in ({"until": [], "max_gen_toks": 12}, {"until": [stop], "max_gen_toks": 12},
                   {"until": ["\n\n", stop], "max_gen_toks": 5, "do_sample": False}):
        reqs = _requests("generate_until", [(c, kwargs) for c in contexts])
        assert ours.generate_until(reqs) == theirs.generate_until(reqs)


def test_sampled_generation_is_refused_in_one_line(models):
    with pytest.raises(ConfigError, match="do_sample=True.*--model hf"):
        models[0].generate_until(_requests("generate_until", [("Hi", {"until": [], "do_sample": True,
                                                                       "temperature": 0.7})]))


@pytest.mark.parametrize("args, message", [({"bogus": 1}, "bogus not understood"),
                                           ({"dtype": "float16"}, "dtype=float16 is not one of"),
                                           ({"trust_remote_code": "yes"}, "True or False")])
def test_bad_model_args_get_one_line(args, message):
    with pytest.raises(ConfigError, match=message):
        ModelArgs.parse(args)


def test_lm_evals_own_flags_are_accepted():
    assert ModelArgs.parse({"pretrained": "x", "batch_size": 8, "max_batch_size": 64}).pretrained == "x"


def test_registered_beside_lm_evals_own_models():
    from lm_eval.api.registry import get_model

    from ftscope.evaluation.lm_eval import register

    register()
    register()  # idempotent
    assert get_model("ftscope") is FtscopeLM
    assert get_model("hf") is HFLM


def test_progress_counts_distinct_continuations_to_the_total(tiny_loaded):
    lm = language_model(tiny_loaded, batch_tokens=64, max_rows=2)  # several batches
    calls = []
    pairs = [(FEW + "Question: Why?\nAnswer:", c) for c in (" yes", " no", " no")] + [("x", " y"), ("z", " w")]
    lm.loglikelihood(pairs, progress=lambda done, total: calls.append((done, total)))
    assert len(calls) > 1 and calls[-1] == (4, 4)  # the repeated " no" is scored once


def test_chat_template_prompts_match_hflm(models):
    """--apply_chat_template: the prompt starts with the template's BOS text, so neither adds another."""
    manager = TaskManager(include_path=str(FIXTURES), include_defaults=False)
    ours, theirs = (lm_eval.simple_evaluate(model=m, tasks=["arc_like"], num_fewshot=2, limit=3, task_manager=manager,
                                            log_samples=True, apply_chat_template=True, fewshot_as_multiturn=True,
                                            bootstrap_iters=0) for m in models)
    assert ours["samples"]["arc_like"][0]["arguments"][0][0].startswith("<|im_start|>")
    assert [lp for lp, _ in _responses(ours, "arc_like")] == pytest.approx(
        [lp for lp, _ in _responses(theirs, "arc_like")], **LOGPROB)
