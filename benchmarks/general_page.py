"""Add a run of ``aer bench general`` to the suite's results page, keeping the latest measurement of each corpus.

``benchmarks/results/general/results.json`` holds several runs, newest first (``retrieval.bench.pages``); the run
given here goes first, named and titled, and each corpus it measured is dropped from the older runs (a run left
with no corpus is dropped; git history keeps them). Then re-render the page with
``python benchmarks/render_results.py``.

    python benchmarks/general_page.py runs/general-text/results.json --name text \
        --title "Text: 20 Newsgroups at three sizes and fortunes, against MiniLM"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "benchmarks/results/general/results.json"
KEPT = ("The latest measurement of each corpus: where a later run measured a corpus again, the earlier run's row was "
        "dropped here (git history keeps it).")  # fmt: skip


def merged(page: dict[str, Any], run: dict[str, Any], name: str, title: str) -> dict[str, Any]:
    """``page`` with ``run`` first (as ``name``, ``title``) and the corpora it measured dropped from the others."""
    if run.get("suite") != "general" or "corpora" not in run:
        raise SystemExit("not a run of aer bench general (no 'corpora')")
    if run.get("quick"):
        raise SystemExit("a quick run is a smoke test, not results; run without --quick")
    measured = {r["corpus"] for r in run["corpora"]}
    older = []
    for old in page.get("runs", []):
        kept = [r for r in old["corpora"] if r["corpus"] not in measured]
        if kept:
            older.append({**old, "corpora": kept})
    return {"suite": "general", "kept": page.get("kept", KEPT), "runs": [{"name": name, "title": title, **run}, *older]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("run", type=Path, help="the run's results.json (aer bench general --out DIR)")
    parser.add_argument("--name", required=True, help="a short name for the run")
    parser.add_argument("--title", required=True, help="the run's section title on the page")
    parser.add_argument("--page", type=Path, default=PAGE)
    args = parser.parse_args()
    page = json.loads(args.page.read_text()) if args.page.exists() else {}
    new = merged(page, json.loads(args.run.read_text()), args.name, args.title)
    tmp = args.page.with_suffix(".tmp")
    tmp.write_text(json.dumps(new, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(args.page)  # whole or not at all
    print(f"{args.page}: {', '.join(r['name'] for r in new['runs'])}")


if __name__ == "__main__":
    main()
