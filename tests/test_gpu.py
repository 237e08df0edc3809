"""GPU placement: FAISS GPU copies and CUDA training give what the CPU gives. Skipped where faiss sees no GPU."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from indexers import create_index
from indexers.gpu import gpu_count
from retrieval.encoders import create_encoder
from retrieval.eval.metrics import same_top_k

from .conftest import FAST_AE, make_docs

GPU_CHECK = Path(__file__).parents[1] / "benchmarks" / "gpu_check.py"
needs_gpu = pytest.mark.skipif(
    gpu_count() == 0 or not torch.cuda.is_available(),
    reason="no GPU: faiss has no GPU support here (faiss-cpu) or torch sees no CUDA device",
)


@needs_gpu
@pytest.mark.parametrize(("spec", "metric"), [("IDMap2,Flat", "cosine"), ("BFlat", "hamming")])
def test_a_gpu_copy_searches_like_the_cpu_index(spec, metric):
    rng = np.random.default_rng(0)
    if metric == "hamming":
        codes, dim = rng.integers(0, 256, (2000, 8), dtype=np.uint8), 64
        queries = rng.integers(0, 256, (20, 8), dtype=np.uint8)
    else:
        codes, dim = rng.normal(size=(2000, 16)).astype(np.float32), 16
        queries = rng.normal(size=(20, 16)).astype(np.float32)
    results = []
    for use_gpu in (False, True):
        index = create_index(spec, dim, metric, use_gpu=use_gpu)
        index.add(np.arange(2000) * 3, codes)
        assert index.on_gpu is use_gpu
        results.append(index.search(queries, 10))
    assert same_top_k(results[0], results[1], atol=1e-4) == 1.0


@needs_gpu
def test_training_on_cuda_gives_working_codes():
    texts = [t for _, _, t in make_docs()]
    enc = create_encoder("ae", **FAST_AE, device="cuda").fit(texts)
    codes = enc.encode(texts)
    assert codes.shape == (len(texts), FAST_AE["dim"]) and np.isfinite(codes).all()


@pytest.mark.slow  # a fresh interpreter loads torch and faiss
def test_the_gpu_check_says_so_in_one_line_and_exits_0_without_a_gpu():
    if gpu_count() and torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the check would run in full")
    out = subprocess.run([sys.executable, str(GPU_CHECK)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().count("\n") == 0 and "no CUDA GPU" in out.stdout


def test_top_k_agreement_counts_ties_as_agreeing():
    scores = np.array([[0.9, 0.8, 0.8, 0.5]], dtype=np.float32)
    assert same_top_k((scores, np.array([[1, 2, 3, 4]])), (scores, np.array([[1, 3, 2, 4]])), atol=1e-6) == 1.0
    assert same_top_k((scores, np.array([[1, 2, 3, 4]])), (scores, np.array([[9, 2, 3, 4]])), atol=1e-6) == 0.0
    assert same_top_k((scores, np.array([[1, 2, 3, 4]])), (scores + 0.1, np.array([[1, 2, 3, 4]])), atol=1e-6) == 0.0
