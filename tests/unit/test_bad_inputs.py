"""Every bad input across the commands gets exactly one line naming the file or field and the fix, exit code
2, and no traceback. One row per input; each row builds its own files in a temporary folder.

Rows that need a model use the tiny random Llama (conftest), built only if a selected row uses it; each command
runs in a process of its own, as a user runs it, side by side with the others (one per core). The processes are
forked from a server that has imported the CLI, torch and transformers once (`SERVER`): most rows are answered
before a fresh interpreter would have finished its imports (83 rows: 150 s of subprocesses on 2 slow cores, most
of it importing the same modules 83 times).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import pytest

Setup = Callable[[Path, "_Fixtures"], list[str]]  # (tmp folder, fixtures) → the command's arguments
ROWS: list[tuple[str, Setup, str]] = []


def row(name: str, message: str):
    """Register a bad input: `message` must appear in the one line the command prints."""
    def add(setup: Setup) -> Setup:
        ROWS.append((name, setup, message))
        return setup
    return add


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text, encoding="utf-8")
    return path


GOOD_YAML = """name: t
store: {store}
data_dir: {data}
train:
  methods: [lora]
  datasets: [amazon]
  n: [8]
eval:
  datasets: [sst2]
  shots: [0]
  limit: 5
"""


def experiment(tmp: Path, fx: "_Fixtures", edit: tuple[str, str] | None = None, text: str | None = None) -> list[str]:
    body = text if text is not None else GOOD_YAML.format(store=tmp / "store", data=fx["data"])
    if edit:
        assert edit[0] in body, edit
        body = body.replace(*edit)
    return ["run", str(write(tmp / "exp.yaml", body)), "--dry-run"]


# ---- experiment YAML ------------------------------------------------------------------------
row("yaml syntax error", "exp.yaml:2: not valid YAML")(
    lambda t, fx: experiment(t, fx, ("store: ", "store: [")))
row("yaml top level is a list", "the top level must be a mapping")(
    lambda t, fx: experiment(t, fx, text="- name: t\n"))
row("unknown key", "exp.yaml:8: train.epochz: unknown key")(
    lambda t, fx: experiment(t, fx, ("  n: [8]", "  n: [8]\n  epochz: 2")))
row("wrong type", "exp.yaml:11: eval.limit")(lambda t, fx: experiment(t, fx, ("limit: 5", "limit: five")))
row("unknown method", "train.methods.0: 'lorra' is not one of")(
    lambda t, fx: experiment(t, fx, ("[lora]", "[lorra]")))
row("unknown eval dataset", "eval.datasets.0: 'sst3' is not a dataset")(
    lambda t, fx: experiment(t, fx, ("[sst2]", "[sst3]")))
row("unknown train dataset", "train.datasets.0: 'amazn' is not in the catalogue")(
    lambda t, fx: experiment(t, fx, ("[amazon]", "[amazn]")))
row("unknown model", "models.0: 'no-such-model'")(
    lambda t, fx: experiment(t, fx, ("train:", "models: [no-such-model]\ntrain:")))
row("missing experiment file", "experiment file not found")(lambda t, fx: ["run", str(t / "nope.yaml")])
row("malformed override", "expected key.path=value")(lambda t, fx: experiment(t, fx) + ["--set", "eval.limit"])
row("bad verdict rule", "verdicts.min_seeds")(
    lambda t, fx: experiment(t, fx, ("eval:", "verdicts: {min_seeds: 0}\neval:")))
row("judge is the model under test", "is a model under test")(
    lambda t, fx: experiment(t, fx, ("eval:", "rag: {corpora: [x.json], judge: smollm2-135m}\neval:")))
row("training option of another method", "fticl_k")(
    lambda t, fx: experiment(t, fx, ("  n: [8]", "  n: [8]\n  params: {fticl_k: 2}")))
row("shots beyond the demonstration pool", "eval.shots")(lambda t, fx: experiment(t, fx, ("[0]", "[0, 99]")))
row("unwritable store", "not writable")(lambda t, fx: experiment(t, fx, (str(t / "store"), "/proc/ftscope-store")))
row("experiment YAML not UTF-8", "exp.yaml: not UTF-8")(
    lambda t, fx: ["run", str(write(t / "exp.yaml", b"name: caf\xe9\n")), "--dry-run"])
row("unclosed quote", "exp.yaml:1: not valid YAML")(lambda t, fx: experiment(t, fx, ("name: t", 'name: "t')))
row("a list where a mapping goes", "exp.yaml:8: train.params: Input should be a valid dictionary")(
    lambda t, fx: experiment(t, fx, ("  n: [8]", "  n: [8]\n  params: [1]")))
row("override into a scalar", "'name' is not a mapping")(lambda t, fx: experiment(t, fx) + ["--set", "name.x=1"])
row("tuned model that is a pickle-only folder", "exp.yaml:4: tuned.0.path")(
    lambda t, fx: experiment(t, fx, ("train:", f"tuned: [{{path: {_pickle_only(t)}}}]\ntrain:")))
row("RAG corpus in a study that is malformed", "not valid JSON")(
    lambda t, fx: experiment(t, fx, ("eval:", f"rag: {{corpora: [{write(t / 'c.json', '{')}]}}\neval:")))
row("zero workers", "--workers")(lambda t, fx: experiment(t, fx) + ["--workers", "0"])
row("unknown backend", "--backend")(lambda t, fx: experiment(t, fx) + ["--backend", "slurm"])
row("status of a missing experiment", "experiment file not found")(lambda t, fx: ["status", str(t / "nope.yaml")])
row("plan: an effect off the 0-1 scale", "--effect")(lambda t, fx: ["plan", "x.yaml", "--effect", "5"])

# ---- eval -----------------------------------------------------------------------------------
EVAL = ["eval", "--limit", "3"]
row("eval: unknown dataset", "'nope' is not in the catalogue")(lambda t, fx: [*EVAL, "-d", "nope"])
row("eval: bad shots", "--shots")(lambda t, fx: [*EVAL, "-d", "sst2", "--shots", "x"])
row("eval: bad scoring", "--scoring")(lambda t, fx: [*EVAL, "-d", "sst2", "--scoring", "bogus"])
row("eval: unknown template", "--template: 'p9'")(lambda t, fx: [*EVAL, "-d", "sst2", "--template", "p9"])
row("eval: limit 0", "--limit: 0")(lambda t, fx: ["eval", "-d", "sst2", "--limit", "0"])
row("eval: file without --task", "needs --task")(lambda t, fx: [*EVAL, "-d", str(write(t / "a.csv", "x\n1\n"))])
row("eval: empty file", "the file is empty")(
    lambda t, fx: [*EVAL, "-d", str(write(t / "e.jsonl", "")), "--task", "sentiment", "-m", fx["tiny"]])
row("eval: records lack the task's fields", "has no field 'input'")(
    lambda t, fx: [*EVAL, "-d", str(write(t / "f.jsonl", '{"text": "a", "output": "positive"}\n')), "--task",
                   "sentiment", "-m", fx["tiny"]])
row("eval: not UTF-8", "not UTF-8")(
    lambda t, fx: [*EVAL, "-d", str(write(t / "l.jsonl", b'{"input": "caf\xe9", "output": "positive"}\n')),
                   "--task", "sentiment", "-m", fx["tiny"]])
row("eval: a record that is not an object", "line 1: expected a JSON object")(
    lambda t, fx: [*EVAL, "-d", str(write(t / "n.jsonl", "3\n")), "--task", "sentiment", "-m", fx["tiny"]])
row("eval: CSV row without its label", "row 2 has no value for 'output'")(
    lambda t, fx: [*EVAL, "-d", str(write(t / "m.csv", "input,output\ngood,positive\nbad,\n")), "--task",
                   "sentiment", "-m", fx["tiny"]])
row("eval: every label outside the task", "none of its labels")(
    lambda t, fx: [*EVAL, "-d", str(write(t / "o.csv", "input,output\ngood,meh\n")), "--task", "sentiment",
                   "-m", fx["tiny"]])
row("eval: inputs longer than the context", "longer than the model's context")(
    lambda t, fx: [*EVAL, "-d", str(write(t / "long.jsonl", json.dumps({"input": "word " * 2000,
                                                                       "output": "positive"}) + "\n")),
                   "--task", "sentiment", "-m", fx["tiny"]])
row("eval: spec YAML syntax error", "spec.yaml:2: not valid YAML")(
    lambda t, fx: [*EVAL, "-d", "x", "--spec", str(write(t / "spec.yaml", "datasets: [\n"))])
row("eval: spec YAML top-level list", "expected a mapping with a `datasets:` list")(
    lambda t, fx: [*EVAL, "-d", "x", "--spec", str(write(t / "spec.yaml", "- a\n"))])
row("eval: unwritable --out", "--out /proc/ftscope-out: not writable")(
    lambda t, fx: [*EVAL, "-d", "sst2", "--out", "/proc/ftscope-out"])
row("eval: no such model folder", "no such folder or file")(lambda t, fx: [*EVAL, "-d", "sst2", "-m", str(t / "x")])
row("eval: pickle-only model folder", "never unpickles")(lambda t, fx: [*EVAL, "-d", "sst2", "-m", str(_pickle_only(t))])
row("eval: corrupt GGUF", "GGUF")(lambda t, fx: [*EVAL, "-d", "sst2", "-m", str(write(t / "x.gguf", b"GGUF junk"))])
row("eval: empty adapter folder", "adapter")(
    lambda t, fx: [*EVAL, "-d", "sst2", "-m", fx["tiny"], "--adapter", str(_folder(t / "empty-adapter"))])
row("eval: corrupt adapter weights", "cannot load")(
    lambda t, fx: [*EVAL, "-d", "sst2", "-m", fx["tiny"], "--adapter", str(_corrupt_adapter(t, fx))])
row("eval: hub id offline", "not in the local hub cache")(
    lambda t, fx: [*EVAL, "-d", "sst2", "-m", "nobody-here/no-model-xyz"])
row("eval: shots beyond the pool", "demonstrations")(lambda t, fx: [*EVAL, "-d", "sst2", "--shots", "99"])
row("eval: dataset file not found", "file not found")(
    lambda t, fx: [*EVAL, "-d", str(t / "missing.jsonl"), "--task", "sentiment"])
row("eval: malformed --map", "--map")(
    lambda t, fx: [*EVAL, "-d", str(write(t / "a.csv", "x\n1\n")), "--task", "sentiment", "--map", "input"])
row("eval: JSON file that is not a list", "expected a JSON list of objects")(
    lambda t, fx: [*EVAL, "-d", str(write(t / "d.json", '{"input": "a"}')), "--task", "sentiment"])
row("eval: a `data:` file not in the SQuAD layout", "SQuAD v1.1 layout")(
    lambda t, fx: [*EVAL, "-d", str(write(t / "s.json", json.dumps({"data": [{"paragraphs": [{"qas": [{"answers": [{}]}]}]}]}))),
                   "--task", "qa"])
row("eval: model folder with torn safetensors", "cannot load")(lambda t, fx: [*EVAL, "-d", "sst2", "-m", str(_torn_model(t))])
row("eval: a file that is no model", "neither a .gguf model nor a folder")(
    lambda t, fx: [*EVAL, "-d", "sst2", "-m", str(write(t / "weights.txt", "x"))])
row("eval: adapter hub id offline", "not in the local hub cache")(
    lambda t, fx: [*EVAL, "-d", "sst2", "--adapter", "nobody-here/no-adapter-xyz"])
row("eval: spec YAML not UTF-8", "spec.yaml: not UTF-8")(
    lambda t, fx: [*EVAL, "-d", "x", "--spec", str(write(t / "spec.yaml", b"datasets: [caf\xe9]\n"))])

# ---- train ----------------------------------------------------------------------------------
TRAIN = ["train", "--n", "4", "--epochs", "1"]
row("train: bad proportions", "--proportions")(lambda t, fx: [*TRAIN, "-d", "amazon", "--proportions", "abc"])
row("train: unknown method", "method")(lambda t, fx: [*TRAIN, "--method", "lorra", "-d", "amazon"])
row("train: unknown field", "bogus_key")(lambda t, fx: [*TRAIN, "-d", "amazon", "--set", "bogus_key=1"])
row("train: dataset without a training file", "no training file")(
    lambda t, fx: [*TRAIN, "-d", "sst2", "-m", fx["tiny"], "--out", str(t / "o")])
row("train: n = 0", "n")(lambda t, fx: ["train", "-d", "amazon", "--n", "0"])
row("train: every target cut by max_length", "max_length")(
    lambda t, fx: [*TRAIN, "-d", "amazon", "-m", fx["tiny"], "--set", "max_length=8", "--out", str(t / "o")])
row("train: a label outside the task", "'meh', which is not one of positive, negative")(
    lambda t, fx: [*TRAIN, "-m", fx["tiny"], "-d", "mine", "--spec", str(_bad_label_spec(t)), "--out", str(t / "o")])
row("train: inputs longer than the context", "cuts every example's target away")(
    lambda t, fx: [*TRAIN, "-m", fx["tiny"], "-d", "mine", "--spec", str(_long_input_spec(t)), "--out", str(t / "o")])
row("train: one small file as both splits", "also the test file")(
    lambda t, fx: [*TRAIN, "-m", fx["tiny"], "-d", "mine", "--spec", str(_shared_file_spec(t)), "--out", str(t / "o")])
row("train: config YAML syntax error", "c.yaml:1: not valid YAML")(
    lambda t, fx: [*TRAIN, "-c", str(write(t / "c.yaml", "lr: [1\nn: 2\n")), "-d", "amazon"])
row("train: config YAML not a mapping", "expected a mapping of training fields")(
    lambda t, fx: [*TRAIN, "-c", str(write(t / "c.yaml", "- lr\n")), "-d", "amazon"])
row("train: malformed --set", "expected field=value")(lambda t, fx: [*TRAIN, "-d", "amazon", "--set", "lr"])
row("train: --out holds something else", "not empty")(
    lambda t, fx: [*TRAIN, "-d", "amazon", "-m", fx["tiny"], "--out", str(write(t / "o" / "x.txt", "x").parent)])

# ---- rag, audit, report ---------------------------------------------------------------------
RAG = ["rag", "--limit", "2"]
row("rag: empty corpus", "empty")(lambda t, fx: [*RAG, "--corpus", str(write(t / "c.json", ""))])
row("rag: malformed corpus", "not valid JSON")(lambda t, fx: [*RAG, "--corpus", str(write(t / "c.json", "{"))])
row("rag: no question has an answer", "no questions with a gold answer")(
    lambda t, fx: [*RAG, "--corpus", str(write(t / "c.json", json.dumps({"data": [{"title": "t", "paragraphs": [
        {"context": "Paris.", "qas": [{"id": "q", "question": "?", "answers": []}]}]}]})))])
row("rag: a context that is not a string", "context")(
    lambda t, fx: [*RAG, "--corpus", str(write(t / "c.json", json.dumps({"data": [{"title": "t", "paragraphs": [
        {"context": 3, "qas": [{"id": "q", "question": "?", "answers": [{"text": "a"}]}]}]}]})))])
row("rag: corpus not found", "not found")(lambda t, fx: [*RAG, "--corpus", str(t / "nope.json")])
row("rag: corpus not UTF-8", "not UTF-8")(lambda t, fx: [*RAG, "--corpus", str(write(t / "c.json", b'{"data": "caf\xe9"}'))])
row("rag: a documents JSONL line that is not JSON", "c.jsonl:2: not valid JSON")(
    lambda t, fx: [*RAG, "--corpus", str(write(t / "c.jsonl", '{"text": "a"}\n{oops\n'))])
row("rag: document questions without answers", "no questions with a gold answer")(
    lambda t, fx: [*RAG, "--corpus", str(write(t / "c.jsonl", '{"text": "Paris is in France."}\n')), "--questions",
                   str(write(t / "q.jsonl", '{"id": "1", "question": "Where?", "answers": []}\n'))])
row("rag: limit 0", "--limit: 0")(lambda t, fx: [*RAG, "--limit", "0", "--corpus", "x.json"])
row("rag: unwritable --out", "not writable")(lambda t, fx: [*RAG, "--corpus", "x.json", "--out", "/proc/ftscope-rag"])
row("rag: unknown retriever", "--retriever")(lambda t, fx: [*RAG, "--corpus", "x.json", "--retriever", "magic"])
row("rag: judge is the model", "model under test")(
    lambda t, fx: [*RAG, "--corpus", "x.json", "--judge", "smollm2-135m"])
row("audit: nothing to audit", "give the tuned model")(lambda t, fx: ["audit"])
row("report: not a store", "neither an experiment YAML nor a store")(lambda t, fx: ["report", str(t)])


def _corrupt_adapter(tmp: Path, fx: "_Fixtures") -> Path:
    folder = tmp / "bad-adapter"
    write(folder / "adapter_config.json", json.dumps({"peft_type": "LORA", "base_model_name_or_path": fx["tiny"],
                                                      "r": 8, "lora_alpha": 16, "target_modules": ["q_proj"],
                                                      "task_type": "CAUSAL_LM"}))
    write(folder / "adapter_model.safetensors", b"\x00\x01 not safetensors")
    return folder


def _spec_training_on(tmp: Path, records: list[dict], test: list[dict] | None = None) -> Path:
    """A dataset spec `mine` whose training file holds `records` (its test file, another: `test` or one good item)."""
    train = write(tmp / "train.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    test_file = write(tmp / "test.jsonl", "".join(json.dumps(r) + "\n" for r in test or [{"input": "good",
                                                                                           "output": "positive"}]))
    return write(tmp / "spec.yaml", f"datasets:\n  - name: mine\n    task: sentiment\n    test_file: {test_file}\n"
                                    f"    train_file: {train}\n")


def _bad_label_spec(tmp: Path) -> Path:
    return _spec_training_on(tmp, [{"input": f"t{i}", "output": "meh"} for i in range(6)])


def _long_input_spec(tmp: Path) -> Path:
    """Inputs far longer than the default max_length (1024 tokens): every target would be cut away."""
    return _spec_training_on(tmp, [{"input": "word " * 3000, "output": "positive"} for _ in range(6)])


def _shared_file_spec(tmp: Path) -> Path:
    """One small file as both splits: its first 500 items are the test part, nothing is left to train on."""
    data = write(tmp / "both.jsonl", "".join(json.dumps({"input": f"t{i}", "output": "positive"}) + "\n"
                                             for i in range(6)))
    return write(tmp / "spec.yaml", f"datasets:\n  - name: mine\n    task: sentiment\n    test_file: {data}\n"
                                    f"    train_file: {data}\n")


def _torn_model(tmp: Path) -> Path:
    write(tmp / "torn" / "config.json", json.dumps({"model_type": "llama"}))
    return write(tmp / "torn" / "model.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":").parent


def _pickle_only(tmp: Path) -> Path:
    write(tmp / "pk" / "config.json", "{}")
    return write(tmp / "pk" / "pytorch_model.bin", b"\x80\x04N.").parent  # a pickle: never to be loaded


def _folder(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


class _Fixtures:
    """`fx["tiny"]` builds the tiny model on first use only: rows that need no model never wait for one."""

    def __init__(self, request: pytest.FixtureRequest, paper_data: Path):
        self.request, self.data = request, str(paper_data)

    def __getitem__(self, key: str) -> str:
        return self.data if key == "data" else str(self.request.getfixturevalue("tiny_model_dir"))


# One row per line on stdin (JSON: args, cwd, env, out, err); per row, a forked child runs `ftscope ARGS` with its
# stdout and stderr in those files, and the server answers its exit code. Importing torch runs no OpenMP region,
# so the children may still use threads; every environment variable read at import time (HF_HUB_OFFLINE,
# COLUMNS, OMP_NUM_THREADS) is the same for all rows and set for the server itself.
SERVER = r"""
import json, os, signal, sys, traceback
from ftscope.cli import main
import torch, transformers
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        signal.alarm(300)
        os.chdir(job["cwd"])
        os.environ.clear()
        os.environ.update(job["env"])
        for fd, path in ((1, job["out"]), (2, job["err"])):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        sys.argv = ["ftscope", *job["args"]]
        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush(), sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
"""


def _env(tmp: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "400", "OMP_NUM_THREADS": "1"}  # one thread per row
    return {**env, "FTSCOPE_CACHE": str(tmp / "cache")} if tmp else env


class _Server:
    """A process that answers rows one at a time (one server per core)."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=_env())

    def answer(self, args: list[str], tmp: Path) -> subprocess.CompletedProcess:
        out, err = tmp / "answer.out", tmp / "answer.err"
        job = {"args": args, "cwd": str(tmp), "env": _env(tmp), "out": str(out), "err": str(err)}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        code = self.proc.stdout.readline()
        assert code, f"the row server died answering {args}"
        return subprocess.CompletedProcess(args, int(code), out.read_text(errors="replace"),
                                           err.read_text(errors="replace"))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def answers(request, tmp_path_factory, paper_data) -> dict[str, subprocess.CompletedProcess]:
    """Every selected row's command, run as a subprocess, as many at once as there are cores (each is mostly
    Python start-up and imports, one core apiece): the table costs its slowest rows, not their sum."""
    selected = {item.callspec.params["name"] for item in request.session.items
                if getattr(item, "originalname", "") == "test_bad_input_is_one_line_exit_2_no_traceback"}
    fixtures = _Fixtures(request, paper_data)
    jobs = {}
    for name, setup, _ in ROWS:
        if name in selected:
            tmp = tmp_path_factory.mktemp("row")
            jobs[name] = (setup(tmp, fixtures), tmp)  # in this thread: a row may build the tiny model
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    servers = queue.Queue()
    for _ in range(max(1, min(cores, len(jobs)))):
        servers.put(_Server())

    def answer(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
        server = servers.get()
        try:
            return server.answer(args, tmp)
        finally:
            servers.put(server)

    try:
        with ThreadPoolExecutor(max_workers=servers.qsize()) as pool:
            futures = {name: pool.submit(answer, *job) for name, job in jobs.items()}
            return {name: f.result() for name, f in futures.items()}
    finally:
        while not servers.empty():
            servers.get().close()


def test_the_table_is_large_enough():
    assert len(ROWS) >= 40


@pytest.mark.parametrize("name, setup, message", ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_is_one_line_exit_2_no_traceback(answers, name, setup, message):
    done = answers[name]
    lines = [line for line in done.stderr.splitlines() if line.strip() and not _noise(line)]
    assert done.returncode == 2, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert len(lines) == 1 and message in lines[0], lines


def _noise(line: str) -> bool:
    """Library warnings are not ftscope's lines (they go to stderr too)."""
    return "Warning" in line or line.startswith(("  ", "warnings.warn"))
