"""The results of ``fault_injection.py``: ``results.json`` (the counts and every fault) and ``results.md``, rendered
from that JSON alone (``python benchmarks/fault_report.py DIR`` renders it again)."""

from __future__ import annotations

import json
import platform
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HOW = (
    "Each scenario runs once without faults to count its write steps (every `os.fsync`, `os.replace`, `os.link`, "
    "faiss `write_index`, store INSERT / UPDATE / DELETE and COMMIT). Then, on a fresh copy of the collection each "
    "time, the N-th step fails, for every N and every error that kind of step can meet (ENOSPC, EIO; SQLite's "
    "\"database or disk is full\" and \"disk I/O error\"; a faiss `RuntimeError` quoting ENOSPC, EIO or no errno), "
    "and once more under a really full SQLite file (`PRAGMA max_page_count`). After each fault: the library raised "
    "a `RetrievalError`, the server answered JSON 507 (full disk) or 503 (another storage error) with no traceback; "
    "the writer's `len`, search (every id, the top 10 with scores) equal a fresh `retrieval.open`, whose store "
    "lists what its search returns; `verify` is ok; no temporary file is left; the items are those before the "
    "write or at one of its commit points. Then the same fault again, on the collection (or server) the first one "
    "left, checked the same way (*repeats*; nothing the first attempt committed may go); then the same write with "
    "no fault succeeds and all of that holds again."
)


def summarise(faults: list[dict[str, Any]]) -> dict[str, Any]:
    """The totals the acceptance asks for, and the faults by scenario, kind of step, error and answer."""
    return {
        "totals": {
            "faults": len(faults),
            "library": sum(f["layer"] == "library" for f in faults),
            "server": sum(f["layer"] == "server" for f in faults),
            "lost": sum(f["lost"] for f in faults),
            "tracebacks": sum(bool(f["traceback"]) for f in faults),
            "disagreements": sum(bool(f["problems"]) and not f["lost"] and not f.get("wrong_answer") for f in faults),
            "wrong_answers": sum(bool(f.get("wrong_answer")) for f in faults),
            "absorbed": sum(bool(f["absorbed"]) for f in faults),
            "repeats": sum(bool(f["repeat"]) for f in faults),
        },
        "by_scenario": dict(sorted(Counter(f["scenario"] for f in faults).items())),
        "by_step": dict(sorted(Counter(f["kind"] for f in faults).items())),
        "by_error": dict(sorted(Counter(f["error"] for f in faults).items())),
        "by_answer": dict(sorted(Counter(f"{f['layer']}: {f['answer']}" for f in faults).items())),
    }


def write_results(
    out: Path, faults: list[dict[str, Any]], unfired: list[dict[str, Any]], steps: dict[str, dict[str, int]], *,
    commit: str, dirty: bool, command: str,
) -> dict[str, Any]:  # fmt: skip
    """Write ``results.json`` and ``results.md`` under ``out``; print the totals; return the results."""
    results = {
        "commit": commit, "uncommitted_changes": dirty, "command": command, "python": platform.python_version(),
        **summarise(faults), "write_steps": steps,
        "not_fired": [f"{f['scenario']} step {f['step']} ({f['kind']}, {f['error']}){' repeat' * f['repeat']}: "
                      f"{f['answer']}" for f in unfired],  # fmt: skip
        "failures": [f for f in faults if f["problems"] or f["traceback"] or f["lost"]],
        "faults": [[f["scenario"], f["step"], f["kind"], f["error"], f["repeat"], f["answer"]] for f in faults],
    }  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "results.md").write_text(render(results))
    print(json.dumps(results["totals"]))
    return results


def _table(title: str, counts: dict[str, int]) -> list[str]:
    return [f"| {title} | faults |", "|---|---:|", *(f"| {k} | {v} |" for k, v in counts.items()), ""]


def render(results: dict[str, Any]) -> str:
    """``results.md`` from ``results.json``."""
    t = results["totals"]
    lines = [
        "# Fault injection across the write path", "",
        f"`{results['command']}` at commit `{results['commit']}`"
        + (" with uncommitted changes in `retrieval/` or `indexers/`" if results.get("uncommitted_changes") else "")
        + f" (Python {results['python']}).", "",
        HOW, "",
        "| faults | library | server | of which repeats | items lost | tracebacks | disagreements | wrong answers "
        "| absorbed |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {t['faults']} | {t['library']} | {t['server']} | {t['repeats']} | {t['lost']} | {t['tracebacks']} "
        f"| {t['disagreements']} | {t['wrong_answers']} | {t['absorbed']} |", "",
        "*Absorbed*: the write completed although a step failed (a failed hard link of the index's undo copy is "
        "not needed to write); the state checked is then the write's complete one.", "",
        "| scenario | write steps | faults |", "|---|---|---:|",
        *(f"| {s} | {', '.join(f'{n} {k}' for k, n in results['write_steps'].get(s, {}).items())} | {n} |"
          for s, n in results["by_scenario"].items()), "",
        *_table("kind of step", results["by_step"]), *_table("error", results["by_error"]),
        *_table("answer", results["by_answer"]),
    ]  # fmt: skip
    if results["not_fired"]:
        unfired = Counter(n.split(" step ")[0] + (", repeats" if n.split(":")[0].endswith(" repeat") else ", first")
                          for n in results["not_fired"])  # fmt: skip
        lines += ["Not counted, the fault did not fire (a full SQLite file under a write that needed no new page; a "
                  "repeat whose second attempt took fewer steps: indexing again adds to the collection the first "
                  "attempt made); the write's state was checked all the same (each is listed in `results.json`):", "",
                  *(f"- {k}: {n}" for k, n in sorted(unfired.items())), ""]  # fmt: skip
    lines += ["## Failures", ""]
    lines += [f"- {f['scenario']} step {f['step']} ({f['kind']}, {f['error']}){' repeat' * f['repeat']}: "
              f"{f['answer']}; "
              + "; ".join(f["problems"]) for f in results["failures"]] or ["None."]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    (folder / "results.md").write_text(render(json.loads((folder / "results.json").read_text())))
