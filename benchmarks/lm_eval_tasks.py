"""An lm-eval multiple-choice task at 4-shot: `--model ftscope` against `--model hf`, same model, same process.

The default task is ARC-shaped and built locally (no hub): SciQ questions from the shared paper data
(`question/sciqa_test_500.json`, its few-shot file as the demonstration split), each with its correct
answer and three other items' answers as choices, written as an lm-eval YAML like tasks/arc/arc_easy.yaml
(random few-shot demonstrations per question, as ARC's default sampler draws them). Any other local
task runs with --task NAME --include_path DIR.

Both models score the same requests built by lm-eval from the same loaded SmolLM2 (float32, CPU unless
--device), so the times compare scoring alone. lm-eval's HFLM runs at batch sizes 1, 8 and auto.
Prints one line per run and then one JSON line.

    .venv/bin/python benchmarks/lm_eval_tasks.py [--limit 250] [--shots 4] [--batch-sizes 1,8,auto]

Nothing else should run on the machine while it measures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import lm_eval  # noqa: E402
import torch  # noqa: E402
from lm_eval.models.huggingface import HFLM  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402

from ftscope.evaluation.lm_eval.model import FtscopeLM  # noqa: E402
from ftscope.models import LoadOptions, language_model, load_model  # noqa: E402
from ftscope.tasks import Catalogue  # noqa: E402

TASK = "sciq_mc"
YAML = """task: sciq_mc
dataset_path: json
dataset_kwargs:
  data_files:
    train: {train}
    test: {test}
output_type: multiple_choice
training_split: train
test_split: test
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{choices.label.index(answerKey)}}}}"
doc_to_choice: "{{{{choices.text}}}}"
metric_list:
  - metric: acc
  - metric: acc_norm
metadata:
  version: 1.0
"""


def sciq_docs(examples, seed: int) -> list[dict]:
    """ARC's fields: the question, four answers (the right one at a seeded position), the answer key."""
    answers = sorted({ex.fields["answer"] for ex in examples})
    docs = []
    for i, ex in enumerate(examples):
        rng = random.Random(seed * 100_003 + i)
        choices = rng.sample([a for a in answers if a != ex.fields["answer"]], 3) + [ex.fields["answer"]]
        rng.shuffle(choices)
        docs.append({"id": ex.id, "question": ex.target, "answerKey": "ABCD"[choices.index(ex.fields["answer"])],
                     "choices": {"text": choices, "label": list("ABCD")}})
    return docs


def write_sciq_task(folder: Path) -> None:
    dataset = Catalogue().test("sciqa")
    for split, examples, seed in (("test", dataset.examples, 0), ("train", dataset.fewshot, 1)):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in sciq_docs(examples, seed)))
    (folder / "sciq_mc.yaml").write_text(YAML.format(train=folder / "train.jsonl", test=folder / "test.jsonl"))


def run(model, task: str, manager: TaskManager, shots: int, limit: int) -> tuple[float, list[dict], dict]:
    started = time.perf_counter()
    out = lm_eval.simple_evaluate(model=model, tasks=[task], num_fewshot=shots, limit=limit, task_manager=manager,
                                  log_samples=True, bootstrap_iters=0)
    return time.perf_counter() - started, sorted(out["samples"][task], key=lambda s: s["doc_id"]), out["results"][task]


def agreement(ours: list[dict], theirs: list[dict]) -> tuple[float, float]:
    """Share of items whose chosen answer is the same, and the largest log-likelihood difference."""
    pick = lambda s: max(range(len(s["filtered_resps"])), key=lambda i: s["filtered_resps"][i][0])  # noqa: E731
    same = sum(pick(a) == pick(b) for a, b in zip(ours, theirs)) / len(theirs)
    diff = max(abs(x[0] - y[0]) for a, b in zip(ours, theirs) for x, y in zip(a["filtered_resps"], b["filtered_resps"]))
    return same, diff


def compare(loaded, manager: TaskManager, args) -> dict:
    ours_s, ours, ours_res = run(FtscopeLM(language_model(loaded, args.batch_tokens)), args.task, manager,
                                 args.shots, args.limit)
    print(f"{args.task} {args.shots}-shot  ftscope          {ours_s:7.1f} s  acc {ours_res['acc,none']:.3f}")
    report = {"task": args.task, "shots": args.shots, "limit": args.limit, "items": len(ours),
              "ftscope_s": round(ours_s, 2), "acc_ftscope": ours_res["acc,none"]}
    for batch in args.batch_sizes.split(","):
        hf = HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=batch, device=args.device)
        hf_s, theirs, hf_res = run(hf, args.task, manager, args.shots, args.limit)
        same, diff = agreement(ours, theirs)
        print(f"{args.task} {args.shots}-shot  lm-eval hf bs={batch:<4s} {hf_s:7.1f} s  speedup {hf_s / ours_s:5.2f}x  "
              f"agreement {same:.3f}  max |dlogprob| {diff:.1e}  acc {hf_res['acc,none']:.3f}")
        report.update({f"lm_eval_bs{batch}_s": round(hf_s, 2), f"speedup_bs{batch}": round(hf_s / ours_s, 2),
                       f"agreement_bs{batch}": round(same, 4), f"max_abs_logprob_diff_bs{batch}": diff,
                       f"acc_lm_eval_bs{batch}": hf_res["acc,none"]})
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=250)
    parser.add_argument("--shots", type=int, default=4)
    parser.add_argument("--batch-sizes", default="1,8,auto", help="lm-eval HFLM batch sizes to time")
    parser.add_argument("--batch-tokens", type=int, default=4096, help="ftscope's padded tokens per forward")
    parser.add_argument("--task", default=TASK, help="a local multiple-choice task (needs --include_path)")
    parser.add_argument("--include_path", default=None)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    loaded = load_model(args.model, options=LoadOptions(dtype="float32", device=args.device))
    with tempfile.TemporaryDirectory() as tmp:
        if args.include_path is None:
            write_sciq_task(Path(tmp))
        report = compare(loaded, TaskManager(include_path=args.include_path or tmp, include_defaults=False), args)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
