"""One thread setting for every pool: AER_THREADS, ``aer --threads``, and OpenMP's passive wait policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from cli.main import main
from retrieval.threads import POOL_SIZE_VARIABLES

PROBE = (
    "import json, os, retrieval, torch, faiss; "
    "print(json.dumps([torch.get_num_threads(), faiss.omp_get_max_threads(), os.environ.get('OMP_WAIT_POLICY'), "
    "os.environ.get('RAYON_NUM_THREADS')]))"
)


SET_BY_RETRIEVAL = ("AER_THREADS", "OMP_WAIT_POLICY", "RAYON_NUM_THREADS", "OPENBLAS_THREAD_TIMEOUT", *POOL_SIZE_VARIABLES)


def _run(code: str, **env: str) -> str:
    """The last line ``code`` prints in a fresh interpreter, without the variables retrieval sets, plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if k not in SET_BY_RETRIEVAL}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                         check=True)  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


def _probe(**env: str) -> list:
    return json.loads(_run(PROBE, **env))


def test_aer_threads_sizes_torch_faiss_and_the_tokenizers():
    assert _probe(AER_THREADS="1") == [1, 1, "PASSIVE", "1"]


def test_importing_retrieval_makes_idle_openmp_workers_sleep_unless_told_otherwise():
    assert _probe()[2] == "PASSIVE"
    assert _probe(OMP_WAIT_POLICY="ACTIVE")[2] == "ACTIVE"


def test_importing_retrieval_first_shortens_numpy_blas_spinning_unless_told_otherwise():
    probe = "import os, retrieval, numpy; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"
    assert _run(probe) == "4" and _run(probe, OPENBLAS_THREAD_TIMEOUT="10") == "10"


def test_a_bad_aer_threads_is_warned_about_not_fatal():
    out = subprocess.run([sys.executable, "-c", "import retrieval"], env={**os.environ, "AER_THREADS": "many"},
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0 and "AER_THREADS='many' is not a positive number" in out.stderr


def test_the_threads_option_applies_to_every_command(monkeypatch):
    import torch

    before = torch.get_num_threads()
    monkeypatch.setenv("AER_THREADS", str(before))  # restored after the test, with the count below
    for var in ("RAYON_NUM_THREADS", *POOL_SIZE_VARIABLES):  # set by --threads: restored after the test
        monkeypatch.delenv(var, raising=False)
    try:
        torch.set_num_threads(2)
        CliRunner().invoke(main, ["--threads", "1", "info", "no-such.aer"])
        assert torch.get_num_threads() == 1 and os.environ["AER_THREADS"] == "1"
        assert CliRunner().invoke(main, ["--threads", "0", "info", "x"]).exit_code == 2  # refused by click
    finally:
        torch.set_num_threads(before)
