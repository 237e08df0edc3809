"""Batch encoding speed: raw text to packed code, split into tokenise / network / packing, against MiniLM.

20 Newsgroups train + test (18,846 posts) repeated to ``--docs`` texts go through ``encoder.encode(texts)`` of each
saved text autoencoder (the binary student and the float encoder) on each thread count of ``--threads`` (every
pool sized by ``retrieval.threads.set_threads``; on a machine with more cores, pin the process with ``taskset``
to the cores meant). The parts are timed apart on the same texts: tokenise (``encoder.counts``: the bag of
words), network (counts to code-layer units), packing (units to stored codes: the rotation, if any, and
``indexers.pack_bits`` for binary codes; nothing for floats). Each number is the best of ``--repeats`` runs,
after one warm-up. Then
all-MiniLM-L6-v2 (``retrieval.encoders.sentence.embed``, CPU) embeds a seeded sample of ``--minilm-docs`` posts
on the first thread count, and the students' speed is given as a multiple of it. The scikit-learn vectoriser's
speed over the same vocabulary (the reference the fast tokeniser must equal) is timed once, on the 18,846 posts,
and the codes made from its counts are checked to be the codes ``encode`` gives.

    taskset -c 0,1 .venv/bin/python benchmarks/encode_speed.py --data ../shared/data/20news-bydate.tar.gz \\
        --binary runs/text-v2/ae-64bit.aer --float runs/text-v2/ae-32.aer --out runs/encode-speed/results.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from retrieval.bag_of_words import reference_counts  # noqa: E402
from retrieval.encoders import load_encoder  # noqa: E402
from retrieval.sources import iter_newsgroups  # noqa: E402
from retrieval.sources.items import Document  # noqa: E402
from retrieval.threads import available_cpus, set_threads  # noqa: E402


def newsgroups(path: Path) -> list[str]:
    """Train then test posts of the archive."""
    return [d.text for split in ("train", "test") for d in iter_newsgroups(path, split) if isinstance(d, Document)]


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The shortest wall time of ``repeats`` calls of ``fn`` (seconds), and its last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def encoder_speed(name: str, enc: Any, texts: list[str], repeats: int) -> dict[str, Any]:
    """Docs/s of ``enc.encode(texts)`` and the seconds of its three parts."""
    enc.encode(texts[:2000])  # warm: the counter's tables, the NumPy forward pass
    total, codes = best_of(lambda: enc.encode(texts), repeats)
    tokenise, counts = best_of(lambda: enc.counts(texts), repeats)
    network_and_packing, _ = best_of(lambda: enc._encode(counts, False), repeats)
    units = enc._forward()(counts) if enc.bits else None
    packing = best_of(lambda: enc._finish(units), repeats)[0] if enc.bits else 0.0
    n = len(texts)
    return {
        "encoder": name, "describe": enc.describe(), "docs": n, "code_bytes": int(codes[0].nbytes),
        "docs_per_s": round(n / total), "total_s": round(total, 3), "tokenise_s": round(tokenise, 3),
        "network_s": round(network_and_packing - packing, 3), "packing_s": round(packing, 3),
        "tokenise_docs_per_s": round(n / tokenise),
    }  # fmt: skip


def reference_check(enc: Any, texts: list[str]) -> dict[str, Any]:
    """The vectoriser's speed over ``enc``'s vocabulary, and whether its counts give ``encode``'s codes."""
    t0 = time.perf_counter()
    ref = reference_counts(enc.bag_of_words_.vocabulary_, texts)
    seconds = time.perf_counter() - t0
    fast = enc.counts(texts)
    codes_equal = bool(np.array_equal(enc._encode(ref, False)[0], enc.encode(texts)))
    return {"docs": len(texts), "sklearn_docs_per_s": round(len(texts) / seconds),
            "counts_differing_docs": int(np.count_nonzero(np.diff((fast != ref).tocsr().indptr))),
            "codes_equal": codes_equal}  # fmt: skip


def minilm_speed(texts: list[str], n: int, seed: int = 0) -> dict[str, Any]:
    """Docs/s of all-MiniLM-L6-v2 on a seeded sample of ``n`` texts (CPU)."""
    from retrieval.encoders.sentence import SentenceModels, embed

    sample = [texts[i] for i in np.random.default_rng(seed).choice(len(texts), size=min(n, len(texts)), replace=False)]
    models = SentenceModels()
    embed(sample[:16], device="cpu", models=models)  # load the model
    seconds, _ = best_of(lambda: embed(sample, device="cpu", models=models), 1)
    return {"docs": len(sample), "docs_per_s": round(len(sample) / seconds, 1), "total_s": round(seconds, 2)}


def table(rows: list[dict[str, Any]], minilm: dict[str, Any]) -> str:
    """The results as a markdown table."""
    lines = ["| encoder | threads | docs/s | × MiniLM | tokenise | network | packing |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for r in rows:
        parts = r["tokenise_s"] + r["network_s"] + r["packing_s"]
        share = [f"{r[k]:.2f} s ({100 * r[k] / parts:.0f}%)" for k in ("tokenise_s", "network_s", "packing_s")]
        ratio = r["docs_per_s"] / minilm["docs_per_s"]
        lines.append(f"| {r['encoder']} ({r['code_bytes']} B) | {r['threads']} | {r['docs_per_s']:,} | {ratio:,.0f}× | "
                     + " | ".join(share) + " |")  # fmt: skip
    lines.append(f"| all-MiniLM-L6-v2 (384 floats) | {minilm['threads']} | {minilm['docs_per_s']:,} | 1× | | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/20news-bydate.tar.gz"))
    parser.add_argument("--binary", type=Path, default=Path("runs/text-v2/ae-64bit.aer"))
    parser.add_argument("--float", type=Path, default=Path("runs/text-v2/ae-32.aer"))
    parser.add_argument("--docs", type=int, default=100_000, help="texts per timed run (the corpus repeated)")
    parser.add_argument("--threads", default="2,1", help="comma-separated thread counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--minilm-docs", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None, help="JSON results file")
    args = parser.parse_args()

    corpus = newsgroups(args.data)
    texts = (corpus * -(-args.docs // len(corpus)))[: args.docs]
    encoders = {name: load_encoder(path / "encoder" if (path / "encoder").is_dir() else path, device="cpu")
                for name, path in (("binary", args.binary), ("float", args.float))}  # fmt: skip
    threads = [int(t) for t in args.threads.split(",")]
    load_before = os.getloadavg()
    rows = []
    for n in threads:
        set_threads(n)
        for name, enc in encoders.items():
            rows.append({**encoder_speed(name, enc, texts, args.repeats), "threads": n})
            print(rows[-1], flush=True)
    set_threads(threads[0])
    minilm = {**minilm_speed(corpus, args.minilm_docs), "threads": threads[0]}
    reference = {name: reference_check(enc, corpus) for name, enc in encoders.items()}
    first = [r for r in rows if r["threads"] == threads[0]]
    results = {
        "command": " ".join(sys.argv), "corpus_docs": len(corpus), "cpus": available_cpus(),
        "load_average_before": [round(x, 2) for x in load_before], "rows": rows, "minilm": minilm,
        "times_minilm": {r["encoder"]: round(r["docs_per_s"] / minilm["docs_per_s"]) for r in first},
        "reference_tokeniser": reference,
    }  # fmt: skip
    print(table(rows, minilm))
    print(json.dumps({"times_minilm": results["times_minilm"], "reference_tokeniser": reference}))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
