"""20 Newsgroups retrieval: autoencoder codes against LSA and TF-IDF, through the product itself.

Each method's collection is built with ``aer index`` on the archive's train split (11,314 documents,
the database); the test split's 7,532 documents are the queries, relevant = same newsgroup.
P@k and mAP (whole ranking) come from the collection's batched search; every query also goes
through ``Collection.search`` one at a time for the latency (and its own P@100, which must agree).

    python benchmarks/text_20news.py --data ../shared/data/20news-bydate.tar.gz --out runs/text
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import build, evaluate, peak_rss_mb, report

from retrieval.sources import Document, iter_newsgroups

METHODS = {  # name: aer index options
    "tfidf": ["--encoder", "tfidf"],
    "lsa-10": ["--encoder", "lsa", "--dim", "10"],
    "lsa-32": ["--encoder", "lsa", "--dim", "32"],
    "lsa-50": ["--encoder", "lsa", "--dim", "50"],
    "ae-10": ["--encoder", "ae", "--dim", "10"],
    "ae-32": ["--encoder", "ae", "--dim", "32"],
}
COLUMNS = [
    ("dim", "dim", "d"), ("bytes/item", "bytes_per_item", ".0f"), ("P@10", "p@10", ".3f"), ("P@100", "p@100", ".3f"),
    ("mAP", "map", ".3f"), ("build s", "build_s", ".0f"), ("encode docs/s", "encode_items_per_s", ".0f"),
    ("query p50 ms", "query_p50_ms", ".2f"), ("query p99 ms", "query_p99_ms", ".2f"),
]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/20news-bydate.tar.gz"))
    ap.add_argument("--out", type=Path, default=Path("runs/text"))
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    queries = [d for d in iter_newsgroups(args.data, "test") if isinstance(d, Document)]
    texts, labels = [d.text for d in queries], [d.label for d in queries]
    results = {}
    for name in args.methods.split(","):
        path, build_s = build(args.data, args.out, name, METHODS[name])
        results[name] = {"build_s": build_s, **evaluate(path, texts, labels)}
        print(name, {k: round(v, 4) if isinstance(v, float) else v for k, v in results[name].items()}, flush=True)
    print(report(args.out, results, COLUMNS))
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
