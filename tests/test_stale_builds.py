"""Issue 30, item 12: a killed `aer index` leaves a hidden `.NAME.creating-PID` folder; the next build removes it
(a live process's folder is left alone)."""

import os
import subprocess
import sys

import retrieval
from retrieval.collection.directory import remove_stale_builds

from .conftest import FAKE


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_next_build_removes_a_killed_builds_folder(tmp_path, corpus_dir):
    target = tmp_path / "c.aer"
    stale = tmp_path / f".c.aer.creating-{_dead_pid()}"
    (stale / "encoder").mkdir(parents=True)
    (stale / "encoder" / "weights.safetensors").write_bytes(b"half-written")
    live = tmp_path / f".c.aer.creating-{os.getppid()}"  # a process that is running: not ours to remove
    live.mkdir()
    other = tmp_path / ".d.aer.creating-1"  # another collection's
    other.mkdir()
    retrieval.index_source(corpus_dir, target, **FAKE)
    assert not stale.exists() and live.exists() and other.exists()
    assert len(retrieval.open(target)) == 36


def test_remove_stale_builds_names_what_it_removed(tmp_path):
    stale = tmp_path / f".x[1].aer.creating-{_dead_pid()}"  # glob characters in the name are taken literally
    stale.mkdir()
    assert remove_stale_builds(tmp_path / "x[1].aer") == [stale] and not stale.exists()
