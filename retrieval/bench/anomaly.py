"""The anomaly suite: reconstruction error as an anomaly score, one CIFAR-10 class at a time.

For each class: a collection is built from that class's training images only (the "normal" data),
with a dense autoencoder and, as the simple baseline, with raw pixels. Every test image is scored:
the autoencoder's reconstruction error, and the L2 distance to the k-th nearest normal image in pixel
space (searched in the pixel collection). The test images of the other classes are the anomalies;
the table gives the ROC AUC of each score per class (0.5 = chance).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from ..collection import Collection
from ..encoders import create_encoder
from ..sources import ImageItem, load_cifar10
from .run import machine

AUTOENCODER = {"dim": 64, "hidden": (1024, 512), "epochs": 10, "contrastive": 0.0, "seed": 0}
KNN = 5
QUICK = {"train_per_class": 500, "test": 1000, "classes": 3, "epochs": 2}


def run_anomaly(data: str | Path, out: str | Path, *, quick: bool = False, log: Callable[[str], None] = print) -> dict:
    """Run the suite on the CIFAR-10 archive ``data``; write ``results.json`` and ``results.md`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train_x, train_y, names = load_cifar10(data, "train")
    test_x, test_y, _ = load_cifar10(data, "test")
    classes = range(len(names))
    options = dict(AUTOENCODER)
    if quick:
        rng = np.random.default_rng(0)
        pick = np.sort(rng.permutation(len(test_x))[: QUICK["test"]])
        test_x, test_y = test_x[pick], test_y[pick]
        classes = range(min(QUICK["classes"], len(names)))
        options["epochs"] = QUICK["epochs"]
    records = []
    for c in classes:
        normal = np.flatnonzero(train_y == c)[: QUICK["train_per_class"] if quick else None]
        items = [ImageItem(id=f"train/{i}", pixels=train_x[i], label=names[c]) for i in normal]
        anomalous = (test_y != c).astype(int)
        t0 = time.perf_counter()
        ae_scores = _autoencoder_scores(out / f"{names[c]}-ae.aer", items, test_x, options)
        fit_s = time.perf_counter() - t0
        knn_scores = _knn_scores(out / f"{names[c]}-pixels.aer", items, test_x)
        record = {
            "normal_class": names[c], "normal_train_images": len(items), "test_images": len(test_x),
            "anomalies": int(anomalous.sum()),
            "auc_reconstruction": float(roc_auc_score(anomalous, ae_scores)),
            f"auc_pixel_knn{KNN}": float(roc_auc_score(anomalous, knn_scores)), "autoencoder_s": fit_s,
        }  # fmt: skip
        records.append(record)
        log(f"{names[c]}: AUC reconstruction {record['auc_reconstruction']:.3f}, "
            f"pixel {KNN}-NN {record[f'auc_pixel_knn{KNN}']:.3f}")  # fmt: skip
    results = {"suite": "anomaly", "data": str(data), "quick": quick, "machine": machine(),
               "autoencoder": {"encoder": "dense-ae", **options}, "knn": KNN, "classes": records}  # fmt: skip
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "results.md").write_text(anomaly_table(results))
    log(f"wrote {out / 'results.json'} and {out / 'results.md'}")
    return results


def _autoencoder_scores(path: Path, items: list[ImageItem], test_x: np.ndarray, options: dict[str, Any]) -> np.ndarray:
    """Train on the normal images, index them, and score the test images by reconstruction error."""
    shutil.rmtree(path, ignore_errors=True)
    encoder = create_encoder("dense-ae", device="cpu", progress=False, **options)
    encoder.fit(np.stack([i.pixels for i in items]))
    with Collection.create(path, encoder, device="cpu") as col:
        col.add(items)
        return col.encoder.reconstruction_error(test_x)


def _knn_scores(path: Path, items: list[ImageItem], test_x: np.ndarray) -> np.ndarray:
    """Distance from each test image to its ``KNN``-th nearest normal image, in pixel space."""
    shutil.rmtree(path, ignore_errors=True)
    encoder = create_encoder("pixels").fit(np.stack([i.pixels for i in items]))
    with Collection.create(path, encoder, device="cpu") as col:
        col.add(items)
        scores, _ = col.search_codes(col.encode(list(test_x)), k=KNN)
    return -scores[:, KNN - 1]  # scores are negative distances


def anomaly_table(results: dict[str, Any]) -> str:
    key = f"auc_pixel_knn{results['knn']}"
    lines = [f"| normal class | AUC, autoencoder reconstruction error | AUC, pixel {results['knn']}-NN distance |",
             "|---|---|---|"]  # fmt: skip
    for r in results["classes"]:
        lines.append(f"| {r['normal_class']} | {r['auc_reconstruction']:.3f} | {r[key]:.3f} |")
    mean = lambda k: np.mean([r[k] for r in results["classes"]])  # noqa: E731
    lines.append(f"| **mean** | **{mean('auc_reconstruction'):.3f}** | **{mean(key):.3f}** |")
    m = results["machine"]
    lines += ["", f"Autoencoder: {results['autoencoder']}. Machine: {m['cpu']}, {m['cores']} cores, "
              f"GPU: {m['cuda'] or 'none'}."]  # fmt: skip
    return "\n".join(lines) + "\n"
