"""One-class CIFAR-10 with conv-ae options: the AUC of each outlier score for a few normal classes, faster than the
whole anomaly suite (no collections: the scores are computed from the encoder directly, as the suite's are).

For each class: the conv-ae (64 floats, seed 0, the given options, the product's defaults otherwise) is trained on
that class's 5,000 train images; the 10,000 test images are scored by reconstruction error, 5th-nearest-code
distance (cosine on unit codes, as a collection's index gives it, and L2 on the raw codes), and orientation (with
``orientation`` > 0); the other classes' test images are the anomalies.

    python benchmarks/studies/anomaly-options/anomaly_options_study.py 0,3 '{"orientation": 1.0, "epochs": 30}'
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from retrieval.encoders import create_encoder
from retrieval.sources import load_cifar10

DATA = "../shared/data/cifar-10-binary.tar.gz"
KNN = 5


def kth_distance(queries: np.ndarray, base: np.ndarray, k: int = KNN) -> np.ndarray:
    """Squared L2 distance from each query to its ``k``-th nearest row of ``base``."""
    d = (queries**2).sum(1)[:, None] - 2 * queries @ base.T + (base**2).sum(1)[None]
    return np.sort(d, 1)[:, k - 1]


def main(classes: list[int], options: dict) -> None:
    train_x, train_y, names = load_cifar10(DATA, "train")
    test_x, test_y, _ = load_cifar10(DATA, "test")
    rows = []
    for c in classes:
        t0 = time.perf_counter()
        encoder = create_encoder("conv-ae", dim=64, seed=0, device="cpu", progress=False, **options)
        encoder.fit(train_x[train_y == c])
        fit_s = time.perf_counter() - t0
        anomalous = (test_y != c).astype(int)
        codes, errors = encoder.encode_with_errors(test_x)
        normal = encoder.encode(train_x[train_y == c])
        unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
        row = {"class": names[c], "fit_s": round(fit_s), "reconstruction": roc_auc_score(anomalous, errors),
               "knn_cosine": roc_auc_score(anomalous, kth_distance(unit(codes), unit(normal))),
               "knn_l2_raw": roc_auc_score(anomalous, kth_distance(codes, normal))}  # fmt: skip
        orientation = encoder.orientation_errors(test_x)
        if orientation is not None:
            row["orientation"] = roc_auc_score(anomalous, orientation)
        rows.append(row)
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    means = {k: round(float(np.mean([r[k] for r in rows])), 3) for k in rows[0] if k != "class"}
    print(json.dumps({"options": options, "mean": means}))


if __name__ == "__main__":
    main([int(c) for c in sys.argv[1].split(",")], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
