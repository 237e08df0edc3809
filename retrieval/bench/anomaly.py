"""The anomaly suite: outlier scores from the product's codes, one CIFAR-10 class at a time.

For each class: a collection is built from that class's 5,000 training images only (the "normal" data), with the
product's conv-ae (reconstruction + NT-Xent contrastive term, its default budget: 5 epochs trained on to 300
optimiser steps) with the geometric head (``orientation=1``, ``transforms=geometric``: each training image given one
of GEOM's 72 transformations at random, flip × shifts × quarter-turns, that the head must tell) and, as the simple
baseline, with raw pixels. Every one of the 10,000 test images is scored by ``retrieval.collection.outliers``: the
autoencoder's reconstruction error, the distance of its code to the 5th nearest stored code (``knn``, searched in
the collection's own index), the two combined (the mean of the z-scores, normalised by the stored images' own
scores), ``orientation`` (how badly the head tells the image's 72 transformed copies apart: GEOM's simple score),
and the L2 distance to the 5th nearest normal image in pixel space (searched in the pixel collection). Two more
columns (marked *) rescore the same codes with the kNN part by L2 between the codes as the encoder makes them,
lengths kept (a conv-ae collection's cosine index holds unit-length codes, so no collection gives these today). The
test images of the other classes are the anomalies; the table gives the ROC AUC of each score per class (0.5 =
chance). No subsampling; ``--quick`` takes a seeded slice and 2 epochs (a smoke test, not results). Collections
already built in ``out`` with the same options are reused with the build time recorded when they were built.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from indexers import DEFAULT_FLOAT_SPEC, CodeIndex, create_index

from ..collection import Collection
from ..collection.outliers import (
    DEFAULT_SCORE,
    SCORES,
    combine,
    describe_score,
    knn_distances,
    resolve_score,
    score_codes,
    score_items,
)
from ..encoders import Encoder, create_encoder
from ..errors import CollectionError
from ..sources import ImageItem, load_cifar10
from .pages import PAGE, RESULTS
from .record import provenance, write_results
from .tables import ANOMALY_UNNORMALISED as UNNORMALISED

# the anomaly recipe (docs/encoders.md, "Outlier scores"); the rest: the product's defaults
AUTOENCODER = {"encoder": "conv-ae", "dim": 64, "orientation": 1.0, "transforms": "geometric", "seed": 0}
KNN = 5
QUICK = {"train_per_class": 500, "test": 1000, "classes": 3, "epochs": 2}
BUILD_RECORD = "bench-build.json"


def run_anomaly(
    data: str | Path,
    out: str | Path,
    *,
    quick: bool = False,
    autoencoder: dict[str, Any] | None = None,
    classes: Sequence[int] | None = None,
    command: str | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Run the suite on the CIFAR-10 archive ``data``; write ``results.json`` and its page (``README.md``) into
    ``out``. ``autoencoder``: the encoder and its options (default ``AUTOENCODER``), e.g. to measure another budget;
    ``classes``: the normal classes to run (CIFAR-10 label numbers; default all, a study's subset); ``command``:
    what to record as the command run (default: this process's)."""
    header = provenance(command)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train_x, train_y, names = load_cifar10(data, "train")
    test_x, test_y, _ = load_cifar10(data, "test")
    chosen = range(len(names)) if classes is None else sorted(set(classes))
    if not chosen or any(not 0 <= c < len(names) for c in chosen):
        raise ValueError(f"classes {list(chosen)}: CIFAR-10 label numbers 0-{len(names) - 1}, at least one")
    options = dict(autoencoder or AUTOENCODER)
    if quick:
        rng = np.random.default_rng(0)
        pick = np.sort(rng.permutation(len(test_x))[: QUICK["test"]])
        test_x, test_y = test_x[pick], test_y[pick]
        chosen = chosen[: QUICK["classes"]]
        options["epochs"] = QUICK["epochs"]
    records, described = [], {}
    t_start = time.perf_counter()
    for c in chosen:
        normal = np.flatnonzero(train_y == c)[: QUICK["train_per_class"] if quick else None]
        items = [ImageItem(id=f"train/{i}", pixels=train_x[i], label=names[c]) for i in normal]
        anomalous = (test_y != c).astype(int)
        path = out / f"{names[c]}-ae.aer"
        build = _build(path, items, options, log)
        t0 = time.perf_counter()
        with Collection.open(path, device="cpu") as col:
            codes, errors = col.encoder.encode_with_errors(test_x)
            scores = {s: score_codes(col, codes, s, errors=errors, k=KNN) for s in SCORES if s != "orientation"}
            scores["orientation"] = score_items(col, list(test_x), "orientation")
            described = {s: describe_score(col, s, KNN) for s in SCORES}
            default = resolve_score(col, DEFAULT_SCORE)
            scores.update(_unnormalised_scores(col.encoder, items, codes, errors))
        score_s = time.perf_counter() - t0
        pixel_knn = _pixel_knn(out / f"{names[c]}-pixels.aer", items, test_x)
        record = {
            "normal_class": names[c], "normal_train_images": len(items), "test_images": len(test_x),
            "anomalies": int(anomalous.sum()),
            **{f"auc_{s}": float(roc_auc_score(anomalous, scores[s])) for s in [*SCORES, *UNNORMALISED]},
            f"auc_pixel_knn{KNN}": float(roc_auc_score(anomalous, pixel_knn)),
            "autoencoder_s": build["build_s"], "training": build["training"], "score_s": score_s,
        }  # fmt: skip
        records.append(record)
        log(f"{names[c]}: AUC " + ", ".join(f"{s} {record[f'auc_{s}']:.3f}" for s in [*SCORES, *UNNORMALISED])
            + f", pixel {KNN}-NN {record[f'auc_pixel_knn{KNN}']:.3f}")  # fmt: skip
    results = {
        "suite": "anomaly", **header, "data": str(data), "quick": quick,
        "autoencoder": options, "knn": KNN, "scores": described, "default_score": f"{DEFAULT_SCORE} ({default})",
        "run_s": time.perf_counter() - t_start, "classes": records,
    }  # fmt: skip
    write_results(out, results)
    log(f"wrote {out / RESULTS} and {out / PAGE}")
    return results


def _build(path: Path, items: list[ImageItem], options: dict[str, Any], log: Callable[[str], None]) -> dict:
    """Train the autoencoder on the normal images and index them in ``path`` (their reconstruction errors are
    stored as they are added), or reuse ``path`` when it was built from the same options and images."""
    key = json.loads(json.dumps({"options": options, "items": len(items), "first": items[0].id}))
    record_file = path / BUILD_RECORD
    if record_file.exists():
        record = json.loads(record_file.read_text())
        if {k: record.get(k) for k in key} == key:
            log(f"  reusing {path}")
            return record["build"]
        raise CollectionError(f"{path}: built with other options or images; remove it to rebuild")
    shutil.rmtree(path, ignore_errors=True)  # an interrupted build
    t0 = time.perf_counter()
    encoder = create_encoder(options["encoder"], **{k: v for k, v in options.items() if k != "encoder"},
                             device="cpu", progress=False)  # fmt: skip
    encoder.fit(np.stack([i.pixels for i in items]))
    with Collection.create(path, encoder, device="cpu") as col:
        col.add(items, keep_scores=False)
    build = {"build_s": time.perf_counter() - t0, "training": encoder.training_info()}
    record_file.write_text(json.dumps({**key, "build": build}, indent=1))
    return build


@dataclass
class _Codes:
    """Codes in an index of their own, shaped like the collection the outlier scores read."""

    path: Path
    encoder: Encoder
    index: CodeIndex
    store: Any = None

    def search_codes(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.index.search(codes, k)


def _unnormalised_scores(
    encoder: Encoder, items: list[ImageItem], codes: np.ndarray, errors: np.ndarray
) -> dict[str, np.ndarray]:
    """kNN (and combined) scores of the test ``codes`` by L2 among the normal images' codes, lengths kept."""
    train_codes, train_errors = encoder.encode_with_errors(np.stack([i.pixels for i in items]))
    index = create_index(DEFAULT_FLOAT_SPEC, encoder.dim, "l2")
    keys = np.arange(len(train_codes), dtype=np.int64)
    index.add(keys, train_codes)
    raw = _Codes(Path("unnormalised codes"), encoder, index)
    knn = knn_distances(raw, codes, KNN)
    ref_knn = knn_distances(raw, train_codes, KNN, own_keys=keys)
    return {"knn_l2": knn, "combined_l2": combine(errors, knn, train_errors, ref_knn)}


def _pixel_knn(path: Path, items: list[ImageItem], test_x: np.ndarray) -> np.ndarray:
    """L2 distance from each test image to its ``KNN``-th nearest normal image, in pixel space."""
    shutil.rmtree(path, ignore_errors=True)
    encoder = create_encoder("pixels").fit(np.stack([i.pixels for i in items]))
    with Collection.create(path, encoder, device="cpu") as col:
        col.add(items, keep_scores=False)
        return score_codes(col, col.encode(list(test_x)), "knn", k=KNN)
