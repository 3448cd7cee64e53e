"""Every training method × a tiny random Llama: it learns, it saves, it reloads to the same predictions.

The tiny model (conftest's: hidden 32, 2 layers, 4 heads) uses the real SmolLM2 tokenizer, so prompts, targets and EOS
are tokenized exactly as for the real model; a run costs a few seconds.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from ftscope.evaluation import EvalSpec, evaluate
from ftscope.models import LoadOptions, language_model, load_model
from ftscope.prompts import context, template_for
from ftscope.tasks import Catalogue
from ftscope.training import METHODS, TrainSpec, load_trained, train
from ftscope.training.batches import collate
from ftscope.training.data import build_data
from ftscope.training.fticl import demos
from ftscope.training.tokens import tokenize

CASES = [("full", "full"), ("lora", "full"), ("prompt_tuning", "full"), ("fticl", "full"), ("fticl", "lora"),
         ("promot", "full"), ("promot", "lora")]
LR = {"full": 1e-2, "lora": 1e-2, "prompt": 1e-1}
CPU = LoadOptions(device="cpu")


def test_every_method_is_covered():
    assert {m for m, _ in CASES} == set(METHODS)


@pytest.fixture(scope="module")
def catalogue(paper_data):
    return Catalogue(paper_data)


def tiny_spec(tiny, method: str, tune: str = "full", **overrides) -> TrainSpec:
    spec = TrainSpec(model=str(tiny), method=method, tune=tune, datasets=("amazon",), n=2, epochs=5, batch_size=2,
                     grad_accum=1, fticl_k=2, prompt_tokens=4, promot_steps=3, promot_lr=0.1, checkpoint_every=0)
    return TrainSpec(**{**spec.__dict__, "lr": LR[spec.tuned], **overrides})


@pytest.fixture(scope="module")
def trained(tiny, catalogue, tmp_path_factory):
    """Each case trained once, on first use, into its own folder."""
    done = {}

    def get(method: str, tune: str):
        if (method, tune) not in done:
            out = tmp_path_factory.mktemp(f"{method}-{tune}")
            done[(method, tune)] = train(tiny_spec(tiny, method, tune), out, catalogue)
        return done[(method, tune)]

    return get


def manifest(out) -> dict:
    return json.loads((out / "manifest.json").read_text())


@pytest.mark.parametrize("method,tune", CASES)
def test_a_few_steps_on_a_repeated_batch_lower_the_loss(trained, method, tune):
    m = manifest(trained(method, tune))
    last_stage = [p["loss"] for p in m["loss_curve"] if p["stage"] == m["stages"][-1]["name"]]
    assert len(last_stage) == 5 and last_stage[-1] < last_stage[0]
    assert m["tokens"]["target"] > 0 and m["tokens"]["truncated_examples"] == 0
    assert set(m["heldout"]) >= {"base_loss", "tuned_loss"} and m["heldout"]["texts"] > 0
    assert m["weight_change"]["params"] > 0
    assert (m["weight_change"]["mean_abs"] == 0) == (m["tuned"] == "prompt")


@pytest.mark.parametrize("method,tune", CASES)
def test_saved_result_reloads_to_identical_predictions(trained, catalogue, tiny, method, tune):
    out = trained(method, tune)
    m = manifest(out)
    assert m["reload_check"]["same_argmax"] and m["reload_check"]["max_abs_logit_diff"] < 1e-4
    assert not list(out.glob("*.bin")) and not (out / "checkpoints").exists()
    assert set(m["spec"]) and m["base_model"]["sha256"] and m["data"][0]["example_ids"]
    # The lead's path (load_model with --adapter, or the folder as a model) agrees with load_trained.
    ours = load_trained(out, options=CPU)
    theirs = load_model(str(out), options=CPU) if m["artefact"]["kind"] == "model" else \
        load_model(str(tiny), adapter=str(out), options=CPU)
    test = catalogue.test("amazon").head(6)
    spec = EvalSpec("amazon", shots=0, scoring="loglik")
    a = evaluate(language_model(ours), test, spec).predictions
    b = evaluate(language_model(theirs), test, spec).predictions
    assert [p.prediction for p in a] == [p.prediction for p in b]
    assert all(abs(x.scores[k] - y.scores[k]) < 1e-3 for x, y in zip(a, b) for k in x.scores)


@pytest.mark.parametrize("tune", ["full", "lora"])
def test_promot_without_its_prompt_differs_from_with_it(trained, tune):
    out = trained("promot", tune)
    assert (out / "soft_prompt" / "adapter_model.safetensors").is_file()
    ids = torch.tensor([[3757, 18279, 2572, 42]])
    bare = load_trained(out, options=CPU).model(input_ids=ids).logits
    kept = load_trained(out, keep_soft_prompt=True, options=CPU).model(input_ids=ids).logits
    assert bare.shape == kept.shape and not torch.allclose(bare, kept, atol=1e-4)


def test_soft_prompt_scores_the_same_with_prefix_cache_as_plainly(trained, catalogue):
    """The scorer's KV-prefix reuse and left padding must see the prompt exactly once, at the start."""
    loaded = load_trained(trained("prompt_tuning", "full"), options=CPU)
    lm = language_model(loaded)
    prefix = "### Input:\nfine\n### Sentiment:positive\n\n"
    prompts = ["### Input:\nbad\n### Sentiment:", "### Input:\nok ok\n### Sentiment:"]
    choices = ["positive", "negative"]
    cached = lm.score_choices(prefix, prompts, choices, "loglik")
    for p, row in zip(prompts, cached):
        for choice, score in zip(choices, row):
            ctx = lm.encode(prefix + p)
            full = lm.encode(prefix + p + choice)
            with torch.no_grad():
                logp = loaded.model(input_ids=torch.tensor([full])).logits[0].log_softmax(-1)
            plain = sum(float(logp[i - 1, full[i]]) for i in range(len(ctx), len(full)))
            assert abs(plain - score) < 1e-3


@pytest.mark.parametrize("mode", ["fixed", "sampled"])
def test_fticl_batches_carry_the_demonstrations(tiny, catalogue, mode):
    spec = tiny_spec(tiny, "fticl", fticl_demos=mode, n=6).resolved()
    data = build_data(spec, catalogue, METHODS["fticl"].demos)
    pool = catalogue.train("amazon", 6, seed=0)
    template = template_for(pool.task, "p1")
    pick = demos(spec, catalogue, pool)
    for i, item in enumerate(data.items):
        shown = pick(i)
        assert len(shown) == 2 and item.prompt.startswith(context(template, pool.task, shown))
        if mode == "fixed":
            assert shown == catalogue.test("amazon").fewshot[:2]
        else:
            assert pool.examples[i] not in shown and all(d in pool.examples for d in shown)
    tokenizer = load_model(str(tiny), options=CPU).tokenizer
    rows = tokenize(data.items, tokenizer, 1024).rows
    batch = collate(rows[:2], tokenizer.pad_token_id)
    text = tokenizer.decode(batch.input_ids[0][batch.attention_mask[0] == 1])
    assert text.startswith(context(template, pool.task, pick(0)).rstrip()[:200])


def test_same_seed_gives_identical_weights(tiny, catalogue, tmp_path):
    spec = tiny_spec(tiny, "lora", lora_dropout=0.1)
    a, b = train(spec, tmp_path / "a", catalogue), train(spec, tmp_path / "b", catalogue)
    wa, wb = load_file(a / "adapter_model.safetensors"), load_file(b / "adapter_model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert manifest(a)["loss_curve"] == manifest(b)["loss_curve"]


def test_a_finished_folder_is_returned_not_retrained(trained, tiny, catalogue):
    out = trained("lora", "full")
    before = (out / "manifest.json").stat().st_mtime_ns
    assert train(tiny_spec(tiny, "lora"), out, catalogue) == out
    assert (out / "manifest.json").stat().st_mtime_ns == before


def test_a_folder_of_another_spec_is_refused_and_bad_data_leaves_no_trace(trained, tiny, catalogue, tmp_path):
    from ftscope.errors import ConfigError, DataError

    with pytest.raises(ConfigError, match="finished run of another spec"):
        train(tiny_spec(tiny, "lora", seed=1), trained("lora", "full"), catalogue)
    with pytest.raises(DataError, match="asked for n=7000"):
        train(tiny_spec(tiny, "lora", n=7000), tmp_path / "big", catalogue)
    assert not (tmp_path / "big").exists() or not any((tmp_path / "big").iterdir())


def _step_gradient(model_dir, rows, pad_id, max_batch_tokens: int) -> tuple[float, dict[str, torch.Tensor]]:
    from accelerate import Accelerator

    from ftscope.training.loop import Setup, backward_step

    model = load_model(str(model_dir), options=CPU).model.train()
    model.requires_grad_(True)
    setup = Setup(Accelerator(cpu=True), pad_id, False, 1.0, 0.0, max_batch_tokens, 0, "test")
    loss = backward_step(model, rows, [list(range(len(rows)))], setup, {})
    return loss, {k: p.grad.detach().clone() for k, p in model.named_parameters() if p.grad is not None}


def test_splitting_batches_by_token_budget_keeps_the_gradient(tiny, catalogue):
    """The loss is normalised over the whole step, so running a batch in pieces changes only memory.

    Checked on the gradient of one step, which is what the claim is about. Whole and split runs add the
    same per-token terms in a different order (and through matmuls of different shapes), so they agree to
    fp32 rounding: relative differences of order sqrt(T)·2^-24 for T summed terms, a few 1e-7 here. The
    tolerance, 1e-4 of the gradient's largest entry (and 1e-5 relative on the loss), leaves two orders of
    margin over that and still fails a wrong normalisation (a mean of per-piece means moves every entry by
    tens of percent). Weights after several AdamW steps are *not* compared: Adam divides by sqrt(v), which
    amplifies rounding in near-zero gradient entries into weight differences that depend on the CPU's
    kernels (that comparison failed on a machine other than the one that wrote it).
    """
    spec = tiny_spec(tiny, "full", n=4, batch_size=4).resolved()
    tokenizer = load_model(str(tiny), options=CPU).tokenizer
    rows = tokenize(build_data(spec, catalogue).items, tokenizer, 1024).rows
    assert len({len(r) for r in rows}) > 1  # rows of different lengths: the whole batch is padded
    loss_whole, whole = _step_gradient(tiny, rows, tokenizer.pad_token_id, max_batch_tokens=100_000)
    loss_split, split = _step_gradient(tiny, rows, tokenizer.pad_token_id, max_batch_tokens=1)
    assert loss_split == pytest.approx(loss_whole, rel=1e-5)
    scale = max(float(g.abs().max()) for g in whole.values())
    assert whole.keys() == split.keys() and scale > 0
    worst = max(float((whole[k] - split[k]).abs().max()) for k in whole)
    assert worst <= 1e-4 * scale, f"largest gradient difference {worst:.3g} vs scale {scale:.3g}"
