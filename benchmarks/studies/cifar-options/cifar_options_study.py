"""CIFAR-10 with conv-ae options: 64 floats and 64 / 256 rotation bits from one network, mAP@1000 test vs train.

One network is trained on the 50,000 train images with the given options (the product's defaults otherwise); the
10,000 test images query them by centred cosine (floats) and by Hamming distance (bits by ``learn_rotation`` of the
same floats, learned on the train codes), scored as the hashing literature does (mAP over each top 1,000).

    python benchmarks/studies/cifar-options/cifar_options_study.py wide '{"channels": [32, 64, 128]}' \\
        --out runs/cifar-options
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import faiss
import numpy as np

from retrieval.encoders.image_autoencoder import ConvImageAutoencoder
from retrieval.encoders.rotation import learn_rotation, rotated_bits
from retrieval.eval.metrics import RankingScores
from retrieval.sources import load_cifar10

DEPTH = 1000


def _scores(ranked: np.ndarray, db_labels: np.ndarray, q_labels: np.ndarray) -> dict[str, float]:
    scores = RankingScores(db_labels, ks=(10, 100), map_at=DEPTH, full_ranking=False)
    for start in range(0, len(ranked), 2000):
        scores.add(q_labels[start : start + 2000], db_labels[ranked[start : start + 2000]])
    return {k: round(v, 4) for k, v in scores.result().items() if isinstance(v, float)}


def study(data: str, options: dict) -> dict:
    train, train_labels, _ = load_cifar10(data, "train")
    test, test_labels, _ = load_cifar10(data, "test")
    start = time.perf_counter()
    encoder = ConvImageAutoencoder(progress=False, **options).fit(list(train))
    result: dict = {"options": options, "fit_s": round(time.perf_counter() - start, 1),
                    "training": encoder.training_info()}  # fmt: skip
    db, queries = encoder._real_codes(train), encoder._real_codes(test)
    centre = db.mean(0)
    a, b = db - centre, queries - centre
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    flat = faiss.IndexFlatIP(a.shape[1])
    flat.add(a.astype(np.float32))
    result["floats"] = _scores(flat.search(b.astype(np.float32), DEPTH)[1], train_labels, test_labels)
    for bits in (64, 256):
        mean, projection = learn_rotation(db, bits)
        index = faiss.IndexBinaryFlat(bits)
        index.add(np.packbits(rotated_bits(db, mean, projection), axis=1))
        ranked = index.search(np.packbits(rotated_bits(queries, mean, projection), axis=1), DEPTH)[1]
        result[f"{bits}bit"] = _scores(ranked, train_labels, test_labels)
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tag")
    parser.add_argument("options", help="conv-ae options as JSON")
    parser.add_argument("--data", default="../shared/data/cifar-10-binary.tar.gz")
    parser.add_argument("--out", type=Path, default=Path("runs/cifar-options"))
    args = parser.parse_args()
    out = study(args.data, json.loads(args.options))
    (args.out / args.tag).mkdir(parents=True, exist_ok=True)
    (args.out / args.tag / "result.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
