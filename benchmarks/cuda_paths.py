"""ftscope's CUDA paths, checked on one GPU: the fused LoRA layer, training under bf16 autocast, and evaluation
(scoring and generation) on CUDA against the same model on the CPU.

CI and the development machine have no GPU, so this runs where one is (a lent machine, a cluster node). It
needs a model folder with config.json and the tokenizer; weights are drawn at random (seed 0) when the folder
has none, so that nothing large has to travel: every check here compares two paths over the same weights, and
none reads what a model knows. Data: FTSCOPE_DATA_DIR (or the usual ../shared/data) with the sentiment and
summary folders.

    python benchmarks/cuda_paths.py --model-config FOLDER --out OUT

Prints one line per check and a JSON line last. The checks:
1. fused LoRA (training/fused_lora.py) against PEFT's layers on CUDA, fp32: the largest relative gradient
   difference (float32 summation order: ~1e-6), the dropout mask's drop rate, and forward+backward time of both
   (median of 10, CUDA events) at 8 rows x 256 tokens with dropout 0 and 0.05;
2. `ftscope train` (LoRA, 64 Amazon examples) on CUDA with bf16 autocast and in fp32: the loss curves agree
   within 2% per step (bf16 keeps 8 bits of mantissa), the reload check passes;
3. `ftscope eval` (Amazon 2-shot, 64 items, and XSum 0-shot generation, 16 items, 24 new tokens) with the
   trained adapter on CUDA and on the CPU, fp32: the share of identical predictions and the largest label-score
   difference. A random model's label scores lie close together, so a disagreement is a near-tie, not a bug;
   the score difference is the measure;
4. paper.yaml's training on one GPU: full fine-tuning of a Llama-2-7b-shaped model, bf16, batch 2, max_length
   1024: the GPU's peak memory against models.memory's estimate (needs ~70 GB of GPU memory and ~30 GB of disk).

Measured on an H100 80GB (torch 2.11, 2026-11-25): fused LoRA gradients equal PEFT's to 1.6e-6, forward and
backward 198 -> 175 ms (dropout 0) and 270 -> 247 ms (0.05); bf16 and fp32 loss curves within 6.1e-4 per step,
the reload check within 1.5e-6; evaluation on CUDA identical to the CPU's on 64/64 Amazon items (label scores
within 4.5e-6) and 16/16 XSum generations; the 6.88B model's full fine-tuning peaked at 69.6 GiB against an
estimate of 64.6 GiB (-7%: the allocator's reserve is not in it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def model_folder(config_dir: Path, out: Path) -> Path:
    """The folder itself when it holds weights, else a copy with weights drawn at random (seed 0)."""
    if any(config_dir.glob("*.safetensors")):
        return config_dir
    import shutil

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    target = out / "random-model"
    if not (target / "model.safetensors").is_file():
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(config_dir))
        model.save_pretrained(target, safe_serialization=True)
        for f in config_dir.iterdir():
            if f.name.startswith("tokenizer") or f.name in ("special_tokens_map.json", "chat_template.jinja"):
                shutil.copy(f, target / f.name)
    return target


def check_fused(folder: Path) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from ftscope.training.fused_lora import dropout_keep_mask, fused_lora

    found: dict = {}
    ids = torch.randint(0, 40000, (8, 256), device="cuda", generator=torch.Generator("cuda").manual_seed(0))

    def step(model):
        logits = model(input_ids=ids, logits_to_keep=3, use_cache=False).logits
        logits.float().square().mean().backward()

    def grads(model, fused: bool):
        model.zero_grad(set_to_none=True)
        torch.manual_seed(1)
        if fused:
            with fused_lora(model):
                step(model)
        else:
            step(model)
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    def timed(model, fused: bool) -> float:
        times = []
        for _ in range(13):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            if fused:
                with fused_lora(model):
                    step(model)
            else:
                step(model)
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        return statistics.median(times[3:])  # the first three warm up

    for dropout in (0.0, 0.05):
        base = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).cuda()
        model = get_peft_model(base, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear",
                                                lora_dropout=dropout)).train()
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.02)  # PEFT starts B at 0, where A gets no gradient to compare
        if dropout == 0:
            peft_grads, fused_grads = grads(model, False), grads(model, True)
            found["fused_max_rel_grad_diff"] = max(
                float((fused_grads[n] - g).abs().max() / g.abs().max()) for n, g in peft_grads.items())
        found[f"peft_ms_dropout_{dropout}"] = timed(model, False)
        found[f"fused_ms_dropout_{dropout}"] = timed(model, True)
        del model, base
        torch.cuda.empty_cache()
    torch.manual_seed(0)
    mask, keep = dropout_keep_mask((4_000_000,), 0.05, "cuda")
    found["mask_drop_rate"] = float((~mask).float().mean())
    found["mask_expected_rate"] = 1 - keep
    return found


def ftscope(*args: str) -> None:
    cmd = [sys.executable, "-c", "from ftscope.cli import main; main()", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def check_training(folder: Path, out: Path) -> dict:
    runs = {}
    for name, bf16 in (("bf16", "true"), ("fp32", "false")):
        target = out / f"train-{name}"
        started = time.perf_counter()
        ftscope("train", "-m", str(folder), "--method", "lora", "-d", "amazon", "--n", "64", "--epochs", "1",
                "--set", f"bf16={bf16}", "--set", "batch_size=8", "--set", "grad_accum=1", "--out", str(target))
        manifest = json.loads((target / "manifest.json").read_text())
        runs[name] = {"losses": [p["loss"] for p in manifest["loss_curve"]], "device": manifest["device"],
                      "bf16_autocast": manifest["bf16_autocast"], "reload": manifest.get("reload_check"),
                      "tokens_per_s": manifest["tokens"]["tokens_per_second"],
                      "wall_s": time.perf_counter() - started}
    worst = max(abs(a - b) / abs(a) for a, b in zip(runs["fp32"]["losses"], runs["bf16"]["losses"]))
    return {"train": runs, "bf16_vs_fp32_worst_step_rel_diff": worst}


def predictions(folder: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines() if line.strip()]
    return {f"{r.get('dataset', '')}:{r.get('shots', '')}:{r['id']}": r for r in rows}


def check_eval(folder: Path, out: Path, device_under_test: str = "cuda") -> dict:
    adapter = out / "train-bf16"
    found = {}
    for device in (device_under_test, "cpu"):
        for dataset, extra in (("amazon", ["--shots", "2", "--limit", "64"]),
                               ("xsum", ["--shots", "0", "--limit", "16", "--max-new-tokens", "24"])):
            target = out / f"eval-{dataset}-{device}"
            started = time.perf_counter()
            ftscope("eval", "-m", str(folder), "--adapter", str(adapter), "-d", dataset, *extra,
                    "--device", device, "--dtype", "float32", "--out", str(target))
            found[f"{dataset}_{device}_s"] = time.perf_counter() - started
    for dataset in ("amazon", "xsum"):
        gpu, cpu = predictions(out / f"eval-{dataset}-{device_under_test}"), predictions(out / f"eval-{dataset}-cpu")
        same = sum(gpu[k]["prediction"] == cpu[k]["prediction"] for k in cpu)
        found[f"{dataset}_items"] = len(cpu)
        found[f"{dataset}_identical_share"] = same / len(cpu) if cpu else None
        diffs = [abs(gpu[k]["scores"][label] - v) for k in cpu for label, v in (cpu[k].get("scores") or {}).items()]
        found[f"{dataset}_max_score_diff"] = max(diffs) if diffs else None
    return found


def widest_batch(manifest: dict, tokenizer) -> tuple[int, int]:
    """(the widest batch's tokens per row, the most target tokens of a row) of a finished training run, replayed
    from its spec: the batches are a pure function of the rows, the seed and the epochs (training/batches.py)."""
    from ftscope.specs import TrainSpec
    from ftscope.tasks import Catalogue
    from ftscope.training.batches import plan
    from ftscope.training.data import build_data
    from ftscope.training.methods import METHODS
    from ftscope.training.resolve import method_options, resolve
    from ftscope.training.tokens import tokenize

    spec = resolve(TrainSpec.from_dict(manifest["spec"]))
    catalogue, method, options = Catalogue(), METHODS[spec.method], method_options(spec)
    data = build_data(spec, catalogue, lambda d: method.demos(spec, options, catalogue, d))
    rows = tokenize(data.items, tokenizer, spec.max_length).rows
    windows = plan([len(r) for r in rows], spec.batch_size, spec.grad_accum, spec.seed, spec.epochs)
    return max(max(len(rows[i]) for i in batch) for w in windows for batch in w), max(r.n_target for r in rows)


def check_memory_7b(tokenizer_dir: Path, out: Path) -> dict:
    """paper.yaml's training on one GPU: full fine-tuning of a Llama-2-7b-shaped model (random bf16 weights,
    SmolLM2's tokenizer, so a 49k vocabulary) with bf16 autocast, batch 2, max_length 1024, on 8 XSum
    examples; the GPU's peak memory (nvidia-smi, sampled every 0.3 s: the CUDA context and the caching
    allocator's reserve included) against models.memory's estimate for the widest batch the run made."""
    import threading

    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from ftscope.models.memory import Workload, footprint, read_shape

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    folder = out / "llama-7b-shape"
    if not (folder / "config.json").is_file():
        config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=4096, intermediate_size=11008,
                             num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
                             max_position_embeddings=4096, eos_token_id=tokenizer.eos_token_id,
                             pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id)
        torch.manual_seed(0)
        with torch.device("cuda"):  # drawn on the GPU: seconds, where the CPU takes minutes
            model = LlamaForCausalLM(config).to(torch.bfloat16)
        model.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        del model
        torch.cuda.empty_cache()
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            used = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                  capture_output=True, text=True).stdout.split()
            samples.extend(int(x) for x in used[:1])
            time.sleep(0.3)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    target = out / "train-7b"
    try:
        ftscope("train", "-m", str(folder), "--method", "full", "-d", "xsum", "--n", "8", "--set", "batch_size=2",
                "--set", "grad_accum=1", "--set", "max_length=1024", "--set", "bf16=true", "--set", "dtype=bfloat16",
                "--set", "checkpoint_every=0", "--out", str(target))
    finally:
        done.set()
        sampler.join()
    manifest = json.loads((target / "manifest.json").read_text())
    widest, target_len = widest_batch(manifest, tokenizer)
    estimate = footprint(read_shape(folder), Workload("full", "bfloat16", True, 2, widest, 2048, target_len,
                                                      device="cuda"))
    peak_gib = max(samples) / 1024
    return {"params": read_shape(folder).params, "widest_batch_tokens_per_row": widest, "peak_gpu_gib": peak_gib,
            "estimate_gib": estimate.total_gb, "estimate_rows": dict(estimate.rows()),
            "estimate_error": estimate.total_gb / peak_gib - 1, "losses": [p["loss"] for p in manifest["loss_curve"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-config", type=Path, required=True, help="folder with config.json and tokenizer")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--skip", default="", help="comma-separated: fused, train, eval, memory-7b")
    parser.add_argument("--dry-run", action="store_true", help="no GPU: run the training and evaluation checks on "
                        "the CPU against itself, to try the script")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available() and not args.dry_run:
        raise SystemExit("no CUDA device: this script checks the CUDA paths (--dry-run tries it on the CPU)")
    args.out.mkdir(parents=True, exist_ok=True)
    folder = model_folder(args.model_config, args.out)
    device = "cpu" if args.dry_run else "cuda"
    print(f"{torch.cuda.get_device_name() if device == 'cuda' else 'CPU (dry run)'}, torch {torch.__version__}; "
          f"model {folder}", flush=True)
    skip = set(filter(None, args.skip.split(","))) | ({"fused", "memory-7b"} if args.dry_run else set())
    result: dict = {}
    if "fused" not in skip:
        result["fused"] = check_fused(folder)
        print("fused LoRA:", json.dumps(result["fused"]), flush=True)
    if "train" not in skip:
        result["training"] = check_training(folder, args.out)
        print("training:", json.dumps(result["training"]), flush=True)
    if "eval" not in skip:
        result["evaluation"] = check_eval(folder, args.out, device)
        print("evaluation:", json.dumps(result["evaluation"]), flush=True)
    if "memory-7b" not in skip:
        result["memory_7b"] = check_memory_7b(args.model_config, args.out)
        print("7B full fine-tuning memory:", json.dumps(result["memory_7b"]), flush=True)
    (args.out / "cuda_paths.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
