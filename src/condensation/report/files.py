"""Reading what the commands wrote: JSON (a damaged file is a one-line ``ReportError``), CSV, and
the notes under a markdown table."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from ..errors import ReportError

__all__ = ["read_json", "read_optional", "read_csv", "markdown_notes"]


def read_json(path: Path) -> Any:
    """The JSON in ``path``; ``ReportError`` naming the file if it is missing or damaged."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReportError(f"{path} is unreadable ({type(e).__name__}); re-run the command that wrote it") from None


def read_optional(path: Path) -> Any:
    """The JSON in ``path``, or None if there is no such file (a damaged one still raises)."""
    return read_json(path) if path.is_file() else None


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header; [] if it is missing or unreadable."""
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def markdown_notes(path: Path) -> str:
    """The text under the last table of a markdown file (its notes), one paragraph; "" if none."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    last_table = max((i for i, line in enumerate(lines) if line.startswith("|")), default=-1)
    return " ".join(line.strip() for line in lines[last_table + 1 :] if line.strip())
