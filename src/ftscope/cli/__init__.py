"""The `ftscope` command: one module per subcommand, each building a spec and making one library call.

Errors ftscope raises on purpose (FtscopeError) print as one line and exit 2; Ctrl-C prints one line and
exits 130 with the store resumable; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sys

# OpenMP threads that spin while they wait turn a busy machine (another job, or --workers) into a standstill:
# measured here, torch with 2 threads ran small matmuls 7× slower than with 1 while other processes held the
# cores, and as fast as 1 thread with passive waiting. Set before torch loads; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import typer

from ftscope.cli import audit, eval as eval_, lists, lm_eval, rag, report, run, train
from ftscope.cli.common import console
from ftscope.errors import FtscopeError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Fine-tune a model and measure what it did to generalization.")
for module in (lists, eval_, train, rag, audit, report, run, lm_eval):
    module.register(app)


def main() -> None:
    try:
        app(standalone_mode=False)
    except FtscopeError as e:
        console.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("interrupted: finished cells are kept and the cells in progress went back to pending; "
                      "run the same command again to resume", highlight=False, soft_wrap=True)
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except Exception as e:  # click's usage errors carry their own formatting
        import click

        if isinstance(e, click.exceptions.Abort):  # click turns Ctrl-C at a prompt into Abort
            sys.exit(130)
        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        raise
