"""CIFAR-10 retrieval: autoencoder codes against pixel-space L2 and PCA, through the product itself.

Each method's collection is built with ``aer index`` on the 50,000 train images (the database);
the 10,000 test images are the queries, relevant = same class. mAP@1000 (the hashing literature's
definition: precision averaged over the relevant items retrieved in the top 1000) and P@k come from
the batched search; the first 1,000 queries also go through ``Collection.search`` one at a time.

    python benchmarks/image_cifar.py --data ../shared/data/cifar-10-binary.tar.gz --out runs/image
"""

from __future__ import annotations

from harness import arguments, run_suite

from retrieval.sources import load_cifar10

METHODS = {  # name: aer index options
    "pixels": ["--encoder", "pixels"],
    "pca-64": ["--encoder", "pca", "--dim", "64"],
    "conv-ae-64-plain": ["--encoder", "conv-ae", "--dim", "64", "-o", "contrastive=0"],
    "conv-ae-64": ["--encoder", "conv-ae", "--dim", "64"],
    "dense-ae-64": ["--encoder", "dense-ae", "--dim", "64"],
    "conv-ae-256bit": ["--encoder", "conv-ae", "--bits", "256"],
}
COLUMNS = [
    ("code", "code", ""), ("bytes/item", "bytes_per_item", ".0f"), ("mAP@1000", "map@1000", ".3f"),
    ("P@10", "p@10", ".3f"), ("P@100", "p@100", ".3f"), ("build s", "build_s", ".0f"),
    ("encode img/s", "encode_items_per_s", ".0f"), ("query p50 ms", "query_p50_ms", ".2f"),
]  # fmt: skip


def main() -> None:
    args = arguments(__doc__, "../shared/data/cifar-10-binary.tar.gz", "runs/image", METHODS)
    images, labels, names = load_cifar10(args.data, "test")
    run_suite(
        args, METHODS, list(images), [names[i] for i in labels], COLUMNS, depth=1000, map_at=1000, api_queries=1000
    )


if __name__ == "__main__":
    main()
