"""The GPU path in one command: train on CUDA, search FAISS GPU copies, check they agree with the CPU.

On a machine with CUDA (torch sees a GPU and faiss was built with GPU support, ``pip install
'ae-retrieval[gpu]'``): trains the default text encoder (``ae``, with its teacher) on ``--docs`` 20 Newsgroups
train posts and the default image encoder (``conv-ae``) on ``--images`` CIFAR-10 train images, each on CUDA and
on the CPU; builds a float index (``IDMap2,Flat``) of the text codes and a binary one (``BFlat``) of 64-bit codes
(random-hyperplane signs of those), on the CPU and as FAISS GPU copies; checks that both give the same top-10
for the test queries (ties aside: the same scores in the same order, and the same keys wherever a score is not
tied); and prints the timings side by side. Without CUDA it says so in one line and exits 0.

    python benchmarks/gpu_check.py --data-dir ../shared/data --out runs/gpu-check
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from indexers import create_index
from indexers.bits import pack_bits
from indexers.gpu import gpu_count
from retrieval.encoders import create_encoder
from retrieval.eval.metrics import same_top_k
from retrieval.sources import iter_newsgroups, load_cifar10


def timed(fn):  # noqa: ANN001, ANN201 - any callable, its result
    t0 = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, round(time.perf_counter() - t0, 2)


def check(data_dir: Path, docs: int, images: int) -> dict:
    train = [d for d in iter_newsgroups(data_dir / "20news-bydate.tar.gz", "train") if hasattr(d, "text")][:docs]
    test = [d.text for d in iter_newsgroups(data_dir / "20news-bydate.tar.gz", "test") if hasattr(d, "text")][:1000]
    texts = [d.text for d in train]
    pixels = load_cifar10(data_dir / "cifar-10-binary.tar.gz", "train")[0][:images]
    rows: dict = {}
    for device in ("cuda", "cpu"):
        enc, fit_s = timed(lambda d=device: create_encoder("ae", device=d, progress=False).fit(texts))
        _, encode_s = timed(lambda e=enc: e.encode(texts))
        img, img_s = timed(lambda d=device: create_encoder("conv-ae", device=d, progress=False).fit(list(pixels)))
        rows[device] = {"text_fit_s": fit_s, "text_encode_s": encode_s, "image_fit_s": img_s}
        if device == "cuda":
            codes, queries = enc.encode(texts), enc.encode_queries([q for q in test if q.strip()][:500])
    planes = np.random.default_rng(0).normal(size=(codes.shape[1], 64))  # 64-bit test codes: random hyperplanes
    bits, query_bits = pack_bits(codes @ planes > 0), pack_bits(queries @ planes > 0)
    keys = np.arange(len(codes), dtype=np.int64) * 7
    agreement = {}
    for name, spec, metric, stored, asked in (("float", "IDMap2,Flat", "cosine", codes, queries),
                                              ("binary", "BFlat", "hamming", bits, query_bits)):  # fmt: skip
        results = {}
        for use_gpu in (False, True):
            index = create_index(spec, stored.shape[1] * (8 if metric == "hamming" else 1), metric, use_gpu=use_gpu)
            index.add(keys, stored)
            index.search(asked[:2], 10)  # warm: the GPU copy is made on the first search
            results[use_gpu], seconds = timed(lambda i=index, q=asked: i.search(q, 10))
            rows["cuda" if use_gpu else "cpu"][f"{name}_search_s"] = seconds
            assert index.on_gpu == use_gpu, f"{spec} use_gpu={use_gpu} but on_gpu={index.on_gpu}"
        agreement[name] = same_top_k(results[False], results[True], atol=1e-4)
    return {"devices": rows, "top10_agreement": agreement, "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0), "docs": docs, "images": images}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    p.add_argument("--docs", type=int, default=3000, help="20 Newsgroups train posts to train on")
    p.add_argument("--images", type=int, default=5000, help="CIFAR-10 train images to train on")
    p.add_argument("--out", type=Path, default=None, help="write results.json here")
    args = p.parse_args()
    if not torch.cuda.is_available() or gpu_count() == 0:
        print(f"no CUDA GPU here (torch sees {torch.cuda.device_count()}, faiss {gpu_count()}): nothing to check")
        return
    result = check(args.data_dir, args.docs, args.images)
    print("| step | CPU s | GPU s |\n| --- | --- | --- |")
    for step in result["devices"]["cpu"]:
        print(f"| {step} | {result['devices']['cpu'][step]} | {result['devices']['cuda'][step]} |")
    print("top-10 agreement CPU vs GPU (ties aside):", result["top10_agreement"])
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(result, indent=1))
    if min(result["top10_agreement"].values()) < 1.0:
        sys.exit("CPU and GPU disagree on some top-10 lists")


if __name__ == "__main__":
    main()
