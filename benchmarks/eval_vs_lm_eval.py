"""ftscope's evaluation engine against lm-evaluation-harness, side by side, same model folder and prompts.

Runs, on the shared SST-2 test file (first 250 items) with the paper's Prompt-1 template:
  - 4-shot and 0-shot classification, `loglik` (lm-eval multiple_choice semantics);
  - 0-shot generation on the first 50 XSum items against lm-eval's `generate_until` (60 tokens,
    cut at the first blank line).
Prints wall times, speed-ups and the agreement of predictions, then one JSON line.

    .venv/bin/python benchmarks/eval_vs_lm_eval.py [--limit 250] [--gen-limit 50] [--lm-eval-batch 1]

Both tools run in this process, one after the other, on the same threads; nothing else should run.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import torch  # noqa: E402

from ftscope.evaluation import EvalSpec, evaluate  # noqa: E402
from ftscope.models import LoadOptions, language_model, load_model, resolve_model_path  # noqa: E402
from ftscope.prompts import template_for  # noqa: E402
from ftscope.tasks import Catalogue  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "generalization"


def task_yaml(name: str, dataset: str, template: str, extra: str) -> str:
    """A local lm-eval task reading the shared JSON files, with ftscope's exact prompt format."""
    jinja = template.replace("{", "{{").replace("}", "}}").replace("\n", "\\n")
    folder = DATA / Catalogue().task_of(dataset).name
    return (
        f"task: {name}\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {folder / f'{dataset}_test_500.json'}\n"
        f"    fewshot: {folder / 'few_shot' / f'{dataset}_few_shot.json'}\n"
        f"test_split: test\nfewshot_split: fewshot\nfewshot_config:\n  sampler: first_n\n"
        f'doc_to_text: "{jinja}"\ntarget_delimiter: ""\nfewshot_delimiter: "\\n\\n"\n{extra}'
    )


CLASSIFY = ('output_type: multiple_choice\ndoc_to_target: "{{output}}"\n'
            'doc_to_choice: ["positive", "negative"]\nmetric_list:\n  - metric: acc\n')
GENERATE = ('output_type: generate_until\ndoc_to_target: "{{output}}"\n'
            'generation_kwargs:\n  until: ["\\n\\n"]\n  max_gen_toks: 60\n  do_sample: false\n'
            'metric_list:\n  - metric: exact_match\n')


def run_lm_eval(model_dir: str, tasks_dir: Path, task: str, shots: int, limit: int, batch: int):
    import lm_eval
    from lm_eval.tasks import TaskManager

    started = time.perf_counter()
    out = lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={model_dir},dtype=float32", tasks=[task], num_fewshot=shots,
        batch_size=batch, limit=limit, device="cpu", log_samples=True,
        task_manager=TaskManager(include_path=str(tasks_dir)), random_seed=0, numpy_random_seed=0,
        torch_random_seed=0, fewshot_random_seed=0,
    )
    return time.perf_counter() - started, sorted(out["samples"][task], key=lambda s: s["doc_id"]), out["results"][task]


def run_ftscope(lm, dataset, spec: EvalSpec):
    started = time.perf_counter()
    result = evaluate(lm, dataset, spec)
    return time.perf_counter() - started, result


def classification(lm, model_dir, tasks_dir, shots: int, limit: int, batch: int) -> dict:
    dataset = Catalogue().test("sst2")
    t_ft, result = run_ftscope(lm, dataset, EvalSpec("sst2", shots, "p1", "loglik", limit))
    t_le, samples, summary = run_lm_eval(model_dir, tasks_dir, "ftscope_sst2", shots, limit, batch)
    labels = ("positive", "negative")
    le_pred = [labels[max(range(2), key=lambda i: s["filtered_resps"][i][0])] for s in samples]
    agree = sum(p.prediction == q for p, q in zip(result.predictions, le_pred)) / len(le_pred)
    return {"ftscope_s": t_ft, "lm_eval_s": t_le, "speedup": t_le / t_ft, "agreement": agree,
            "ftscope_acc": result.metrics["accuracy"], "lm_eval_acc": summary["acc,none"]}


def generation(lm, model_dir, tasks_dir, limit: int, batch: int) -> dict:
    dataset = Catalogue().test("xsum")
    t_ft, result = run_ftscope(lm, dataset, EvalSpec("xsum", 0, "p1", "loglik", limit, max_new_tokens=60))
    t_le, samples, _ = run_lm_eval(model_dir, tasks_dir, "ftscope_xsum", 0, limit, batch)
    le_text = [s["filtered_resps"][0].strip() for s in samples]
    agree = sum(p.prediction == q for p, q in zip(result.predictions, le_text)) / len(le_text)
    return {"ftscope_s": t_ft, "lm_eval_s": t_le, "speedup": t_le / t_ft, "agreement": agree,
            "ftscope_rougeL": result.metrics["rougeL"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=250)
    parser.add_argument("--gen-limit", type=int, default=50)
    parser.add_argument("--lm-eval-batch", type=int, default=1, help="lm-eval's batch size (its default: 1)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model_dir = resolve_model_path("smollm2-135m")
    lm = language_model(load_model(model_dir, options=LoadOptions(dtype="float32", device="cpu")))
    catalogue = Catalogue()
    with tempfile.TemporaryDirectory() as tmp:
        tasks_dir = Path(tmp)
        (tasks_dir / "sst2.yaml").write_text(task_yaml("ftscope_sst2", "sst2", template_for(catalogue.task_of("sst2"), "p1"), CLASSIFY))
        (tasks_dir / "xsum.yaml").write_text(task_yaml("ftscope_xsum", "xsum", template_for(catalogue.task_of("xsum"), "p1"), GENERATE))
        four = classification(lm, model_dir, tasks_dir, 4, args.limit, args.lm_eval_batch)
        zero = classification(lm, model_dir, tasks_dir, 0, args.limit, args.lm_eval_batch)
        gen = generation(lm, model_dir, tasks_dir, args.gen_limit, args.lm_eval_batch)
    for name, r in (("sst2 4-shot loglik", four), ("sst2 0-shot loglik", zero), ("xsum 0-shot generation", gen)):
        extra = (f"acc ftscope {r['ftscope_acc']:.3f} lm-eval {r['lm_eval_acc']:.3f}" if "ftscope_acc" in r
                 else f"rougeL {r['ftscope_rougeL']:.3f}")
        print(f"{name:24s} ftscope {r['ftscope_s']:7.1f} s  lm-eval {r['lm_eval_s']:7.1f} s  "
              f"speedup {r['speedup']:5.2f}x  agreement {r['agreement']:.3f}  {extra}")
    print(json.dumps({"speedup_4shot": round(four["speedup"], 2), "speedup_0shot": round(zero["speedup"], 2),
                      "agreement_4shot": round(four["agreement"], 4), "speedup_generation": round(gen["speedup"], 2),
                      "agreement_0shot": round(zero["agreement"], 4), "agreement_generation": round(gen["agreement"], 4),
                      "acc_4shot_ftscope": round(four["ftscope_acc"], 4), "acc_4shot_lm_eval": round(four["lm_eval_acc"], 4),
                      "lm_eval_batch_size": args.lm_eval_batch}))


if __name__ == "__main__":
    main()
