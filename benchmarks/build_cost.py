"""Build cost against quality: ``aer index`` with the default, ``--encoder minilm`` and ``--encoder lsa``.

For each corpus, each encoder's collection is built by the installed ``aer index CORPUS.jsonl -c DIR`` in a fresh
process, one at a time (nothing else should run): wall seconds from outside, peak RSS of that process
(``os.wait4``), the collection's size on disk, and the stages the build records in its files (read, fit — split
into vocabulary, teacher and training where the encoder says — and encode + index). Quality is scored through
the Python API on the same queries for every encoder: P@10 / P@100 of 1,000 seeded 20 Newsgroups test-split
queries (same newsgroup = relevant), or leave-one-out on fortunes.

Corpora (``--corpora``, comma-separated):

- ``20news-300``, ``20news-3000``, ``20news-11314``: a class-stratified seeded sample of the 20 Newsgroups train
  split (``retrieval.eval.corpus.stratified``; 11,314 is the whole split);
- ``fortunes``: the generalisation suite's fortunes set (``fortunes.jsonl`` less its grab-bag categories);
- ``synthetic-100000``, ``synthetic-1000000``: texts made by recombining the 20 Newsgroups train posts' bodies
  and the fortunes: item ``i`` takes a seeded random source text, keeps each of its words with probability 0.9
  and appends the second half of another text of the same label (seed 0), so no two items are equal while words
  and topics stay real. Its labels are not scored (the items repeat their sources); the row gives cost only.

MiniLM is not built on the synthetic corpora (about 20 posts a second on 2 cores: hours at 100,000); its encoding
time there is estimated from the rate at which the default's teacher (the same model on the same 256 tokens)
embedded its sample of the same corpus, and the results page says so.

    python benchmarks/build_cost.py --data ../shared/data --out runs/build-cost
    python benchmarks/build_cost.py --data ../shared/data --out runs/build-cost --corpora 20news-300 --encoders default

Writes ``results.json`` and ``results.md`` (a generated results page) into ``--out`` after every build.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

AER = str(Path(sys.executable).with_name("aer"))
ENCODERS = {"default": [], "minilm": ["--encoder", "minilm"], "lsa": ["--encoder", "lsa"]}
CORPORA = ("20news-300", "20news-3000", "20news-11314", "fortunes", "synthetic-100000", "synthetic-1000000")
QUERIES = 1000
SEED = 0
TEACHER_DOCS = 2000  # the teacher's sample in rows recorded before it said how many texts it read (then: 2,000 at most)


# --- corpora --------------------------------------------------------------------------------------


def write_corpus(name: str, data: Path, folder: Path) -> tuple[Path, dict[str, Any]]:
    """The corpus ``name`` as JSONL in ``folder`` (written once) and how it is queried."""
    from retrieval.eval.corpus import fortunes, load_suite, stratified

    path = folder / f"{name}.jsonl"
    meta_path = folder / f"{name}.meta.json"
    if path.exists() and meta_path.exists():
        return path, json.loads(meta_path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    if name.startswith("20news-"):
        suite = load_suite("text", data / "20news-bydate.tar.gz")
        keep = stratified([d.label for d in suite.database], int(name.split("-")[1]), SEED)
        items = [suite.database[i] for i in keep]
        pick = np.sort(np.random.default_rng(SEED + 1).permutation(len(suite.queries))[:QUERIES])
        meta = {"protocol": "test-vs-train", "queries": [suite.queries[i] for i in pick],
                "query_labels": [suite.query_labels[i] for i in pick]}  # fmt: skip
        rows = ({"id": d.id, "text": d.text, "label": d.label} for d in items)
    elif name == "fortunes":
        items, _ = fortunes(data / "fortunes.jsonl")
        meta = {"protocol": "leave-one-out"}
        rows = ({"id": d.id, "text": d.text, "label": d.label} for d in items)
    elif name.startswith("synthetic-"):
        meta = {"protocol": "cost only"}
        rows = synthetic(data, int(name.split("-")[1]))
    else:
        raise SystemExit(f"unknown corpus {name!r}; choose from {', '.join(CORPORA)}")
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    tmp.replace(path)
    meta_path.write_text(json.dumps(meta))
    return path, meta


def synthetic(data: Path, n: int):
    """``n`` recombined texts (see the module docstring), as JSONL rows."""
    from retrieval.eval.corpus import fortunes, load_suite

    posts = load_suite("text", data / "20news-bydate.tar.gz").database
    texts = [p.text.split("\n\n", 1)[-1] for p in posts] + [d.text for d in fortunes(data / "fortunes.jsonl")[0]]
    labels = [p.label for p in posts] + [d.label for d in fortunes(data / "fortunes.jsonl")[0]]
    words = [t.split() for t in texts]
    keep = [i for i, w in enumerate(words) if w]
    by_label: dict[str, list[int]] = {}
    for i in keep:
        by_label.setdefault(labels[i], []).append(i)
    rng = np.random.default_rng(SEED)
    for i in range(n):
        a = keep[int(rng.integers(len(keep)))]
        group = by_label[labels[a]]
        b = group[int(rng.integers(len(group)))]
        first = [w for w, k in zip(words[a], rng.random(len(words[a])) < 0.9) if k]
        second = words[b][len(words[b]) // 2 :]
        yield {"id": f"s{i}", "text": " ".join(first + second), "label": labels[a]}


# --- one build ------------------------------------------------------------------------------------


def build(corpus: Path, target: Path, encoder: str) -> dict[str, Any]:
    """``aer index`` in a fresh process: wall, peak RSS, size on disk and the recorded stages."""
    shutil.rmtree(target, ignore_errors=True)
    cmd = [AER, "index", str(corpus), "-c", str(target), *ENCODERS[encoder]]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{stderr[-3000:]}")
    return {"wall_s": round(wall, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024), "disk_bytes": disk_size(target),
            "stages": stages(target), **teacher_texts(target), "command": " ".join(cmd)}  # fmt: skip


def disk_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def stages(target: Path) -> dict[str, float]:
    """Seconds per stage as the build recorded them (collection manifest and encoder config)."""
    manifest = json.loads((target / "collection.json").read_text())
    config = json.loads((target / "encoder" / "config.json").read_text())
    out = {k: v for k, v in manifest.get("build", {}).items() if k.endswith("_s")}
    training = config.get("training", {})
    for key in ("vocabulary_s", "teacher_s", "train_s"):
        if key in training:
            out[key] = training[key]
    return out


def teacher_texts(target: Path) -> dict[str, int]:
    """How many texts the build's teacher read (``{"teacher_texts": n}``; empty for a build without a teacher)."""
    said = json.loads((target / "encoder" / "config.json").read_text()).get("training", {}).get("teacher_docs")
    return {"teacher_texts": int(said.split(" of ")[0].replace(",", ""))} if isinstance(said, str) else {}


# --- quality --------------------------------------------------------------------------------------


def quality(target: Path, corpus: Path, meta: dict[str, Any]) -> dict[str, float]:
    """P@10 / P@100 through the Python API (see the module docstring)."""
    import retrieval
    from retrieval.eval.labels import collection_leave_one_out, sample_queries
    from retrieval.eval.metrics import precision_by_label
    from retrieval.sources import Document

    if meta["protocol"] == "cost only":
        return {}
    with retrieval.open(target) as col:
        if meta["protocol"] == "test-vs-train":
            # the encoders' codes alone, as the leave-one-out side (search_by_id) ranks: the page compares encoders
            ranked = [[h.label for h in col.search(q, k=100, mode="codes")] for q in meta["queries"]]
            return {k: round(v, 4) for k, v in precision_by_label(meta["query_labels"], ranked).items()}
        items = [Document(**json.loads(line)) for line in corpus.open(encoding="utf-8")]
        pick = sample_queries([d.label for d in items], QUERIES, SEED)
        ranked = collection_leave_one_out(col, items, pick, k=100)
        return {k: round(v, 4) for k, v in precision_by_label([items[i].label for i in pick], ranked).items()}


# --- the run --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("runs/build-cost"))
    parser.add_argument("--corpora", default=",".join(CORPORA))
    parser.add_argument("--encoders", default=",".join(ENCODERS))
    parser.add_argument("--keep", action="store_true", help="keep the collections (they are removed after scoring)")
    args = parser.parse_args()
    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {"rows": []}
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    for name in args.corpora.split(","):
        corpus, meta = write_corpus(name, args.data, args.out / "corpora")
        n_items = sum(1 for _ in corpus.open(encoding="utf-8"))
        for encoder in args.encoders.split(","):
            if encoder == "minilm" and name.startswith("synthetic-"):
                continue  # extrapolated in the report
            target = args.out / "collections" / f"{name}-{encoder}.aer"
            print(f"{name} ({n_items:,} items) / {encoder} ...", flush=True)
            row = {"corpus": name, "items": n_items, "encoder": encoder, **build(corpus, target, encoder)}
            row.update(quality(target, corpus, meta))
            print(json.dumps(row), flush=True)
            results["rows"] = [r for r in results["rows"] if (r["corpus"], r["encoder"]) != (name, encoder)] + [row]
            results_path.write_text(json.dumps(results, indent=1))
            (args.out / "results.md").write_text(markdown(results))
            if not args.keep:
                shutil.rmtree(target, ignore_errors=True)
    print(f"wrote {results_path} and {args.out / 'results.md'}")


def markdown(results: dict[str, Any]) -> str:
    """The results page: one table, and the default's wall as a multiple of MiniLM's."""
    rows = sorted(results["rows"], key=lambda r: (CORPORA.index(r["corpus"]) if r["corpus"] in CORPORA else 99,
                                                  list(ENCODERS).index(r["encoder"])))  # fmt: skip
    minilm = {r["corpus"]: r for r in rows if r["encoder"] == "minilm"}
    teacher_rate = {r["corpus"]: r.get("teacher_texts", min(r["items"], TEACHER_DOCS)) / r["stages"]["teacher_s"]
                    for r in rows if r["encoder"] == "default" and r.get("stages", {}).get("teacher_s")}  # fmt: skip
    lines = [
        "# Build cost and quality: `aer index` default vs `--encoder minilm` vs `--encoder lsa`",
        "",
        "Generated by `python benchmarks/build_cost.py` (see its docstring for the corpora and protocol); each build",
        f"alone in a fresh process on a {results['machine']['cpus']}-CPU machine. Stages in seconds as the build "
        "recorded them.",
        "",
        "| corpus | items | encoder | wall s | ÷ MiniLM wall | peak RSS MB | on disk | P@10 | P@100 | stages (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ref = minilm.get(r["corpus"])
        rate = teacher_rate.get(r["corpus"])
        if ref is not None:
            ratio = f"{r['wall_s'] / ref['wall_s']:.2f}×"
        elif rate:
            estimate = r["items"] / rate
            ratio = f"{r['wall_s'] / estimate:.3f}× (of ~{estimate:,.0f} s †)"
        else:
            ratio = ""
        stage_text = ", ".join(f"{k.removesuffix('_s')} {v:.1f}" for k, v in r.get("stages", {}).items())
        lines.append(
            f"| {r['corpus']} | {r['items']:,} | {r['encoder']} | {r['wall_s']:.1f} | {ratio} | {r['peak_rss_mb']:,} | "
            f"{_size(r['disk_bytes'])} | {r.get('p@10', '')} | {r.get('p@100', '')} | {stage_text} |"
        )
    if results.get("notes"):
        lines += ["", *(f"- {note}" for note in results["notes"])]
    if any(r["corpus"] not in minilm for r in rows):
        lines += ["", "† MiniLM not built (hours on 2 cores): its encoding time estimated as the items divided by the "
                  "rate at which the default's teacher, the same model reading the same 256 tokens, embedded its "
                  "sample of that corpus (its `teacher` stage), start-up left out."]  # fmt: skip
    return "\n".join(lines) + "\n"


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


if __name__ == "__main__":
    main()
