"""Bits from a trained float code: its plain signs against the learned rotation (``retrieval.encoders.rotation``)
at several lengths, on the same float model and the same queries.

A collection of real-valued codes (the default ``aer index`` of 20 Newsgroups train, or of CIFAR-10 train) is
opened, its encoder encodes the train items (the database) and the test items (the queries), and each way of
making bits is scored against the float codes themselves: 20 Newsgroups with P@10, P@100 and mAP over the whole
ranking; CIFAR-10 with P@10 and mAP@1000 (the hashing literature's protocol). The rotation is learned on the train
codes only, exactly as ``--bits N`` (``binarise="rotation"``) learns it on the fit sample. Labels are never used.

    python benchmarks/studies/rotation/rotation_study.py text runs/text-v2/ae-32.aer \\
        --data ../shared/data/20news-bydate.tar.gz --out runs/rotation/text.json
    python benchmarks/studies/rotation/rotation_study.py image runs/general-v2/cifar-50000/default.aer \\
        --data ../shared/data/cifar-10-binary.tar.gz --out runs/rotation/image.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faiss
import numpy as np

import retrieval
from retrieval.encoders.rotation import learn_rotation, rotated_bits
from retrieval.eval.metrics import average_precision, average_precision_at, precision_at, relevance
from retrieval.sources import iter_newsgroups, load_cifar10
from retrieval.threads import set_threads


def _data(modality: str, data: str) -> tuple[list, np.ndarray, list, np.ndarray]:
    if modality == "text":
        train, test = list(iter_newsgroups(data, "train")), list(iter_newsgroups(data, "test"))
        return (
            [d.text for d in train],
            np.array([d.label for d in train]),
            [d.text for d in test],
            np.array([d.label for d in test]),
        )
    train, train_labels, _ = load_cifar10(data, "train")
    test, test_labels, _ = load_cifar10(data, "test")
    return train, train_labels, test, test_labels


def _score(modality: str, ranked: np.ndarray, db_labels: np.ndarray, q_labels: np.ndarray) -> dict[str, float]:
    rel = relevance(q_labels, db_labels[ranked])
    out = {"p@10": precision_at(rel, 10).mean()}
    if modality == "text":
        n_relevant = np.array([(db_labels == lab).sum() for lab in q_labels])
        out |= {"p@100": precision_at(rel, 100).mean(), "map": average_precision(rel, n_relevant).mean()}
    else:
        out["map@1000"] = average_precision_at(rel, 1000).mean()
    return {k: round(float(v), 4) for k, v in out.items()}


def _float_ranking(db: np.ndarray, queries: np.ndarray, depth: int) -> np.ndarray:
    db = db / np.linalg.norm(db, axis=1, keepdims=True)
    queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(db.shape[1])
    index.add(db.astype(np.float32))
    return index.search(queries.astype(np.float32), depth)[1]


def _bit_ranking(db: np.ndarray, queries: np.ndarray, depth: int) -> np.ndarray:
    packed_db, packed_q = np.packbits(db, axis=1), np.packbits(queries, axis=1)
    index = faiss.IndexBinaryFlat(packed_db.shape[1] * 8)
    index.add(packed_db)
    return index.search(packed_q, depth)[1]


def study(modality: str, collection: str, data: str, bits: list[int]) -> dict:
    set_threads()
    train, train_labels, test, test_labels = _data(modality, data)
    with retrieval.open(collection, device="cpu") as col:
        if col.encoder.bits:
            raise SystemExit(f"{collection}: holds binary codes; this study needs a collection of real-valued codes")
        t0 = time.perf_counter()
        db, queries = col.encoder.encode(train), col.encoder.encode(test)
        encode_s = time.perf_counter() - t0
        description = col.encoder.describe()
    depth = len(db) if modality == "text" else 1000
    rows = {"floats": {"bits": None, **_score(modality, _float_ranking(db, queries, depth), train_labels, test_labels)}}
    mean = db.mean(0)
    rows["signs"] = {
        "bits": db.shape[1],
        **_score(modality, _bit_ranking(db > mean, queries > mean, depth), train_labels, test_labels),
    }
    for n in bits:
        t0 = time.perf_counter()
        centre, projection = learn_rotation(db, n)
        learn_s = time.perf_counter() - t0
        ranked = _bit_ranking(rotated_bits(db, centre, projection), rotated_bits(queries, centre, projection), depth)
        score = _score(modality, ranked, train_labels, test_labels)
        rows[f"rotation-{n}"] = {"bits": n, **score, "learn_s": round(learn_s, 2)}
        print(f"rotation to {n} bits: {rows[f'rotation-{n}']}", flush=True)
    return {
        "modality": modality, "collection": collection, "encoder": description, "database": len(db),
        "queries": len(queries), "encode_s": round(encode_s, 1), "rows": rows,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modality", choices=["text", "image"])
    parser.add_argument("collection")
    parser.add_argument("--data", required=True)
    parser.add_argument("--bits", default="32,64,128,256")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = study(args.modality, args.collection, args.data, [int(b) for b in args.bits.split(",")])
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
