"""``aer`` starts at once: importing the CLI, ``aer --help`` and ``aer info`` load neither torch nor scikit-learn.

Each check runs in a fresh interpreter (this one has loaded everything long ago) and reports which heavy
modules it found in ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import retrieval

from .conftest import build_once

HEAVY = ("torch", "sklearn", "sentence_transformers", "transformers", "faiss")
# run the CLI the way the `aer` script does, then list the heavy modules that got imported
RUN = (
    "import json, sys\n"
    "import cli.main\n"
    "code = 0\n"
    "try:\n"
    "    cli.main.main({args!r}, standalone_mode=False)\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n"
    "print(json.dumps({{'exit': code, 'loaded': [m for m in {heavy!r} if m in sys.modules]}}))\n"
)


def run_cli(*args: str, env: dict[str, str] | None = None, then: str = "") -> dict:
    """Run ``aer ARGS`` in a fresh interpreter; its exit code, the heavy modules it loaded, its output."""
    code = RUN.format(args=list(args), heavy=HEAVY) + then
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})}, cwd=os.path.dirname(os.path.dirname(__file__)))  # fmt: skip
    lines = out.stdout.strip().splitlines()
    found = next(json.loads(line) for line in reversed(lines) if line.startswith('{"exit"'))
    return {**found, "stdout": out.stdout, "stderr": out.stderr}


@pytest.fixture(scope="module")
def tfidf_collection(tmp_path_factory, docs):
    return build_once(tmp_path_factory, docs, encoder="tfidf")


def test_importing_the_cli_loads_no_heavy_library():
    found = run_cli("--version")
    assert found["exit"] == 0 and found["loaded"] == []


def test_help_lists_the_commands_without_the_heavy_libraries():
    found = run_cli("--help")
    assert found["exit"] == 0 and found["loaded"] == []
    assert all(cmd in found["stdout"] for cmd in ("index", "query", "info", "serve", "verify"))


@pytest.mark.parametrize("command", ["index", "query", "outliers", "eval", "bench", "add"])
def test_each_commands_help_loads_no_heavy_library(command):
    found = run_cli(command, "--help")
    assert found["exit"] == 0 and found["loaded"] == [] and "Usage:" in found["stdout"]


def test_info_reads_the_files_without_loading_the_encoder(tfidf_collection):
    found = run_cli("info", str(tfidf_collection), "--json")
    assert found["exit"] == 0 and found["loaded"] == [], found["stderr"]
    info = json.loads(found["stdout"].splitlines()[0])
    assert info["items"] == 36 and info["encoder"].startswith("tfidf") and info["index"].startswith("IDMap2,Flat")
    assert info["size_on_disk"] > 0


def test_info_prints_the_size_on_disk_beside_bytes_per_item(tfidf_collection):
    found = run_cli("info", str(tfidf_collection))
    lines = found["stdout"].splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("bytes_per_item"))
    assert lines[at + 1].startswith("size_on_disk") and "kB (" in lines[at + 1] and "bytes)" in lines[at + 1]


@pytest.mark.slow
def test_threads_still_size_torch_when_it_loads_later(tfidf_collection):
    """``--threads`` runs before torch is imported: torch, loaded afterwards, must still get that many threads."""
    then = "import torch, faiss; print('THREADS', torch.get_num_threads(), faiss.omp_get_max_threads())\n"
    found = run_cli("--threads", "1", "info", str(tfidf_collection), then=then)
    assert found["exit"] == 0 and found["loaded"] == []
    assert "THREADS 1 1" in found["stdout"]


def test_the_package_exports_load_on_first_use():
    code = (
        "import sys, retrieval\n"
        "assert 'torch' not in sys.modules and 'retrieval.collection.collection' not in sys.modules\n"
        "from retrieval import Collection, Document\n"
        "assert 'retrieval.collection.collection' in sys.modules and retrieval.images.to_pixels\n"
        "print(retrieval.__version__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == retrieval.__version__


@pytest.mark.parametrize("name", retrieval.__all__)
def test_every_public_name_imports(name):
    assert getattr(retrieval, name) is not None
    assert name in dir(retrieval)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        retrieval.nothing_here  # noqa: B018
    with pytest.raises(ImportError):
        from retrieval import nothing_here  # noqa: F401
