"""Reading the YAML files a user writes (experiments, training fields, dataset specs), with one error line.

Every loader of a user's YAML reads it here, so a missing file, a non-UTF-8 byte and a syntax error are
told the same way everywhere: `file:line: not valid YAML (...)`, the line being the construct left open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ftscope.errors import ConfigError


def read_yaml_text(path: str | Path, what: str = "file") -> str:
    """The file's text; one line when it is missing or not UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: {what} not found; check the path")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 (byte {e.start}); re-save the file as UTF-8") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read it ({e.strerror})") from None


def parse_yaml(text: str, path: str | Path) -> Any:
    """The parsed text (None for an empty file); one `file:line` line for a syntax error."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}{yaml_problem(e)}") from None


def read_yaml(path: str | Path, what: str = "file") -> Any:
    return parse_yaml(read_yaml_text(path, what), path)


def yaml_problem(e: yaml.YAMLError) -> str:
    """`:LINE: not valid YAML (...)` at the construct left open (an unclosed `[` or quote), which is where the
    fix goes, rather than at the later line where the parser gave up."""
    context, problem = getattr(e, "context_mark", None), getattr(e, "problem_mark", None)
    mark = context or problem
    where = f":{mark.line + 1}" if mark else ""
    said = getattr(e, "problem", None) or str(e).splitlines()[0]
    if context is not None and problem is not None and problem.line != context.line:
        said = f"{e.context}: {said} on line {problem.line + 1}"
    return f"{where}: not valid YAML ({said})"
