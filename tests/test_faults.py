"""Fault injection at every write step of add / update / delete / create: ENOSPC and EIO from the file layer
(``os.fsync``, ``os.replace``) and the database layer (a statement of the store's write transaction).

After each fault the operation has failed with a clear error, the collection opens, the store and the
index hold the same keys, every listed item is searchable, nothing committed before is lost, and running
the operation again completes it.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

import retrieval
from retrieval import Document
from retrieval.collection.verify import verify

from .conftest import FAKE, make_docs

NEW = [Document(id=f"new-{i}", text=text, label=label) for i, (_, label, text) in enumerate(make_docs(6, seed=9))]


class Injector:
    """Counts the write steps of one layer (``steps``: what each was); raises at the ``fail_at``-th (``None``: only
    count); ``fired``: what the failed step was."""

    def __init__(self, fail_at: int | None, error: int) -> None:
        self.fail_at, self.error, self.calls = fail_at, error, 0
        self.steps: list[str] = []
        self.fired = ""

    def step(self, what: str) -> None:
        self.calls += 1
        self.steps.append(what)
        if self.calls == self.fail_at:
            self.fired = what
            raise OSError(self.error, os.strerror(self.error))


def _patch_files(monkeypatch, injector: Injector) -> None:
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        injector.step("fsync")
        real_fsync(fd)

    def replace(src, dst) -> None:  # noqa: ANN001 - as os.replace
        injector.step("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)


def _patch_database(monkeypatch, injector: Injector) -> None:
    real_execute = Connection.execute

    def execute(self, statement, *args, **kwargs):  # noqa: ANN001, ANN202 - as Connection.execute
        if getattr(statement, "is_dml", False):  # INSERT / DELETE / UPDATE of a write transaction
            try:
                injector.step("sql")
            except OSError as exc:
                raise OperationalError(str(statement), None, exc) from exc
        return real_execute(self, statement, *args, **kwargs)

    monkeypatch.setattr(Connection, "execute", execute)


def _add(col: retrieval.Collection) -> None:
    col.add(NEW, commit_every=7)  # three chunks: three index writes, three store commits


def _update(col: retrieval.Collection) -> None:
    col.update(Document(id="space/space-00.txt", text="doctor patient clinic therapy", label="medicine"))


def _delete(col: retrieval.Collection) -> None:
    col.delete(["space/space-01.txt", "autos/autos-02.txt"])


OPERATIONS: dict[str, tuple[Callable, Callable[[set[str]], set[str]]]] = {
    "add": (_add, lambda ids: ids | {d.id for d in NEW}),
    "update": (_update, lambda ids: ids),
    "delete": (_delete, lambda ids: ids - {"space/space-01.txt", "autos/autos-02.txt"}),
}


def _ids(path: Path) -> set[str]:
    with retrieval.open(path) as col:
        return {r.id for r in col.store.by_keys(col.item_labels()).values()}


def _count_steps(operation: str, layer: str, collection: Path, probe: Path, monkeypatch) -> Injector:
    """The write steps ``operation`` takes in ``layer``, run on a copy of ``collection`` at ``probe``."""
    counting = Injector(None, 0)
    with monkeypatch.context() as m:
        shutil.copytree(collection, probe)
        with retrieval.open(probe) as col:
            (_patch_files if layer == "files" else _patch_database)(m, counting)
            OPERATIONS[operation][0](col)
    return counting


def _check_sound(path: Path, before: set[str], after: set[str]) -> set[str]:
    found = verify(path)
    assert found.ok, found.problems
    with retrieval.open(path) as col:  # opening drops codes a crash left unlisted
        listed = np.sort(np.fromiter(col.item_labels(), dtype=np.int64))
        np.testing.assert_array_equal(np.sort(col.index.keys()), listed)
        ids = {r.id for r in col.store.by_keys(listed.tolist()).values()}
        for item_id in sorted(ids)[:5]:
            assert item_id not in {h.id for h in col.search_by_id(item_id, k=3)}
    assert before & after <= ids <= before | after  # nothing committed lost, nothing foreign
    return ids


@pytest.mark.parametrize("layer", ["files", "database"])
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_fault_at_every_write_step_loses_nothing(operation, layer, text_collection, tmp_path, monkeypatch):
    run, expect = OPERATIONS[operation]
    patch = _patch_files if layer == "files" else _patch_database
    before = _ids(text_collection)
    counting = _count_steps(operation, layer, text_collection, tmp_path / "probe", monkeypatch)
    assert counting.calls >= 1
    for step in range(1, counting.calls + 1):
        target = Path(shutil.copytree(text_collection, tmp_path / f"fault-{step}"))
        error = (errno.ENOSPC, errno.EIO)[step % 2]
        injector = Injector(step, error)
        with monkeypatch.context() as m:
            col = retrieval.open(target)
            patch(m, injector)
            with pytest.raises(retrieval.RetrievalError, match="cannot write|No space|Input/output"):
                run(col)
            col.close()
        assert injector.fired == counting.steps[step - 1]
        _check_sound(target, before, expect(before))
        with retrieval.open(target) as col:  # the same operation again completes it
            run(col)
        assert _ids(target) == expect(before)


def test_a_fault_while_indexing_a_new_collection_leaves_nothing_half_made(tmp_path, corpus_dir, monkeypatch):
    """Before the collection is renamed into place a fault leaves nothing; after it (while adding) a sound
    collection holding what was committed; either way the same command again completes the job."""
    counting = Injector(None, 0)
    with monkeypatch.context() as m:
        _patch_files(m, counting)
        retrieval.index_source(corpus_dir, tmp_path / "probe.aer", **FAKE)
    for step in range(1, counting.calls + 1):
        target = tmp_path / f"c{step}.aer"
        injector = Injector(step, (errno.ENOSPC, errno.EIO)[step % 2])
        with monkeypatch.context() as m:
            _patch_files(m, injector)
            with pytest.raises(retrieval.RetrievalError):
                retrieval.index_source(corpus_dir, target, **FAKE)
        assert injector.fired == counting.steps[step - 1]
        assert not list(tmp_path.glob(f".c{step}.aer.creating-*"))
        if target.exists():  # made, then the first commit of items failed
            everything = _ids(tmp_path / "probe.aer")
            _check_sound(target, set(), everything)
            retrieval.index_source(corpus_dir, target)  # the re-run adds to the collection it made
        else:
            retrieval.index_source(corpus_dir, target, **FAKE)
        assert len(_ids(target)) == 36


def test_the_sweeps_inject_a_fault_at_each_of_many_steps(text_collection, corpus_dir, tmp_path, monkeypatch):
    """The sweeps above inject one fault per write step of each operation and layer, and of indexing a new
    collection (each checked to fire there): count those steps (the total the docs quote), whatever order the
    tests run in."""
    steps = Counter()
    for operation in sorted(OPERATIONS):
        for layer in ("files", "database"):
            counting = _count_steps(operation, layer, text_collection, tmp_path / f"{operation}-{layer}", monkeypatch)
            assert counting.calls >= 1, (operation, layer)
            steps.update(counting.steps)
    counting = Injector(None, 0)
    with monkeypatch.context() as m:
        _patch_files(m, counting)
        retrieval.index_source(corpus_dir, tmp_path / "new.aer", **FAKE)
    steps.update(counting.steps)
    print(f"faults injected by the sweeps: {steps.total()} ({', '.join(f'{n} {k}' for k, n in sorted(steps.items()))})")
    assert set(steps) == {"fsync", "replace", "sql"} and steps.total() >= 40
