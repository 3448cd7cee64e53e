"""What one training run is: a frozen, hashed spec, and the checks that turn bad values into one line.

Defaults follow the paper's published script (LHRYANG/Generalization_of_FT-LLM, run_train.sh):
2 epochs, AdamW, learning rate 2e-5 with a linear schedule and no warm-up, weight decay 0, and an
effective batch of 16 (2 per device × 8 accumulation steps). The paper's *text* says 0.002; the
script is what produced its numbers, so 2e-5 is the full fine-tuning default here.

Parameter-efficient methods get their own learning-rate defaults (`DEFAULT_LR`), because 2e-5 barely
moves them: a LoRA update is a product B·A with B starting at zero, and a soft prompt is a handful of
vectors with no other weights to carry the change, so both need one to three orders more step size.
LoRA's 1e-3 was measured, not copied: SmolLM2-135M, 200 Amazon examples, one epoch (13 steps of 16),
0-shot accuracy on 200 test items against the base's 0.860 — 2e-4 gave 0.845, 5e-4 0.855, 1e-3 0.965.
The 1e-4–3e-4 common for 7B-class models is the better start there. Soft prompts get 3e-2
(Lester et al. 2021 train them at 0.3 with Adafactor; AdamW wants less).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace

from ftscope.errors import ConfigError

METHOD_NAMES = ("full", "lora", "prompt_tuning", "fticl", "promot")
TUNES = ("full", "lora")
DEMO_MODES = ("fixed", "sampled")
DTYPES = ("float32", "bfloat16")

# The learning rate a method trains with when the spec leaves `lr` unset (see the module docstring).
DEFAULT_LR = {"full": 2e-5, "lora": 1e-3, "prompt": 3e-2}  # keyed by TrainSpec.tuned
DEFAULT_PROMPT_LR = 3e-2


@dataclass(frozen=True)
class TrainSpec:
    model: str = "smollm2-135m"
    method: str = "full"
    datasets: tuple[str, ...] = ("amazon",)
    proportions: tuple[float, ...] = ()  # one weight per dataset; empty: equal shares
    n: int | None = None  # total examples over all datasets; None: the whole smallest training file
    epochs: int = 2
    lr: float | None = None  # None: DEFAULT_LR of what is tuned (`tune` for fticl/promot stage 2)
    batch_size: int = 2
    grad_accum: int = 8
    seed: int = 0
    max_length: int = 1024  # tokens; longer examples are cut on the right and counted
    # Padded tokens per forward pass: a batch of long rows is run in pieces within this budget. The loss
    # is normalised over the whole optimizer step, so the gradient is the same; only memory changes.
    max_batch_tokens: int = 2048
    template: str = "p1"  # the paper trains on its Prompt-1 format
    tune: str = "full"  # what fticl and promot tune: the whole model or LoRA adapters
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ("all-linear",)
    prompt_tokens: int = 20
    prompt_init: str | None = None  # text to start the soft prompt from; None: random vocabulary rows
    fticl_k: int = 4
    fticl_demos: str = "fixed"  # fixed: first k of the few-shot file (the paper); sampled: k per example
    promot_steps: int = 100  # ProMoT stage 1: optimizer steps tuning the soft prompt alone
    promot_lr: float | None = None
    checkpoint_every: int = 50  # optimizer steps; 0 turns checkpoints off
    allow_fewer: bool = False
    dtype: str = "float32"  # weights as loaded
    bf16: bool | None = None  # bf16 autocast; None: on for CUDA, off on CPU
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0

    @property
    def tuned(self) -> str:
        """What gets its weights changed: full, lora or prompt."""
        if self.method in ("full", "lora"):
            return self.method
        return "prompt" if self.method == "prompt_tuning" else self.tune

    def resolved(self) -> "TrainSpec":
        """Defaults made explicit, so two specs that train the same way hash the same."""
        weights = self.proportions or (1.0,) * len(self.datasets)
        total = sum(weights) or 1.0
        return replace(
            self,
            lr=self.lr if self.lr is not None else DEFAULT_LR[self.tuned],
            promot_lr=self.promot_lr if self.promot_lr is not None else DEFAULT_PROMPT_LR,
            proportions=tuple(round(w / total, 12) for w in weights),
        )

    def to_dict(self) -> dict:
        return asdict(self)

    def hash(self) -> str:
        """sha256 of the resolved spec's canonical JSON: the run's cache key."""
        text = json.dumps(self.resolved().to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def check(spec: TrainSpec, where: str = "train spec") -> TrainSpec:
    """Raise one ConfigError line naming the field for the first bad value; return the spec."""
    for field, ok, fix in _rules(spec):
        if not ok:
            raise ConfigError(f"{where}: {field}: {fix} (got {getattr(spec, field)!r})")
    return spec


def _rules(s: TrainSpec) -> list[tuple[str, bool, str]]:
    positive = lambda v: v is None or v > 0  # noqa: E731
    return [
        ("method", s.method in METHOD_NAMES, f"must be one of {', '.join(METHOD_NAMES)}"),
        ("tune", s.tune in TUNES, f"must be one of {', '.join(TUNES)}"),
        ("datasets", isinstance(s.datasets, (tuple, list)) and bool(s.datasets)
         and all(isinstance(d, str) and d for d in s.datasets), "give a tuple of one or more dataset names"),
        ("proportions", not s.proportions or (len(s.proportions) == len(s.datasets)
                                              and all(p > 0 for p in s.proportions)),
         "give one positive weight per dataset, or none for equal shares"),
        ("n", s.n is None or s.n >= 1, "must be 1 or more (or unset for the whole file)"),
        ("epochs", s.epochs >= 1, "must be 1 or more"),
        ("lr", positive(s.lr), "must be > 0"),
        ("promot_lr", positive(s.promot_lr), "must be > 0"),
        ("batch_size", s.batch_size >= 1, "must be 1 or more"),
        ("grad_accum", s.grad_accum >= 1, "must be 1 or more"),
        ("max_length", s.max_length >= 8, "must be at least 8 tokens"),
        ("max_batch_tokens", s.max_batch_tokens >= 1, "must be 1 or more"),
        ("lora_r", s.lora_r >= 1, "must be 1 or more"),
        ("lora_alpha", s.lora_alpha > 0, "must be > 0"),
        ("lora_dropout", 0 <= s.lora_dropout < 1, "must be in [0, 1)"),
        ("lora_targets", bool(s.lora_targets), "name module names or 'all-linear'"),
        ("prompt_tokens", s.prompt_tokens >= 1, "must be 1 or more"),
        ("fticl_k", s.fticl_k >= 1, "must be 1 or more"),
        ("fticl_demos", s.fticl_demos in DEMO_MODES, f"must be one of {', '.join(DEMO_MODES)}"),
        ("promot_steps", s.promot_steps >= 1, "must be 1 or more"),
        ("checkpoint_every", s.checkpoint_every >= 0, "must be 0 (off) or more"),
        ("dtype", s.dtype in DTYPES, f"must be one of {', '.join(DTYPES)}"),
        ("max_grad_norm", s.max_grad_norm > 0, "must be > 0"),
        ("weight_decay", s.weight_decay >= 0, "must be 0 or more"),
    ]
