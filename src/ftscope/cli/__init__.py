"""The `ftscope` command: one module per subcommand, each building a spec and making one library call.

Errors ftscope raises on purpose (FtscopeError) print as one line and exit 2; Ctrl-C prints one line and
exits 130 with the store resumable; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import signal
import sys

import typer

from ftscope.cli import audit, eval as eval_, lists, lm_eval, rag, report, run, train
from ftscope.cli.common import console
from ftscope.errors import FtscopeError
from ftscope.openmp import choose_wait_policy

INTERRUPTED = 130  # the shell's code for a process ended by SIGINT
RUNS_MODELS = {"train", "eval", "run", "audit", "rag"}  # the commands whose speed OpenMP's wait decides

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Fine-tune a model and measure what it did to generalization.")
for module in (lists, eval_, train, rag, audit, report, run, lm_eval):
    module.register(app)


def _interrupt_once(signum: int, frame: object) -> None:
    """Ctrl-C raises once; a second press must not cut short the worker giving its cell back (kill -9 still
    stops everything, and the store recovers from that too)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def main() -> None:
    if RUNS_MODELS.intersection(sys.argv[1:2]):
        # read once, when torch loads (no subcommand module imports it at import time): a bounded spin on free
        # cores, passive waiting on busy ones (ftscope/openmp.py has the measurements). Only for the commands
        # that run a model: sampling the cores takes 0.1 s that `status` or `--help` need not pay.
        choose_wait_policy()
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt_once)
    sys.exit(_run())


def _click_errors() -> tuple[tuple[type, ...], tuple[type, ...], tuple[type, ...]]:
    """click's Exit, Abort and ClickException classes, each with typer's own copy: typer 0.2x vendors click,
    and an unknown command raised the copy's UsageError past an `except click.ClickException`."""
    import click
    import typer

    vendored = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    return ((click.exceptions.Exit, typer.Exit), (click.exceptions.Abort, typer.Abort),
            (click.ClickException, vendored))


def _run() -> int:
    """The exit code. Without standalone mode click and typer *return* an Exit's code (a command's
    `typer.Exit(1)`; recent typer also turns Ctrl-C into Exit(130)) instead of exiting: it is used here."""
    exits, aborts, usage_errors = _click_errors()
    try:
        code = app(standalone_mode=False)
    except FtscopeError as e:
        console.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
        return 2
    except (KeyboardInterrupt, *aborts):  # older typer: Ctrl-C arrives as Abort
        code = INTERRUPTED
    except exits as e:
        return e.exit_code
    except usage_errors as e:  # an unknown command or option: click's own one-line message
        e.show()
        return e.exit_code
    if code == INTERRUPTED:
        console.print("interrupted: finished cells are kept and the cells in progress went back to pending; "
                      "run the same command again to resume", highlight=False, soft_wrap=True)
    return code if isinstance(code, int) else 0
