"""One thread setting for every pool: AER_THREADS, ``aer --threads`` and ``retrieval.threads.set_threads``; and
OpenMP's passive wait policy, which the ``aer`` command sets for its own process (importing ``retrieval`` does
not: tests/test_host_hygiene.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from retrieval.threads import POOL_SIZE_VARIABLES, WAIT_DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
# `aer ARGS` the way the console script runs it; a command that fails (no such collection) still ran the group
AER = (
    "import cli.main\n"
    "try:\n"
    "    cli.main.main({args!r}, standalone_mode=False)\n"
    "except BaseException:\n"
    "    pass\n"
)
PROBE = (
    "import json, os, torch, faiss\n"
    "print(json.dumps([torch.get_num_threads(), faiss.omp_get_max_threads(), os.environ.get('OMP_WAIT_POLICY'), "
    "os.environ.get('RAYON_NUM_THREADS')]))\n"
)
SET_BY_AER = ("AER_THREADS", "RAYON_NUM_THREADS", *WAIT_DEFAULTS, *POOL_SIZE_VARIABLES)


def _run(code: str, **env: str) -> str:
    """The last line ``code`` prints in a fresh interpreter, without the variables aer sets, plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if k not in SET_BY_AER}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                         check=True, cwd=ROOT)  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


def _aer_then_probe(*args: str, **env: str) -> list:
    """Run ``aer ARGS``, then load torch and faiss in the same process: their pool sizes and the variables."""
    return json.loads(_run(AER.format(args=list(args)) + PROBE, **env))


def test_aer_threads_sizes_torch_faiss_and_the_tokenizers():
    assert _aer_then_probe("info", "no-such.aer", AER_THREADS="1") == [1, 1, "PASSIVE", "1"]


@pytest.mark.slow
def test_the_library_call_sizes_the_pools_that_load_later():
    code = "import retrieval.threads\nretrieval.threads.set_threads(1)\n" + PROBE
    assert json.loads(_run(code)) == [1, 1, None, "1"]  # the wait policy is the program's to set, not the library's


@pytest.mark.slow
def test_aer_makes_idle_openmp_workers_sleep_unless_told_otherwise():
    assert _aer_then_probe("info", "no-such.aer")[2] == "PASSIVE"
    assert _aer_then_probe("info", "no-such.aer", OMP_WAIT_POLICY="ACTIVE")[2] == "ACTIVE"


def test_aer_sets_its_wait_defaults_before_anything_loads_numpy():
    """Each runtime reads its variable once, when it loads: importing the CLI sets them, with NumPy not yet loaded."""
    wanted = list(WAIT_DEFAULTS)
    probe = ("import json, os, sys\nimport cli.main\n"
             f"print(json.dumps(['numpy' in sys.modules, {{k: os.environ.get(k) for k in {wanted!r}}}]))")  # fmt: skip
    assert json.loads(_run(probe)) == [False, WAIT_DEFAULTS]
    assert json.loads(_run(probe, OPENBLAS_THREAD_TIMEOUT="10"))[1]["OPENBLAS_THREAD_TIMEOUT"] == "10"


def test_a_bad_aer_threads_is_warned_about_not_fatal():
    code = AER.format(args=["info", "no-such.aer"])
    clean = {k: v for k, v in os.environ.items() if k not in SET_BY_AER}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, "AER_THREADS": "many"}, capture_output=True,
                         text=True, cwd=ROOT)  # fmt: skip
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
