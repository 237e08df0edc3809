"""Collections that last: updates and deletes keep ids stable, a writer lock, and kill -9 at any moment."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import retrieval
from cli.main import main
from retrieval.collection.directory import DB_FILE, LOCK_FILE
from retrieval.sources import Document

from .conftest import FAST_AE, build_once, make_docs, write_corpus

S00, A00, M00 = "space/space-00.txt", "autos/autos-00.txt", "medicine/medicine-00.txt"  # folder ids
AER = [sys.executable, "-c", "from cli.main import main; main()"]
LSA = {"encoder": "lsa", "dim": 8}  # fits in milliseconds and loads in a fresh `aer` process


def consistent(path: Path) -> int:
    """Open the collection, check every listed item is searchable and nothing else is; return its size."""
    with retrieval.open(path, device="cpu") as col:
        listed = np.array(sorted(col.item_labels()), dtype=np.int64)
        np.testing.assert_array_equal(np.sort(col.index.keys()), listed)
        if len(col):
            item = col.store.by_keys([int(listed[0])])[int(listed[0])]
            assert item.id not in {h.id for h in col.search_by_id(item.id, k=3)}
        return len(col)


def stored_items(path: Path) -> int:
    """Items the store lists, read with plain sqlite3 as an outside observer would."""
    with contextlib.closing(sqlite3.connect(path / DB_FILE)) as db:
        return db.execute("SELECT COUNT(*) FROM items").fetchone()[0]


@pytest.fixture(scope="module")
def built_lsa(tmp_path_factory, docs) -> Path:
    return build_once(tmp_path_factory, docs, **LSA)


@pytest.fixture
def collection(tmp_path, built_lsa) -> Path:
    return Path(shutil.copytree(built_lsa, tmp_path / "c.aer"))


def test_delete_update_and_stable_keys(collection):
    col = retrieval.open(collection, device="cpu")
    before = dict(col.store.keys_of([S00, A00, M00]))
    assert col.delete([S00, "nope"]) == [S00] and len(col) == 35
    assert all(h.id != S00 for h in col.search("orbit shuttle launch rocket", k=35))
    col.update(Document(id=A00, text="doctor patient disease clinic therapy drug", label="medicine"))
    assert col.store.keys_of([A00]) == {A00: before[A00]}  # same key, new content
    top = col.search("doctor patient disease clinic therapy drug", k=12)
    assert A00 in {h.id for h in top} and len(col) == 35
    with pytest.raises(retrieval.ItemNotFoundError, match=S00):
        col.update(Document(id=S00, text="orbit"))
    col.close()
    assert consistent(collection) == 35
    again = retrieval.open(collection, device="cpu")
    assert again.store.keys_of([M00]) == {M00: before[M00]}
    again.close()


def test_cli_add_and_delete(collection, tmp_path):
    extra = write_corpus(tmp_path / "extra", [("new-01", "space", "orbit moon lunar astronaut"),
                                              ("space-01", "space", "rocket booster payload")])  # fmt: skip
    runner = CliRunner()
    out = runner.invoke(main, ["add", str(collection), str(extra), "-q"])
    assert out.exit_code == 0 and "1 added, 1 updated" in out.output, out.output
    out = runner.invoke(main, ["delete", str(collection), "space/new-01.txt", "space/space-02.txt"])
    assert out.exit_code == 0 and "deleted 2 of 2" in out.output
    out = runner.invoke(main, ["delete", str(collection), "space/new-01.txt"])
    assert out.exit_code == 1 and "deleted 0 of 1" in out.output
    out = runner.invoke(main, ["add", str(tmp_path / "missing.aer"), str(extra)])
    assert out.exit_code == 1 and "no such collection" in out.output
    assert consistent(collection) == 35


def test_a_second_writer_gets_a_clear_error(collection, monkeypatch):
    from filelock import FileLock

    import retrieval.collection.directory as directory

    monkeypatch.setattr(directory, "LOCK_TIMEOUT_S", 0.2)
    with FileLock(str(collection / LOCK_FILE)):  # another writer holds the lock
        with retrieval.open(collection, device="cpu") as col, pytest.raises(retrieval.CollectionError, match="another"):
            col.delete([S00])
    assert consistent(collection) == 36


@pytest.mark.slow
def test_a_reader_keeps_working_while_another_process_writes(collection, tmp_path):
    docs = make_docs(per_topic=300, seed=5)
    big = write_corpus(tmp_path / "big", [(f"w-{i}", lab, text) for i, (_, lab, text) in enumerate(docs)])
    writer = subprocess.Popen([*AER, "add", str(collection), str(big), "-q", "--commit-every", "50"], cwd=os.getcwd())
    reader = retrieval.open(collection, device="cpu")
    searches = 0
    while writer.poll() is None or searches == 0:
        assert len(reader.search("doctor patient clinic", k=5)) == 5
        searches += 1
    assert writer.returncode == 0
    reader.close()
    assert consistent(collection) == 36 + 900


@pytest.mark.slow
def test_kill_9_at_any_moment_loses_nothing_and_rerun_completes(collection, tmp_path):
    """``aer add`` killed with SIGKILL at several moments: the collection always opens consistent, and
    re-running the same command completes it with every item exactly once."""
    docs = make_docs(per_topic=1000, seed=7)
    big = write_corpus(tmp_path / "big", [(f"k-{i}", lab, text) for i, (_, lab, text) in enumerate(docs)])
    partial = 0
    # None: kill during start-up; a number: kill that many seconds after the store is first seen to grow
    kill_points = (None, 0.0, 0.01, 0.03, 0.08, 0.2)
    for n, extra in enumerate(kill_points):
        target = tmp_path / f"run{n}.aer"
        shutil.copytree(collection, target)
        command = [*AER, "add", str(target), str(big), "-q", "--commit-every", "40"]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if extra is None:
            time.sleep(0.3)
        else:
            while proc.poll() is None and stored_items(target) == 36:
                time.sleep(0.002)
            time.sleep(extra)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        size = consistent(target)
        assert 36 <= size <= 36 + 3000
        partial += 36 < size < 36 + 3000
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        assert consistent(target) == 36 + 3000
        with retrieval.open(target, device="cpu") as col:
            ids = [r.id for r in col.store.by_keys(col.item_labels()).values()]
            assert len(ids) == len(set(ids)) == 3036
    print(f"killed {len(kill_points)} times, {partial} of them part-way through the items")
    assert partial >= len(kill_points) // 2


@pytest.mark.slow
def test_a_collection_killed_while_being_created_leaves_nothing_half_made(tmp_path, corpus_dir):
    target = tmp_path / "new.aer"
    cmd = [*AER, "index", str(corpus_dir), "-c", str(target), "-q", "--hidden", "64,32", "--epochs", "3000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(4.0)  # training
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not target.exists() or not any(target.iterdir())
    assert not list(tmp_path.glob(".new.aer.creating-*"))  # no half-made sibling left either
    retrieval.index_source(corpus_dir, target, **FAST_AE)
    assert consistent(target) == 36


@pytest.mark.slow
def test_two_writers_at_once_are_serialised(collection, tmp_path):
    corpora = []
    for w in ("a", "b"):
        docs = make_docs(per_topic=100, seed=ord(w))
        corpora.append(write_corpus(tmp_path / w, [(f"{w}-{i}", lab, text) for i, (_, lab, text) in enumerate(docs)]))
    patient = {**os.environ, "AER_LOCK_TIMEOUT": "120"}  # the second waits for the first, however loaded the machine
    command = [*AER, "add", str(collection), "{}", "-q", "--commit-every", "25"]
    writers = [subprocess.Popen([a.format(c) for a in command], env=patient) for c in corpora]
    assert [w.wait() for w in writers] == [0, 0]
    assert consistent(collection) == 36 + 600  # both complete, neither lost the other's items
