"""20 Newsgroups retrieval: autoencoder codes against LSA and TF-IDF, through the product itself.

Each method's collection is built with ``aer index`` on the archive's train split (11,314 documents,
the database); the test split's 7,532 documents are the queries, relevant = same newsgroup.
P@k and mAP (whole ranking) come from the collection's batched search over all queries; the first
1,000 queries also go through ``Collection.search`` one at a time for the latency (and their P@100).

    python benchmarks/text_20news.py --data ../shared/data/20news-bydate.tar.gz --out runs/text
"""

from __future__ import annotations

from harness import arguments, run_suite

from retrieval.sources import Document, iter_newsgroups

METHODS = {  # name: aer index options
    "tfidf": ["--encoder", "tfidf"],
    "lsa-10": ["--encoder", "lsa", "--dim", "10"],
    "lsa-32": ["--encoder", "lsa", "--dim", "32"],
    "lsa-50": ["--encoder", "lsa", "--dim", "50"],
    "ae-10": ["--encoder", "ae", "--dim", "10"],
    "ae-32": ["--encoder", "ae", "--dim", "32"],
    "ae-32bit": ["--encoder", "ae", "--bits", "32"],
    "ae-64bit": ["--encoder", "ae", "--bits", "64"],
    "ae-128bit": ["--encoder", "ae", "--bits", "128"],
}
COLUMNS = [
    ("code", "code", ""), ("bytes/item", "bytes_per_item", ".0f"), ("P@10", "p@10", ".3f"), ("P@100", "p@100", ".3f"),
    ("mAP", "map", ".3f"), ("build s", "build_s", ".0f"), ("encode docs/s", "encode_items_per_s", ".0f"),
    ("query p50 ms", "query_p50_ms", ".2f"), ("query p99 ms", "query_p99_ms", ".2f"),
]  # fmt: skip


def main() -> None:
    args = arguments(__doc__, "../shared/data/20news-bydate.tar.gz", "runs/text", METHODS)
    queries = [d for d in iter_newsgroups(args.data, "test") if isinstance(d, Document)]
    run_suite(args, METHODS, [d.text for d in queries], [d.label for d in queries], COLUMNS, api_queries=1000)


if __name__ == "__main__":
    main()
