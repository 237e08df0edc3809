"""Render every results page from the runs' JSON: nothing measured is copied by hand.

- ``benchmarks/results/<suite>/README.md`` and ``benchmarks/studies/<study>/README.md``, from the ``results.json``
  beside each (and the hand-written ``notes.md``, if any) through ``retrieval.bench.pages``, the renderer the
  suites use when they run; the folders in ``OWN_PAGES`` have pages made by their own scripts
  (``build_cost.py``, ``fault_injection.py``) and are only listed;
- the headline tables in the project README (between ``<!-- results:start -->`` and ``<!-- results:end -->``) and
  in ``docs/results.md``, from the build-cost run and the generalisation suite's runs;
- ``docs/results.md``: the headline and an index of every page, with what it measures and its latest run.

    python benchmarks/render_results.py           # write what changed
    python benchmarks/render_results.py --check   # exit 1 naming each file that differs from its rendering
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from retrieval.bench.general_report import NAMES
from retrieval.bench.pages import NOT_RECORDED, NOTES, PAGE, RESULTS, about_of, render_page, runs_of, title_of, wrap

ROOT = Path(__file__).resolve().parent.parent
SUITES = "benchmarks/results"
STUDIES = "benchmarks/studies"
GENERAL = f"{SUITES}/general/{RESULTS}"
START, END = "<!-- results:start -->", "<!-- results:end -->"
# the headline: a few corpora of the generalisation suite, the default against the baselines on the same queries
HEADLINE = {
    "text": (["20news-1000", "20news-full", "fortunes"], ["lsa-50-10k", "tfidf-10k", "bm25"]),
    "image": (["cifar-1000", "cifar-50000", "digits"], ["pixels", "pca-64"]),
}
DEFAULT = {"text": "default (`ae`)", "image": "default (`conv-ae`)"}
BUILD_COST = f"{SUITES}/build-cost/{RESULTS}"
OWN_PAGES = {"build-cost", "fault-injection"}  # folders whose pages their own scripts write
BUILD_COST_CORPORA = ["20news-3000", "20news-11314", "fortunes"]
BUILD_COST_ENCODERS = ["default", "minilm", "lsa"]


def folders(root: Path) -> list[Path]:
    """The results folders: suites first, then studies, each sorted by name."""
    return [d for base in (SUITES, STUDIES) for d in sorted((root / base).glob("*/")) if d.is_dir()]


def load(folder: Path) -> dict[str, Any] | None:
    path = folder / RESULTS
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise SystemExit(f"{path}: not valid JSON ({e})") from e


def page_of(folder: Path, results: dict[str, Any]) -> str:
    notes = folder / NOTES
    return render_page(
        results,
        notes=notes.read_text() if notes.exists() else None,
        pictures=sorted(p.name for p in folder.glob("*.png")),
    )


def when(run: dict[str, Any]) -> str:
    """When a run was made, as far as it recorded: its date, else the commit its results came in with."""
    if run.get("date", NOT_RECORDED) != NOT_RECORDED:
        return str(run["date"]).split(" ")[0]
    recorded = str(run.get("recorded_in", ""))
    return recorded[recorded.find("(") + 1 : recorded.find(")")] if "(" in recorded else NOT_RECORDED


def headline(root: Path, base: str, *, in_docs: bool) -> str:
    """The headline tables (Markdown), links relative to ``base`` (the repository root as the page sees it): the
    default against MiniLM and LSA with each one's encoding time (build cost), against LSA, TF-IDF and BM25
    (generalisation suite; in the docs only), and on images against pixels and PCA (generalisation suite)."""
    latest = _latest_corpora(root)
    build = _build_cost(root)
    every = "" if in_docs else (" Every results page, with the command, commit and machine of each run: "
                                f"[Results]({base}docs/results.md).")  # fmt: skip
    lines = [wrap("P@10 / P@100 of the default `aer index` (no option) against other encoders built from the same "
                  f"items and scored on the same queries (same label = relevant).{every}"), ""]
    lines += [wrap(f"Text, against all-MiniLM-L6-v2 (`--encoder minilm`) and LSA-50 (`--encoder lsa`), each built "
                   f"alone in a fresh process ([build cost]({base}{SUITES}/build-cost/results.md)):"), "",
              "| corpus | items | default (32 floats) | MiniLM (384 floats) | LSA-50 | encode s: default / MiniLM / "
              "LSA |", "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for corpus in BUILD_COST_CORPORA:
        rows = [build.get((corpus, e)) for e in BUILD_COST_ENCODERS]
        if any(r is None for r in rows):
            raise SystemExit(f"{BUILD_COST}: no {corpus} row for each of {', '.join(BUILD_COST_ENCODERS)}")
        scores = _cells([(r["p@10"], r["p@100"]) for r in rows])
        encode = " / ".join(str(r["stages"]["encode_s"]) for r in rows)
        lines.append(f"| {corpus} | {rows[0]['items']:,} | " + " | ".join(scores) + f" | {encode} |")
    used: set[str] = set()
    for modality, (corpora, baselines) in HEADLINE.items():
        if modality == "text" and not in_docs:
            continue
        what = "Text, against the classic spaces" if modality == "text" else "Images"
        lines += ["", f"{what} ([generalisation suite]({base}{SUITES}/general/{PAGE})):", ""]
        heads = ["corpus", "items", DEFAULT[modality], *(NAMES.get(b, b) for b in baselines)]
        lines += ["| " + " | ".join(heads) + " |", "|---|---:" + "|---:" * (len(heads) - 2) + "|"]
        for corpus in corpora:
            if corpus not in latest:
                raise SystemExit(f"{GENERAL}: no run has the headline corpus {corpus!r}")
            row, run = latest[corpus]
            used.add(when(run))
            scored = [row["default"], *(row["baselines"].get(b, {}) for b in baselines)]
            cells = _cells([(s.get("p@10"), s.get("p@100")) for s in scored])
            lines.append("| " + " | ".join([corpus, f"{row['database_items']:,}", *cells]) + " |")
    lines += ["", wrap("The best P@10 of a row in bold. Generalisation suite runs of " + ", ".join(sorted(used))
                       + (": LSA-50 and TF-IDF over the same 10,000 words as the default." if in_docs else "."))]
    return "\n".join(lines)


def _cells(scores: list[tuple[float | None, float | None]]) -> list[str]:
    """``P@10 / P@100`` cells, the best P@10 in bold."""
    best = max((p10 for p10, _ in scores if p10 is not None), default=None)
    cells = []
    for p10, p100 in scores:
        if p10 is None or p100 is None:
            cells.append("n/a")
        else:
            cells.append(f"{f'**{p10:.3f}**' if p10 == best else f'{p10:.3f}'} / {p100:.3f}")
    return cells


def _latest_corpora(root: Path) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Each corpus of the generalisation suite with its latest row and the run that measured it."""
    latest: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for run in runs_of(json.loads((root / GENERAL).read_text())):  # newest first
        for row in run["corpora"]:
            latest.setdefault(row["corpus"], (row, run))
    return latest


def _build_cost(root: Path) -> dict[tuple[str, str], dict[str, Any]]:
    rows = json.loads((root / BUILD_COST).read_text())["rows"]
    return {(r["corpus"], r["encoder"]): r for r in rows if r.get("p@10") is not None}


def with_block(text: str, block: str, path: str) -> str:
    """``text`` with the part between the results markers replaced by ``block``."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise SystemExit(f"{path}: needs one {START} and one {END} after it")
    head, rest = text.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{block}\n{END}{tail}"


def index(root: Path) -> str:
    """``docs/results.md``: the headline, then every results page with what it measures and its latest run."""
    lines = [
        "# Results",
        "",
        wrap(f"Generated by `python benchmarks/render_results.py` from the runs' `{RESULTS}`: edit those (or a "
             f"page's `{NOTES}`), not this page. Every figure lives on a results page generated from its run's JSON, "
             "with the command, commit, machine and date of the run; how to run each benchmark and study: "
             "[benchmarks/README.md](../benchmarks/README.md). A folder keeps each suite's latest run (git keeps "
             "the history)."),
        "",
        START,
        headline(root, "../", in_docs=True),
        END,
        "",
    ]
    for base, heading in ((SUITES, "Benchmarks"), (STUDIES, "Studies")):
        lines += [f"## {heading}", ""]
        for folder in (f for f in folders(root) if f.parent.name == Path(base).name):
            lines += _entry(root, folder)
    return "\n".join(lines).rstrip("\n") + "\n"


def _entry(root: Path, folder: Path) -> list[str]:
    rel = "../" + folder.relative_to(root).as_posix()
    results = load(folder)
    if results is None or folder.name in OWN_PAGES:  # pages its own script writes, or a script with no results kept
        pages = sorted(folder.glob("*.md"), key=lambda p: (p.name != "results.md", p.name))
        if not pages:
            scripts = ", ".join(f"`{p.relative_to(root).as_posix()}`" for p in sorted(folder.glob("*.py")))
            return [f"### {folder.name}", "", f"No results kept here; the script: {scripts}.", ""]
        first = pages[0].read_text().split("\n", 1)[0]
        title = first[2:].strip() if first.startswith("# ") else folder.name
        links = ", ".join(f"[{folder.name}/{p.name}]({rel}/{p.name})" for p in pages)
        return [f"### {title}", "", f"Pages written by its own script: {links}.", ""]
    runs = runs_of(results)
    dates = sorted({when(r) for r in runs})
    made = f"{len(runs)} runs, {', '.join(dates)}" if len(runs) > 1 else f"run of {dates[0]}"
    about = about_of(results)
    return [f"### {title_of(results)}", "", *([wrap(about), ""] if about else []),
            f"[{folder.name}/{PAGE}]({rel}/{PAGE}) ({made}).", ""]  # fmt: skip


def rendered(root: Path) -> dict[Path, str]:
    """Every generated file under ``root`` with the text it should hold."""
    out: dict[Path, str] = {}
    for folder in folders(root):
        results = load(folder) if folder.name not in OWN_PAGES else None
        if results is not None:
            out[folder / PAGE] = page_of(folder, results)
    readme = root / "README.md"
    if readme.exists():
        out[readme] = with_block(readme.read_text(), headline(root, "", in_docs=False), "README.md")
    out[root / "docs" / "results.md"] = index(root)
    return out


def differing(root: Path) -> list[Path]:
    """The generated files whose text differs from their rendering (missing ones included)."""
    return [p for p, text in rendered(root).items() if not p.exists() or p.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    stale = differing(args.root)
    if args.check:
        for path in stale:
            print(f"{path.relative_to(args.root)}: differs from its rendering; run python benchmarks/render_results.py")
        return 1 if stale else 0
    for path, text in rendered(args.root).items():
        if path in stale:
            path.write_text(text)
            print(f"wrote {path.relative_to(args.root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
