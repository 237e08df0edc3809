"""Two ``aer index`` runs at once against one alone: do the processes' thread pools share the machine?

Writes a corpus of ``--docs`` 20 Newsgroups train posts (a folder, newsgroup = label), then times
``aer index CORPUS -c OUT --epochs E -q`` alone, then two of them started together (each its own output),
each setting a row: as shipped (OpenMP workers wait passively, pools sized to the CPUs), and with
``OMP_WAIT_POLICY=ACTIVE`` (what torch and faiss do by default without ``retrieval.threads``) to show what the
setting buys. The slowdown is each concurrent run's wall time over the lone run's; sharing 2 cores fairly
is 2×.

    python benchmarks/concurrent_index.py --data ../shared/data/20news-bydate.tar.gz --out runs/concurrent

Writes ``results.json`` (with the commit, machine and command) and its page, ``README.md``, into ``--out``.
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

from retrieval.bench.record import provenance, write_results

AER = str(Path(sys.executable).with_name("aer"))
TITLE = "Two aer index processes on one machine"
ABOUT = (
    "`benchmarks/concurrent_index.py`: `aer index` of `docs` 20 Newsgroups train posts (`epochs` epochs) alone, "
    "then two started together, as shipped and with `OMP_WAIT_POLICY=ACTIVE`."
)
SETTINGS = {"as shipped": {}, "OMP_WAIT_POLICY=ACTIVE": {"OMP_WAIT_POLICY": "ACTIVE"}}


def write_corpus(data: Path, n: int, root: Path) -> Path:
    """The first ``n`` train posts as ``root/<newsgroup>/<n>.txt``."""
    from retrieval.sources import iter_newsgroups

    shutil.rmtree(root, ignore_errors=True)
    posts = [d for d in iter_newsgroups(data, "train") if hasattr(d, "text")][:n]
    for i, post in enumerate(posts):
        (root / post.label).mkdir(parents=True, exist_ok=True)
        (root / post.label / f"{i}.txt").write_text(post.text)
    return root


def start(corpus: Path, out: Path, epochs: int, env: dict[str, str]) -> tuple[subprocess.Popen, float]:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [AER, "index", str(corpus), "-c", str(out), "--epochs", str(epochs), "-q"]
    return subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL), time.perf_counter()


def wait(run: tuple[subprocess.Popen, float]) -> float:
    process, started = run
    if process.wait():
        raise SystemExit(f"aer index failed ({process.returncode})")
    return round(time.perf_counter() - started, 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="the 20 Newsgroups archive")
    p.add_argument("--docs", type=int, default=600)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--out", type=Path, default=Path("runs/concurrent"))
    args = p.parse_args()
    header = provenance()
    args.out.mkdir(parents=True, exist_ok=True)
    corpus = write_corpus(args.data, args.docs, args.out / "corpus")
    rows = []
    for name, env in SETTINGS.items():
        alone = wait(start(corpus, args.out / "alone.aer", args.epochs, env))
        runs = [start(corpus, args.out / f"pair-{i}.aer", args.epochs, env) for i in range(2)]
        pair = [wait(r) for r in runs]
        row = {"setting": name, "alone_s": alone, "together_s": pair,
               "slowdown": [round(s / alone, 2) for s in pair]}  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| setting | one alone s | two at once s | slowdown |\n| --- | --- | --- | --- |")
    for r in rows:
        together = " / ".join(map(str, r["together_s"]))
        print(f"| {r['setting']} | {r['alone_s']} | {together} | {' / '.join(f'{x}×' for x in r['slowdown'])} |")
    write_results(args.out, {"suite": "concurrent", "title": TITLE, "about": ABOUT, **header, "docs": args.docs,
                             "epochs": args.epochs, "rows": rows})  # fmt: skip


if __name__ == "__main__":
    main()
