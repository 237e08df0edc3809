"""Versioned JSON files that say what a directory is (a collection, an encoder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_manifest(path: Path, fmt: str, version: int, error: type[Exception], what: str) -> dict[str, Any]:
    """Read ``path`` and check its ``format`` and ``version``; raise ``error`` saying what is wrong."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise error(f"{path.parent}: not {what} (no {path.name})") from exc
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: not UTF-8, not JSON, a too long int
        raise error(f"{path}: unreadable ({str(exc)[:200]})") from exc
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise error(f"{path.parent}: not {what}")
    if data.get("version") != version:
        raise error(f"{path.parent}: format version {data.get('version')!r:.40} is not supported (this is {version})")
    return data
