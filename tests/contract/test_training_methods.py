"""Every training method × a tiny random Llama: it learns, it saves, it reloads to the same predictions.

The tiny model (conftest's: hidden 32, 2 layers, 4 heads) uses the real SmolLM2 tokenizer, so prompts, targets and EOS
are tokenized exactly as for the real model; a run costs a few seconds. Each row of CASES is a method with the
options it runs with; a new method adds its row here (test_every_method_is_covered fails until it does).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ftscope.evaluation import evaluate
from ftscope.models import LoadOptions, language_model, load_model
from ftscope.prompts import context, template_for
from ftscope.specs import EvalSpec, ModelRef, freeze_options
from ftscope.tasks import Catalogue
from ftscope.training import METHODS, TrainSpec, load_trained, open_model, resolve, train, tunes
from ftscope.training.batches import collate
from ftscope.training.data import build_data
from ftscope.training.method import Artefact, Method, MethodOptions, one_stage
from ftscope.training.resolve import method_options
from ftscope.training.tokens import tokenize

PROMOT = {"prompt_tokens": 4, "promot_steps": 3, "promot_lr": 0.1}
CASES = {
    "full": ("full", {}),
    "lora": ("lora", {}),
    "prompt_tuning": ("prompt_tuning", {"prompt_tokens": 4}),
    "fticl-full": ("fticl", {"fticl_k": 2}),
    "fticl-lora": ("fticl", {"fticl_k": 2, "tune": "lora"}),
    "promot-full": ("promot", PROMOT),
    "promot-lora": ("promot", {**PROMOT, "tune": "lora"}),
}
LR = {"full": 1e-2, "lora": 1e-2, "prompt": 1e-1}  # what is tuned → a step size that moves a toy model in 5 steps
CPU = LoadOptions(device="cpu")


def test_every_method_is_covered():
    assert {method for method, _ in CASES.values()} == set(METHODS)


@pytest.fixture(scope="module")
def catalogue(paper_data):
    return Catalogue(paper_data)


def tiny_spec(tiny, case: str, **overrides) -> TrainSpec:
    method, options = CASES[case]
    spec = TrainSpec(model=str(tiny), method=method, datasets=("amazon",), n=2, epochs=5, batch_size=2, grad_accum=1,
                     checkpoint_every=0, options=freeze_options(options))
    return replace(spec, lr=LR[tunes(spec)], **overrides)


@pytest.fixture(scope="module")
def trained(tiny, catalogue, tmp_path_factory):
    """Each case trained once, on first use, into its own folder."""
    done = {}

    def get(case: str):
        if case not in done:
            done[case] = train(tiny_spec(tiny, case), tmp_path_factory.mktemp(case), catalogue)
        return done[case]

    return get


def manifest(out) -> dict:
    return json.loads((out / "manifest.json").read_text())


@pytest.mark.parametrize("case", CASES)
def test_a_few_steps_on_a_repeated_batch_lower_the_loss(trained, case):
    m = manifest(trained(case))
    last_stage = [p["loss"] for p in m["loss_curve"] if p["stage"] == m["stages"][-1]["name"]]
    assert len(last_stage) == 5 and last_stage[-1] < last_stage[0]
    assert m["tokens"]["target"] > 0 and m["tokens"]["truncated_examples"] == 0
    assert set(m["heldout"]) >= {"base_loss", "tuned_loss"} and m["heldout"]["texts"] > 0
    change = m["weight_change"]
    assert change["params"] > 0 and len(change["layer_relative_change_by_layer"]) == 2  # the tiny model's layers
    moved = m["artefact"]["kind"] != "prompt_adapter"  # a soft prompt changes no weight
    assert (change["mean_abs"] > 0) == moved and (change["layer_relative_change"] > 0) == moved
    assert (change["embedding_share"] is not None) == moved


@pytest.mark.parametrize("case", CASES)
def test_saved_result_reloads_to_identical_predictions(trained, catalogue, tiny, case):
    out = trained(case)
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
    c = evaluate(language_model(open_model(str(out), CPU)), test, spec).predictions
    assert [p.prediction for p in a] == [p.prediction for p in b] == [p.prediction for p in c]
    # Merged LoRA against PEFT's unmerged adapter (and PEFT's prompt wrapper against ours) compute the same
    # function in another order, so they agree to fp32 rounding; 1e-3 of a log-probability is far above that
    # and far below what a wrong base, a missing adapter or a misplaced prompt changes.
    assert all(abs(x.scores[k] - y.scores[k]) < 1e-3 for x, y in zip(a, b) for k in x.scores)
    assert all(x.scores == y.scores for x, y in zip(a, c))  # the same loader underneath: identical


@pytest.mark.parametrize("case", ["promot-full", "promot-lora"])
def test_promot_without_its_prompt_differs_from_with_it(trained, tiny, case):
    out = trained(case)
    assert (out / "soft_prompt" / "adapter_model.safetensors").is_file()
    ids = torch.tensor([[3757, 18279, 2572, 42]])
    bare = load_trained(out, options=CPU).model(input_ids=ids).logits
    kept = load_trained(out, keep_soft_prompt=True, options=CPU).model(input_ids=ids).logits
    assert bare.shape == kept.shape and not torch.allclose(bare, kept, atol=1e-4)
    # The grid's way: a ModelRef of the train cell, the cell's folder, and soft_prompt when asked.
    ref = ModelRef(str(tiny), method="promot", train_cell="cell")
    with torch.no_grad():
        assert torch.equal(open_model(ref, CPU, folder=out).model(input_ids=ids).logits, bare)
        assert torch.equal(open_model(ref.with_prompt(), CPU, folder=out).model(input_ids=ids).logits, kept)


def test_promot_stage_one_is_watched_on_held_out_examples(trained):
    m = manifest(trained("promot-full"))
    stage = m["stages"][0]
    # promot_steps=3 → measured every max(1, 3 // 5) = 1 step, and once before the first
    assert [p["step"] for p in stage["monitor"]] == [0, 1, 2, 3] and m["stages"][1]["monitor"] == []
    for point in stage["monitor"]:
        assert 0 <= point["accuracy"] <= 1 and point["loss"] > 0 and point["classified"] == point["examples"] == 32
    held = stage["monitor_heldout"][0]["example_ids"]
    assert len(held) == 32 and not set(held) & set(m["data"][0]["example_ids"])


def test_soft_prompt_scores_the_same_with_prefix_cache_as_plainly(trained, catalogue):
    """The scorer's KV-prefix reuse and left padding must see the prompt exactly once, at the start."""
    loaded = load_trained(trained("prompt_tuning"), options=CPU)
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


def test_promot_stopped_after_stage_one_resumes_from_its_saved_prompt(trained, tiny, catalogue, tmp_path):
    class Stop(Exception):
        pass

    def stop_in_stage_two(progress):
        if progress.stage == "model":
            raise Stop

    spec = tiny_spec(tiny, "promot-full")
    with pytest.raises(Stop):
        train(spec, tmp_path / "run", catalogue, progress=stop_in_stage_two)
    assert (tmp_path / "run" / ".stages" / "prompt" / "stage.json").is_file()
    resumed, clean = manifest(train(spec, tmp_path / "run", catalogue)), manifest(trained("promot-full"))
    assert resumed["loss_curve"] == clean["loss_curve"]
    untimed = lambda m: [{k: v for k, v in p.items() if k != "seconds"} for p in m["stages"][0]["monitor"]]  # noqa: E731
    assert untimed(resumed) == untimed(clean)
    assert resumed["stages"][0]["monitor_heldout"] == clean["stages"][0]["monitor_heldout"]


@pytest.mark.parametrize("mode", ["fixed", "sampled"])
def test_fticl_batches_carry_the_demonstrations(tiny, catalogue, mode):
    spec = resolve(tiny_spec(tiny, "fticl-full", n=6).with_options(fticl_demos=mode))
    fticl, options = METHODS["fticl"], method_options(spec)
    data = build_data(spec, catalogue, lambda dataset: fticl.demos(spec, options, catalogue, dataset))
    pool = catalogue.train("amazon", 6, seed=0)
    template = template_for(pool.task, "p1")
    pick = fticl.demos(spec, options, catalogue, pool)
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
    spec = tiny_spec(tiny, "lora").with_options(lora_dropout=0.1)
    a, b = train(spec, tmp_path / "a", catalogue), train(spec, tmp_path / "b", catalogue)
    wa, wb = load_file(a / "adapter_model.safetensors"), load_file(b / "adapter_model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert manifest(a)["loss_curve"] == manifest(b)["loss_curve"]


def test_a_finished_folder_is_returned_not_retrained(trained, tiny, catalogue):
    out = trained("lora")
    before = (out / "manifest.json").stat().st_mtime_ns
    assert train(tiny_spec(tiny, "lora"), out, catalogue) == out
    assert (out / "manifest.json").stat().st_mtime_ns == before


def test_a_folder_of_another_spec_is_refused_and_bad_data_leaves_no_trace(trained, tiny, catalogue, tmp_path):
    from ftscope.errors import ConfigError, DataError

    with pytest.raises(ConfigError, match="finished run of another spec"):
        train(tiny_spec(tiny, "lora", seed=1), trained("lora"), catalogue)
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
    spec = resolve(tiny_spec(tiny, "full", n=4, batch_size=4))
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


def _predictions(loaded, catalogue) -> list:
    test = catalogue.test("amazon").head(6)
    return evaluate(language_model(loaded), test, EvalSpec("amazon", shots=0, scoring="loglik")).predictions


def test_a_copied_adapter_loads_with_its_original_folder_gone(tiny, catalogue, tmp_path, caplog):
    """The adapter names its base as the spec did (portable), not this machine's cache path."""
    original = train(tiny_spec(tiny, "lora"), tmp_path / "original", catalogue)
    assert json.loads((original / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny)
    assert manifest(original)["base_model"]["sha256"]
    before = _predictions(open_model(str(original), CPU), catalogue)
    copy, bare = tmp_path / "elsewhere" / "copy", tmp_path / "adapter-only"
    shutil.copytree(original, copy)
    bare.mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors"):  # no manifest: the adapter config names the base
        shutil.copy(original / name, bare / name)
    shutil.rmtree(original)
    for folder in (copy, bare):
        after = _predictions(open_model(str(folder), CPU), catalogue)
        assert [p.scores for p in after] == [p.scores for p in before]  # same files, same loader: identical
    # A base of the same name with other weights than the manifest recorded is loaded, with a warning.
    recorded = manifest(copy)
    recorded["base_model"]["sha256"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(recorded))
    with caplog.at_level("WARNING", logger="ftscope.training"):
        open_model(str(copy), CPU)
    assert "differs from the one it was trained on" in caplog.text


# ---- the extension point: a sixth method defined here and nowhere else ---------------------------------

def _attach_norms(base, ctx):
    """Only the RMSNorm scales train (Llama has no biases, so this stands in for BitFit)."""
    for name, parameter in base.named_parameters():
        parameter.requires_grad_("norm" in name)
    return base


def _save_model(model, state: dict, folder: Path, ctx) -> None:
    model.save_pretrained(folder, state_dict=state, safe_serialization=True)
    ctx.tokenizer.save_pretrained(folder)


class NormOnly(Method):
    name = "norm-only"
    summary = "tune only the normalisation scales"
    Options = MethodOptions

    def tunes(self, options):
        return "norm"

    def default_lr(self, options):
        return 1e-2

    def stages(self, ctx):
        return one_stage(ctx, _attach_norms, _save_model)

    def artefact(self, options):
        return Artefact("model")


def test_a_new_method_is_one_class_and_one_registry_entry(tiny, catalogue, tmp_path, monkeypatch):
    monkeypatch.setitem(METHODS, NormOnly.name, NormOnly())
    spec = TrainSpec(model=str(tiny), method="norm-only", datasets=("amazon",), n=2, epochs=5, batch_size=2,
                     grad_accum=1, checkpoint_every=0)
    assert resolve(spec).lr == 1e-2 and tunes(spec) == "norm"
    out = train(spec, tmp_path / "norm", catalogue)
    m = manifest(out)
    assert m["method"] == "norm-only" and m["tuned"] == "norm" and m["reload_check"]["same_argmax"]
    tuned = load_trained(out, options=CPU).model.state_dict()
    base = load_model(str(tiny), options=CPU).model.state_dict()
    changed = {k for k in base if not torch.equal(base[k], tuned[k])}
    assert changed and all("norm" in k for k in changed)
