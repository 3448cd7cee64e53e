"""The `ftscope` command: one module per subcommand, each building a spec and making one library call.

Errors ftscope raises on purpose (FtscopeError) print as one line and exit 2; Ctrl-C prints one line and
exits 130 with the store resumable; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import signal
import sys

import typer

from ftscope.cli import audit, eval as eval_, lists, rag, report, run, train
from ftscope.cli.common import console
from ftscope.errors import FtscopeError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Fine-tune a model and measure what it did to generalization.")
for module in (lists, eval_, train, rag, audit, report, run):
    module.register(app)


def _interrupt_once(signum: int, frame: object) -> None:
    """Ctrl-C raises once; a second press must not cut short the worker giving its cell back (kill -9 still
    stops everything, and the store recovers from that too)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def main() -> None:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt_once)
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
