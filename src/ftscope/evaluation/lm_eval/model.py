"""lm-eval's `LM` interface over ftscope's scorer (`HFLanguageModel`): `--model ftscope`.

The numbers are HFLM's (the scorer follows its tokenization, truncation, greedy flags and stop
strings); what differs is how they are computed: each distinct context runs once with every answer
read from its KV cache, a task's shared prefix runs once, and batches are filled by a token budget.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Mapping, get_args

from lm_eval.api.model import LM
from lm_eval.models.utils import normalize_gen_kwargs
from lm_eval.utils import get_rolling_token_windows, make_disjoint_window
from tqdm import tqdm

from ftscope.errors import ConfigError
from ftscope.models import LoadOptions, language_model, load_model
from ftscope.models.loading import DType

if TYPE_CHECKING:
    from lm_eval.api.instance import Instance

    from ftscope.models.lm import HFLanguageModel

log = logging.getLogger(__name__)

HFLM_MAX_GEN_TOKS = 256  # HFLM.max_gen_toks: what a task that names no max_gen_toks gets
LM_EVAL_OWN_ARGS = ("batch_size", "max_batch_size")  # passed by lm-eval's own flags; batches here are by tokens


@dataclass(frozen=True)
class ModelArgs:
    """What `--model_args` may say. `pretrained`: a built-in name (smollm2-135m), a model folder, a .gguf
    file or a hub id; `adapter`: a PEFT folder `ftscope train` wrote; `batch_tokens`: padded tokens per
    forward pass; `max_length`: the context window, if not the model's own."""

    pretrained: str | None = None
    adapter: str | None = None
    dtype: DType = "float32"
    device: str | None = None
    batch_tokens: int = 4096
    max_length: int | None = None
    trust_remote_code: bool = False

    @classmethod
    def parse(cls, args: Mapping[str, Any]) -> "ModelArgs":
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(args) - set(names) - set(LM_EVAL_OWN_ARGS))
        if unknown:
            raise ConfigError(f"--model_args: {', '.join(unknown)} not understood by the ftscope model; "
                              f"it takes {', '.join(names)}")
        parsed = cls(**{k: v for k, v in args.items() if k in names})
        if parsed.dtype not in get_args(DType):
            raise ConfigError(f"--model_args: dtype={parsed.dtype} is not one of {', '.join(get_args(DType))}")
        if parsed.trust_remote_code not in (True, False):
            raise ConfigError("--model_args: trust_remote_code must be True or False")
        return parsed


class FtscopeLM(LM):
    """`pretrained` may also be a ready `HFLanguageModel` (the Python API: ftscope's own runs)."""

    def __init__(self, pretrained: "str | HFLanguageModel | None" = None, **model_args: Any) -> None:
        super().__init__()
        if pretrained is None or isinstance(pretrained, (str, os.PathLike)):
            self.args = ModelArgs.parse({**model_args, "pretrained": None if pretrained is None else str(pretrained)})
            self.lm = _load(self.args)
        else:
            self.lm, self.args = pretrained, ModelArgs.parse(model_args)
        if self.args.max_length:
            self.lm.max_length = int(self.args.max_length)
        self._device = self.lm.device

    # ---- what lm-eval reads besides the three request types -----------------------------------
    @property
    def tokenizer(self) -> Any:
        return self.lm.tokenizer

    @property
    def max_length(self) -> int:
        return self.lm.max_length

    @property
    def eot_token_id(self) -> int:
        return self.lm.tokenizer.eos_token_id

    @property
    def tokenizer_name(self) -> str:
        return self.lm.tokenizer.name_or_path.replace("/", "__")

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return getattr(self.lm.tokenizer, "chat_template", None) if chat_template else None

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.lm.tokenizer.apply_chat_template(chat_history, tokenize=False,
                                                     add_generation_prompt=add_generation_prompt,
                                                     continue_final_message=not add_generation_prompt)

    def get_model_info(self) -> dict[str, Any]:
        """Merged by lm-eval into results.json's `config`."""
        model = self.lm.model
        return {"model_num_parameters": sum(p.numel() for p in model.parameters()),
                "model_dtype": str(next(model.parameters()).dtype), "model_revision": "", "model_sha": "",
                "ftscope_model_args": {k: v for k, v in asdict(self.args).items() if v is not None},
                "ftscope_batch_tokens": self.lm.batch_tokens}

    # ---- the three request types --------------------------------------------------------------
    def loglikelihood(self, requests: list["Instance"]) -> list[tuple[float, bool]]:
        with _progress("ftscope loglikelihood") as report:
            return self.lm.loglikelihood([r.args for r in requests], [r.task_name or "" for r in requests], report)

    def loglikelihood_rolling(self, requests: list["Instance"]) -> list[float]:
        """HFLM's disjoint windows: every token predicted once, each window with as much context as fits."""
        windows, owners = [], []
        for i, request in enumerate(requests):
            tokens = self.lm.encode_as_hflm(request.args[0])
            for window in get_rolling_token_windows(tokens, self.lm.prefix_token_id, self.lm.max_length, 1):
                windows.append(make_disjoint_window(window))
                owners.append(i)
        totals = [0.0] * len(requests)
        with _progress("ftscope loglikelihood_rolling windows") as report:
            for owner, (logprob, _) in zip(owners, self.lm.loglikelihood_tokens(windows, progress=report)):
                totals[owner] += logprob
        return totals

    def generate_until(self, requests: list["Instance"]) -> list[str]:
        """Greedy only; requests with the same task and generation settings run together."""
        groups: dict[tuple[str, str], list[int]] = {}
        for i, request in enumerate(requests):
            key = (request.task_name or "", json.dumps(request.args[1], sort_keys=True, default=str))
            groups.setdefault(key, []).append(i)
        texts, done = [""] * len(requests), 0
        with _progress("ftscope generate_until") as report:
            for (task, _), members in groups.items():
                until, max_gen_toks = _greedy_settings(task, requests[members[0]].args[1])
                outs = self.lm.generate_until([requests[i].args[0] for i in members], until, max_gen_toks,
                                              lambda d, _t, before=done: report(before + d, len(requests)))
                for i, text in zip(members, outs):
                    texts[i] = text
                done += len(members)
        return texts


@contextmanager
def _progress(desc: str):
    """A tqdm bar like HFLM's per request type, fed the (done, total) counts the scorer reports."""
    with tqdm(desc=desc, total=0) as bar:
        def report(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield report


def _greedy_settings(task: str, gen_kwargs: dict[str, Any]) -> tuple[list[str], int]:
    kwargs = normalize_gen_kwargs(gen_kwargs, HFLM_MAX_GEN_TOKS)
    if kwargs.get("do_sample"):
        raise ConfigError(f"task {task or '?'}: asks for sampled generation (do_sample=True); the ftscope model "
                          "decodes greedily only: run this task with --model hf")
    until = kwargs["until"]
    return ([until] if isinstance(until, str) else list(until)), int(kwargs["max_gen_toks"])


def _load(args: ModelArgs) -> "HFLanguageModel":
    options = LoadOptions(dtype=args.dtype, device=_device(args.device),
                          trust_remote_code=bool(args.trust_remote_code))
    return language_model(load_model(args.pretrained, args.adapter, options), batch_tokens=int(args.batch_tokens))


def _device(device: str | None) -> str:
    """lm-eval's CLI defaults to cuda:0; like HFLM, fall back to what the machine has."""
    if not device or not device.startswith("cuda"):
        return device or "auto"
    import torch

    if torch.cuda.is_available():
        return device
    log.info("device %s requested but CUDA is not available; using the CPU", device)
    return "cpu"
