"""Loading the trainers' YAML files with errors that point at file and line.

Trainers are not programmers: a typo must produce a message such as
``data/known_issues.yml:14: entry 'parcel_tracking': 'fix' is missing``,
never a traceback from deep inside the bot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

LINE = "__line__"


class TrainerFileError(ValueError):
    """A trainers' file is missing or malformed; the message says where."""

    def __init__(self, path: Path | str, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line where each mapping starts."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping[LINE] = node.start_mark.line + 1
        return mapping


def load(path: Path | str) -> dict[str, Any]:
    """Parse a YAML file whose top level is a mapping; keep line numbers."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrainerFileError(path, None, "file not found") from None
    except UnicodeDecodeError as exc:
        raise TrainerFileError(path, None, f"not UTF-8 text ({exc.reason})") from None
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise TrainerFileError(path, line, f"YAML syntax error: {problem}") from None
    except ValueError as exc:  # a value YAML cannot build, e.g. the date 2026-13-01
        raise TrainerFileError(path, None, f"not a valid value: {exc}") from None
    if not isinstance(data, dict):
        raise TrainerFileError(path, None, "the file must be a YAML mapping")
    return data


def line_of(item: Any) -> int | None:
    return item.get(LINE) if isinstance(item, dict) else None


def require_list(path: Path | str, data: dict, key: str) -> list:
    value = data.get(key)
    if not isinstance(value, list):
        raise TrainerFileError(path, line_of(data), f"top-level key '{key}:' must hold a list")
    return value


def require_text(path: Path | str, item: dict, key: str, label: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise TrainerFileError(path, line_of(item), f"{label}: '{key}' is missing or empty")
    return value.strip()
