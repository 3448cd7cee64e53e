"""`ftscope-lm-eval ARGS` (or `python -m ftscope.evaluation.lm_eval ARGS`): lm-eval's own CLI with `--model
ftscope` available.

    ftscope-lm-eval --model ftscope --model_args pretrained=smollm2-135m \
        --tasks arc_easy --num_fewshot 4 --output_path out --log_samples

Every argument is lm-eval's; see registration.py for why a wrapper rather than a plugin.
"""

from __future__ import annotations

import sys

from ftscope.errors import FtscopeError
from ftscope.evaluation.lm_eval.registration import register


def main() -> None:
    if not sys.argv[0].endswith("ftscope-lm-eval"):
        sys.argv[0] = "python -m ftscope.evaluation.lm_eval"
    try:
        register()
        from lm_eval.__main__ import cli_evaluate

        cli_evaluate()
    except FtscopeError as e:  # bad model args, a model that cannot load: one line, no traceback
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
