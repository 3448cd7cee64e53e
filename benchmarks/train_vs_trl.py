"""ftscope's trainer against TRL's SFTTrainer: LoRA on the same 200 Amazon examples, one epoch, CPU.

Both get the same model folder (SmolLM2-135M), the same prompt/completion texts (Prompt-1 + label,
EOS appended), the same LoRA (r 8, alpha 16, all linear layers, PEFT's default dropout 0), batch 8 without
accumulation, AdamW at the same learning rate with linear decay, fp32, and the same thread count.
TRL's gradient checkpointing (on by default in TRL 1.x) is turned off so that both do the same
arithmetic; everything else in TRL is its default (random batches padded to their longest row, the
LM head over every position). ftscope runs a batch of long rows in pieces of at most 2048 padded
tokens (its default `max_batch_tokens`; same gradient, less memory). TRL runs twice: as configured by
default, and fed ftscope's batches in ftscope's order (read in sequence, the same adapter seed), which makes
the comparison one of engines alone and lets the first steps' losses be compared (they must agree to 1e-3).
Each trainer runs in its own fresh subprocess, one after the other.

Printed: tokens/s (non-padding tokens over the training loop's wall time, and the median of per-step
rates, which shrugs off other jobs on a shared machine), achieved FLOP/s as a fraction of an fp32
matmul peak measured here, and ftscope with bf16 autocast against its fp32 loss curve; bf16 is
used for the headline only when its curve matches (largest per-step difference within 2%).
The last line is JSON: {"tokens_per_s", "trl_tokens_per_s", "speedup", ...}.

    python benchmarks/train_vs_trl.py            # the full comparison (~10 minutes on 2 cores)
    python benchmarks/train_vs_trl.py --n 48     # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

LR, RANK, ALPHA, DROPOUT, BATCH = 1e-3, 8, 16, 0.0, 8
BF16_TOLERANCE = 0.02  # largest relative per-step loss difference for bf16 to count as matching fp32
# Same rows, same initial adapter, same AdamW: the first steps' losses agree up to float summation order
# (batch shapes and padding differ: TRL pads right, ftscope left), far below this.
FIRST_STEPS, LOSS_TOLERANCE = 3, 1e-3


def spec(n: int):
    from ftscope.training import TrainSpec

    return TrainSpec(model="smollm2-135m", method="lora", datasets=("amazon",), n=n, epochs=1, lr=LR,
                     batch_size=BATCH, grad_accum=1, checkpoint_every=0, bf16=False,
                     ).with_options(lora_r=RANK, lora_alpha=ALPHA, lora_dropout=DROPOUT)


# ---- workers (each runs in its own process) ---------------------------------------------------

def run_ftscope(n: int, bf16: bool) -> dict:
    from dataclasses import replace

    from ftscope.training import train

    step_times: list[float] = []
    step_tokens: list[int] = []
    last = [0.0]

    def progress(p):
        step_times.append(p.elapsed_s - last[0])
        step_tokens.append(p.tokens)
        last[0] = p.elapsed_s

    with tempfile.TemporaryDirectory() as tmp:
        out = train(replace(spec(n), bf16=bf16), Path(tmp) / "run", progress=progress)
        manifest = json.loads((out / "manifest.json").read_text())
    stage = manifest["stages"][0]
    return {"seconds": manifest["train_seconds"], "tokens": manifest["tokens"]["processed"],
            "padded_tokens": manifest["tokens"]["processed_with_padding"],
            "losses": [p["loss"] for p in manifest["loss_curve"]], "step_seconds": step_times,
            "step_tokens": step_tokens, "steps": stage["updates"]}


def ftscope_order(items: list, tokenizer) -> list:
    """The items in the order ftscope's trainer batches them (its length-grouped plan for this spec)."""
    from ftscope.training.batches import plan
    from ftscope.training.tokens import tokenize

    rows = tokenize(items, tokenizer, spec(len(items)).max_length)
    windows = plan([len(r) for r in rows.rows], BATCH, 1, spec(len(items)).seed, 1)
    return [items[rows.items[i]] for window in windows for batch in window for i in batch]


def run_trl(n: int, ordered: bool = False) -> dict:
    """TRL's SFTTrainer; `ordered`: fed ftscope's batches in ftscope's order (its dataset in that order, read
    sequentially), so the two see the same rows at every step: the first steps' losses must then agree,
    and the speed difference is the engines', not the batching's."""
    import torch
    from datasets import Dataset
    from torch.utils.data import SequentialSampler
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from ftscope.models import resolve_model_path
    from ftscope.tasks import Catalogue
    from ftscope.training.data import build_data
    from ftscope.training.methods.lora import lora_config
    from ftscope.training.resolve import method_options

    class InOrder(SFTTrainer):
        def _get_train_sampler(self, *args, **kwargs):
            return SequentialSampler(self.train_dataset)

    path = resolve_model_path("smollm2-135m")
    tokenizer = AutoTokenizer.from_pretrained(path)
    items = build_data(spec(n), Catalogue()).items
    if ordered:
        items = ftscope_order(list(items), tokenizer)
    dataset = Dataset.from_list([{"prompt": it.prompt, "completion": it.target} for it in items])
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    torch.manual_seed(spec(n).seed)  # LoRA's A starts as ftscope's does (PEFT draws it as the adapter is made)
    timer = StepTimer()
    with tempfile.TemporaryDirectory() as tmp:
        args = SFTConfig(output_dir=tmp, per_device_train_batch_size=BATCH, gradient_accumulation_steps=1,
                         num_train_epochs=1, learning_rate=LR, lr_scheduler_type="linear", warmup_steps=0,
                         weight_decay=0.0, max_grad_norm=1.0, logging_steps=1, save_strategy="no", report_to="none",
                         use_cpu=True, bf16=False, gradient_checkpointing=False, seed=0, disable_tqdm=True,
                         dataloader_num_workers=0)
        trainer = (InOrder if ordered else SFTTrainer)(
                             model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                             peft_config=lora_config(method_options(spec(n))), callbacks=[timer.callback(TrainerCallback)])
        trainer.data_collator = timer.counting(trainer.data_collator)
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    logs = [h for h in trainer.state.log_history if "loss" in h and "num_tokens" in h]
    cumulative = [int(h["num_tokens"]) for h in logs]
    return {"seconds": seconds, "tokens": cumulative[-1], "padded_tokens": timer.padded,
            "losses": [h["loss"] for h in logs], "step_seconds": timer.durations,
            "step_tokens": [b - a for a, b in zip([0, *cumulative], cumulative)], "steps": len(logs)}


class StepTimer:
    """Per-step wall times (and padded batch sizes) from TRL's callback hooks."""

    def __init__(self):
        self.durations: list[float] = []
        self.padded = 0
        self._start = 0.0

    def callback(self, base):
        timer = self

        class Hook(base):
            def on_step_begin(self, args, state, control, **kw):
                timer._start = time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                timer.durations.append(time.perf_counter() - timer._start)

        return Hook()

    def counting(self, collate):
        def counted(features):
            batch = collate(features)
            self.padded += batch["input_ids"].numel()
            return batch

        return counted


# ---- the comparison -------------------------------------------------------------------------

def flops_per_token() -> float:
    """Forward (2·N) plus the backward's input gradients (2·N) through the frozen linear layers; LoRA's
    own weights and attention scores add a few percent and are left out, for both trainers alike."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from ftscope.models import resolve_model_path
    from peak import linear_flops_per_token

    with torch.device("meta"):  # the shapes only: nothing allocated, nothing read
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(resolve_model_path("smollm2-135m")))
    return 2 * linear_flops_per_token(model)


def worker(name: str, n: int, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    result = run_trl(n, ordered=name == "trl-ordered") if name.startswith("trl") else run_ftscope(n, name == "ftscope-bf16")
    print("RESULT " + json.dumps(result), flush=True)


def spawn(name: str, n: int, threads: int, timeout: float) -> dict | None:
    """One trainer in a fresh process, bounded in time: None (and a line saying so) when it ran out."""
    cmd = [sys.executable, __file__, "--worker", name, "--n", str(n), "--threads", str(threads)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"{name}: did not finish within {timeout:.0f} s (--pass-timeout); left out")
        return None
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"{name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def rates(r: dict) -> tuple[float, float]:
    """(tokens/s over the loop, median per-step tokens/s)."""
    per_step = [t / s for t, s in zip(r["step_tokens"], r["step_seconds"]) if s > 0]
    return r["tokens"] / r["seconds"], statistics.median(per_step)


def bf16_matches(fp32: list[float], bf16: list[float]) -> tuple[bool, float]:
    worst = max(abs(a - b) / max(abs(a), 1e-8) for a, b in zip(fp32, bf16))
    return worst <= BF16_TOLERANCE, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pass-timeout", type=float, default=1200, help="seconds each trainer may run")
    parser.add_argument("--worker", choices=["ftscope", "ftscope-bf16", "trl", "trl-ordered"])
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.n, args.threads)
    import torch

    from peak import matmul_peak

    torch.set_num_threads(args.threads)
    found = {d: matmul_peak(d) for d in ("float32", "bfloat16")}
    peak32, peak16 = found["float32"]["flops"], found["bfloat16"]["flops"]
    print(f"matmul peak ({args.threads} threads): fp32 {peak32 / 1e9:.0f} GFLOP/s, bf16 {peak16 / 1e9:.1f} GFLOP/s"
          + (f" ({found['bfloat16']['note']})" if found["bfloat16"]["note"] else ""))
    names = ["trl", "trl-ordered", "ftscope"]
    if peak16 > peak32:
        names.append("ftscope-bf16")
    else:  # without native bf16 (AVX2) autocast only emulates it: the pass once ran for 20 minutes here
        print(f"bf16 pass skipped: bf16 matmuls reach {peak16 / peak32:.0%} of fp32 on this CPU, so bf16 cannot "
              "make training faster here")
    runs = {name: spawn(name, args.n, args.threads, args.pass_timeout) for name in names}
    report({k: v for k, v in runs.items() if v is not None}, peak32, peak16, args)


def report(runs: dict, peak32: float, peak16: float, args) -> None:
    per_token = flops_per_token()
    rows = {}
    for name, r in runs.items():
        whole, median = rates(r)
        peak = peak16 if name.endswith("bf16") else peak32
        rows[name] = (whole, median)
        print(f"{name:13s} {r['tokens']:6d} tokens ({1 - r['tokens'] / max(1, r['padded_tokens'] or r['tokens']):.0%} "
              f"padding) in {r['seconds']:6.1f} s: {whole:7.1f} tokens/s (median step {median:7.1f}); "
              f"{whole * per_token / 1e9:6.1f} GFLOP/s = {whole * per_token / peak:.0%} of the "
              f"{'bf16' if name.endswith('bf16') else 'fp32'} matmul peak; final loss {r['losses'][-1]:.4f}")
    ok, worst = False, float("nan")
    if "ftscope-bf16" in runs and "ftscope" in runs:
        ok, worst = bf16_matches(runs["ftscope"]["losses"], runs["ftscope-bf16"]["losses"])
        print("loss per step, fp32 vs bf16 autocast: " + ", ".join(
            f"{a:.3f}/{b:.3f}" for a, b in zip(runs["ftscope"]["losses"], runs["ftscope-bf16"]["losses"])))
        print(f"bf16 autocast {'matches' if ok else 'does NOT match'} fp32: largest step difference {worst:.2%} "
              f"(tolerance {BF16_TOLERANCE:.0%})")
    faster_bf16 = ok and rows["ftscope-bf16"][0] > rows["ftscope"][0]
    ours = "ftscope-bf16" if faster_bf16 else "ftscope"
    if ours not in rows or "trl" not in rows:
        print(json.dumps({"finished": sorted(rows), "n": args.n, "threads": args.threads}))
        return
    first_diff, ordered = None, rows.get("trl-ordered")
    if ordered:  # same rows at every step: the losses are comparable step by step
        first = min(len(runs["ftscope"]["losses"]), len(runs["trl-ordered"]["losses"]), FIRST_STEPS)
        pairs = list(zip(runs["ftscope"]["losses"][:first], runs["trl-ordered"]["losses"][:first]))
        first_diff = max(abs(a - b) for a, b in pairs)
        print(f"first {first} step losses, ftscope / TRL in ftscope's batch order: "
              + ", ".join(f"{a:.4f}/{b:.4f}" for a, b in pairs) + f" (largest difference {first_diff:.1e}, "
              f"{'within' if first_diff <= LOSS_TOLERANCE else 'OUTSIDE'} {LOSS_TOLERANCE:g})")
    print(f"headline: {ours} vs TRL SFTTrainer as configured by default (random batches)"
          + (", and vs TRL fed ftscope's batches" if ordered else ""))
    print(json.dumps({
        "tokens_per_s": round(rows[ours][0], 1), "trl_tokens_per_s": round(rows["trl"][0], 1),
        "speedup": round(rows[ours][0] / rows["trl"][0], 2),
        "speedup_fp32": round(rows["ftscope"][0] / rows["trl"][0], 2),
        "speedup_median_step": round(rows[ours][1] / rows["trl"][1], 2),
        "trl_ordered_tokens_per_s": round(ordered[0], 1) if ordered else None,
        "speedup_vs_trl_ordered": round(rows[ours][0] / ordered[0], 2) if ordered else None,
        "bf16_used": faster_bf16, "bf16_matches_fp32": ok if "ftscope-bf16" in runs else None,
        "bf16_worst_step_diff": None if worst != worst else round(worst, 4),
        "first_steps_max_loss_diff": None if first_diff is None else round(first_diff, 6),
        "peak_fraction": round(rows[ours][0] * flops_per_token() / (peak16 if faster_bf16 else peak32), 3),
        "n": args.n, "threads": args.threads,
    }))


if __name__ == "__main__":
    main()
