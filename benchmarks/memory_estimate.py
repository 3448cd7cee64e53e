"""models.memory's estimate against what training really holds, in two measurements.

1. `saved`: the activation coefficients. For each of what trains (full, LoRA with and without dropout,
   soft prompt) and each precision (fp32, bf16 weights, fp32 under bf16 autocast), the bytes of the
   tensors autograd saves for the backward pass of one Llama decoder layer (transformers' own block, SDPA
   attention), deduplicated by storage and counted with torch.autograd.graph.saved_tensors_hooks, per
   token, on three shapes (SmolLM2's, a multi-head one with Llama-2's MLP ratio, a wide grouped-query one).
   Exact and machine-independent (no allocator involved); compared with memory.ACTIVATION's prediction.
2. `rss`: a real SmolLM2-135M run per method (ftscope's own train(), CPU, fp32), each in a fresh
   subprocess: the resident set at the start of the training loop and its peak within the loop (Linux's
   VmHWM, reset through /proc/self/clear_refs as the loop starts), against the estimate for the largest
   forward pass the run made (its rows × its width, so that the formula, not the worst-case assumption of
   every row at max_length, is what is checked). The runtime baseline (RSS after imports) is printed too.

    python benchmarks/memory_estimate.py              # both (~5 minutes on 2 cores)
    python benchmarks/memory_estimate.py --part saved
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHAPES = {"smollm2": dict(hidden_size=576, intermediate_size=1536, num_attention_heads=9, num_key_value_heads=3),
          "mha": dict(hidden_size=512, intermediate_size=1376, num_attention_heads=4, num_key_value_heads=4),
          "wide-gqa": dict(hidden_size=512, intermediate_size=2048, num_attention_heads=8, num_key_value_heads=2)}
MODES = {"fp32": ("float32", False), "bf16": ("bfloat16", False), "autocast": ("float32", True)}
KINDS = ("full", "lora", "lora-nodrop", "prompt")
ROWS, SEQ = 2, 256
RSS_RUNS = {"full": dict(method="full")}
# glibc's malloc raises its mmap threshold as large blocks are freed (up to 32 MB), after which activations
# come from its heap and freed ones stay resident; a fixed threshold returns them to the system at once.
MALLOC = {"glibc default": {}, "fixed mmap threshold": {"MALLOC_MMAP_THRESHOLD_": "65536"}}


def saved_bytes(model, ids, prompt: bool, autocast: bool) -> int:
    """Bytes autograd keeps for backward, over storages that are not parameters."""
    import torch

    seen: dict[tuple[int, int], int] = {}

    def pack(t):
        storage = t.untyped_storage()
        seen[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
        return t

    from ftscope.training.fused_lora import fused_lora

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    # As ftscope's training loop runs it: fp32 LoRA layers fused (training/fused_lora.py), the rest PEFT's.
    with fused_lora(model), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            embeds = model.get_input_embeddings()(ids)
            if prompt:  # a soft prompt: the model frozen, gradients flowing to the inputs
                embeds = embeds.detach().requires_grad_(True)
            model(inputs_embeds=embeds, logits_to_keep=1, use_cache=False)
    return sum(n for (ptr, _), n in seen.items() if ptr not in params)


def build(shape: dict, layers: int, kind: str, dtype: str):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=1000, num_hidden_layers=layers, tie_word_embeddings=True,
                         attn_implementation="sdpa", **shape)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(getattr(torch, dtype))
    if kind.startswith("lora"):
        dropout = 0.0 if kind == "lora-nodrop" else 0.05
        return get_peft_model(model, LoraConfig(r=8, target_modules="all-linear", lora_dropout=dropout)).train()
    return model.requires_grad_(kind == "full").train()


def per_layer_token(shape: dict, kind: str, mode: str) -> float:
    """Measured bytes per token of one decoder layer: a 2-layer model minus a 1-layer one."""
    import torch

    dtype, autocast = MODES[mode]
    ids = torch.randint(0, 1000, (ROWS, SEQ), generator=torch.Generator().manual_seed(0))
    one, two = (saved_bytes(build(shape, n, kind, dtype), ids, kind == "prompt", autocast) for n in (1, 2))
    return (two - one) / (ROWS * SEQ)


def predicted(shape: dict, kind: str, mode: str) -> float:
    """memory.py's bytes per token of one layer, with autocast's weight copies spread over the tokens."""
    from ftscope.models.memory import BF16, Shape, Workload, layer_bytes_per_token

    s = Shape.from_config({**shape, "num_hidden_layers": 1, "vocab_size": 1000, "tie_word_embeddings": True})
    dtype, autocast = MODES[mode]
    work = Workload("lora" if kind.startswith("lora") else kind, dtype, autocast, ROWS, SEQ,
                    lora_dropout=0.0 if kind == "lora-nodrop" else 0.05)
    copies = s.layer_params * BF16 if mode == "autocast" else 0
    return layer_bytes_per_token(s, work) + copies / (ROWS * SEQ)


def part_saved() -> dict:
    worst = 0.0
    print("bytes per token per decoder layer: measured / predicted")
    for kind in KINDS:
        for mode in MODES:
            cells = []
            for name, shape in SHAPES.items():
                got, want = per_layer_token(shape, kind, mode), predicted(shape, kind, mode)
                worst = max(worst, abs(want - got) / got)
                cells.append(f"{name} {got:,.0f}/{want:,.0f}")
            print(f"  {kind:12s} {mode:9s} " + "   ".join(cells), flush=True)
    print(f"largest relative error of the activation coefficients: {100 * worst:.1f}%")
    return {"activation_coefficient_max_rel_error": worst}


CHILD = """
import json, sys, torch
torch.set_num_threads(int(sys.argv[3]))
import ftscope.training.run as run_module
from ftscope.training import TrainSpec, train

def status(key):
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith(key))

seen = {"baseline_rss": status("VmRSS")}
inner = run_module.run_stage

def watched(module, rows, windows, *args, **kwargs):
    seen["loop_start_rss"] = status("VmRSS")
    open("/proc/self/clear_refs", "w").write("5")  # the peak from here on is the loop's
    widest = max((len(piece), max(len(rows[i]) for i in piece)) for w in windows for b in w for piece in [b])
    seen.update(rows=widest[0], width=widest[1], target=max(r.n_target for r in rows))
    out = inner(module, rows, windows, *args, **kwargs)
    seen["loop_peak_rss"] = status("VmHWM")
    return out

run_module.run_stage = watched
train(TrainSpec.from_dict(json.loads(sys.argv[1])), sys.argv[2])
print("RESULT " + json.dumps(seen))
"""


def rss_run(name: str, options: dict, out: Path, threads: int, malloc: dict) -> dict:
    from ftscope.training import TrainSpec

    # Two micro-batches per step: gradients of the first are held while the second's activations are.
    spec = TrainSpec(datasets=("amazon",), n=16, epochs=4, batch_size=8, grad_accum=2, max_length=512,
                     max_batch_tokens=4096, checkpoint_every=0, **options)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
           "OMP_NUM_THREADS": str(threads), **malloc}
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec.to_dict()), str(out / name), str(threads)],
                          capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"the {name} run failed:\n{done.stderr[-3000:]}")
    seen = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
    return {"spec": spec, **seen}


def part_rss(threads: int) -> dict:
    import tempfile

    from ftscope.models.memory import GB, Shape, footprint, model_config
    from ftscope.training.footprint import workload

    shape = Shape.from_config(model_config("smollm2-135m"))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for (name, options), (allocator, malloc) in itertools.product(RSS_RUNS.items(), MALLOC.items()):
            seen = rss_run(name, options, Path(tmp) / allocator.replace(" ", "-"), threads, malloc)
            work = workload(seen["spec"], "cpu")
            work = type(work)(**{**work.__dict__, "batch": seen["rows"], "seq_len": seen["width"],
                                 "max_batch_tokens": None, "target_len": seen["target"]})
            est = footprint(shape, work)
            measured = (seen["loop_peak_rss"] - seen["baseline_rss"]) / GB
            model_part = est.total_gb - est.runtime_gb
            print(f"{name}, {allocator} malloc: largest forward {seen['rows']} rows × {seen['width']} tokens; RSS after imports "
                  f"{seen['baseline_rss'] / GB:.2f} GB, at loop start {seen['loop_start_rss'] / GB:.2f} GB, "
                  f"loop peak {seen['loop_peak_rss'] / GB:.2f} GB")
            print("   estimate: " + ", ".join(f"{k} {v:.2f}" for k, v in est.rows()) + " GB")
            print(f"   peak minus baseline {measured:.2f} GB vs estimate without runtime {model_part:.2f} GB: "
                  f"error {100 * (model_part - measured) / measured:+.1f}%; whole peak "
                  f"{seen['loop_peak_rss'] / GB:.2f} GB vs estimate {est.total_gb:.2f} GB", flush=True)
            results[f"{name}, {allocator}"] = {"peak_gb": seen["loop_peak_rss"] / GB, "baseline_gb": seen["baseline_rss"] / GB,
                             "estimate_gb": est.total_gb, "estimate_without_runtime_gb": model_part,
                             "measured_without_baseline_gb": measured}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("saved", "rss", "all"), default="all")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    results = {}
    if args.part in ("saved", "all"):
        results.update(part_saved())
    if args.part in ("rss", "all"):
        results.update(part_rss(args.threads))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
