"""What every benchmark run records beside its numbers (commit, machine, command, date), and how it is written.

A run's ``results.json`` is its measurements plus these fields; ``README.md`` beside it is rendered from the JSON
(``pages.render_page``), never edited by hand. ``benchmarks/render_results.py`` re-renders the kept runs.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .pages import NOT_RECORDED, PAGE, RESULTS, render_page

REPOSITORY = Path(__file__).resolve().parents[2]


def machine() -> dict[str, Any]:
    """What the numbers were measured on: CPU model, cores, memory, the torch and faiss builds, GPU."""
    import faiss
    import torch

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": _ram_gb(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "faiss": getattr(faiss, "__version__", NOT_RECORDED),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float | str:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return NOT_RECORDED


def commit() -> str:
    """The checked-out commit of the code that ran, marked when the working tree had uncommitted changes;
    ``not recorded`` outside a git checkout (an installed package)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(REPOSITORY), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    head = git("rev-parse", "HEAD") if (REPOSITORY / ".git").exists() else None
    if not head:
        return NOT_RECORDED
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return head + (" (with uncommitted changes)" if dirty else "")


def command_line() -> str:
    """This process's command line as a user would type it (``aer ...`` or ``python benchmarks/x.py ...``)."""
    program = sys.argv[0] if sys.argv else ""
    head = ["python", program] if program.endswith(".py") else [Path(program).name or "python"]
    return shlex.join([*head, *sys.argv[1:]])


def provenance(command: str | None = None) -> dict[str, Any]:
    """The fields every ``results.json`` starts with: ``commit``, ``date`` (UTC), ``command``, ``machine``."""
    return {
        "commit": commit(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command or command_line(),
        "machine": machine(),
    }


def keep_earlier_rows(out: str | Path, results: dict[str, Any], tables: tuple[str, ...], measured: list[str]) -> None:
    """Fill ``results``' ``tables`` with the rows of an earlier ``results.json`` in ``out`` made at the same commit,
    for the corpora this run does not measure again (``measured``), so a run of some corpora keeps the others."""
    previous = Path(out) / RESULTS
    if not previous.exists():
        return
    old = json.loads(previous.read_text())
    if old.get("commit") == results["commit"]:
        for table in tables:
            results[table] = [r for r in old.get(table, []) if r["corpus"] not in measured]


def measure_by_corpus(
    out: str | Path, results: dict[str, Any], tables: tuple[str, ...], names: Sequence[str], order: Sequence[str],
    measure: Callable[[str], dict[str, dict[str, Any]]],
) -> None:  # fmt: skip
    """Fill ``results``' ``tables`` one corpus at a time: an earlier run's rows for the corpora not in ``names``
    (``keep_earlier_rows``), then ``measure(name)`` (a row per table) for each of ``names`` that ``order`` lists, in
    that order, the rows kept in that order and ``results`` written into ``out`` after every corpus."""
    keep_earlier_rows(out, results, tables, list(names))
    rank = {name: i for i, name in enumerate(order)}
    for name in sorted((n for n in names if n in rank), key=rank.__getitem__):
        done = measure(name)
        for table in tables:
            results[table] = sorted([*results[table], done[table]], key=lambda r: rank[r["corpus"]])
        write_results(out, results)


def write_results(out: str | Path, results: dict[str, Any]) -> Path:
    """Write ``results.json`` and the page rendered from it (``README.md``, with any ``notes.md`` in ``out``) into
    ``out``; each file is replaced whole (written beside it, then renamed), so a failed write leaves the previous
    one. Returns the JSON's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=1, ensure_ascii=False) + "\n"
    notes = out / "notes.md"
    page = render_page(
        results,
        notes=notes.read_text() if notes.exists() else None,
        pictures=sorted(p.name for p in out.glob("*.png")),
    )
    _replace(out / RESULTS, text)
    _replace(out / PAGE, page)
    return out / RESULTS


def _replace(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
