"""Random add / update / delete / reopen / reader sequences against a plain dict model (hypothesis), with failed
writes (an ``os.replace``, ``os.fsync``, store statement or commit failing) and the issue-30 input cases (a bare
string where a list of ids is meant, ids spelled in NFC or NFD).

Invariants after every step: the store lists exactly the model's ids, the index holds exactly the store's
keys, no id is duplicated; a reader opened earlier only ever returns ids of its own snapshot. After a failed
write the model is unchanged, and a fresh open and ``verify`` agree with it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.default import DefaultDialect

import retrieval
from retrieval import Document
from retrieval.errors import InvalidParameterError, StorageError
from retrieval.collection.verify import verify

from .conftest import TOPICS

IDS = [f"doc-{i}" for i in range(12)]
ACCENTED = unicodedata.normalize("NFC", "café-crème")  # NFC and NFD spellings differ in length
WORDS = sorted({w for words in TOPICS.values() for w in words})
texts = st.lists(st.sampled_from(WORDS), min_size=3, max_size=8).map(" ".join)
spelling = st.sampled_from(["NFC", "NFD"]).map(lambda form: unicodedata.normalize(form, ACCENTED))
FAULT_KINDS = ["replace", "fsync", "statement", "commit"]
RAN: Counter[str] = Counter()  # rules and invariant checks run, by name (test_the_machine_runs_every_rule)


class Fault:
    """Fails the ``nth`` step of ``kind`` with a full disk; ``fired`` once it has."""

    def __init__(self, kind: str, nth: int) -> None:
        self.kind, self.nth, self.seen, self.fired = kind, nth, 0, False

    def step(self) -> None:
        self.seen += 1
        if self.seen == self.nth:
            self.fired = True
            if self.kind in ("statement", "commit"):
                exc = sqlite3.OperationalError("database or disk is full")
                exc.sqlite_errorcode = 13  # SQLITE_FULL, as sqlite3 sets it
                raise exc
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@contextlib.contextmanager
def failing(kind: str, nth: int) -> Iterator[Fault]:
    """While the block runs, the ``nth`` ``os.replace`` / ``os.fsync`` / store INSERT-UPDATE-DELETE / commit fails."""
    fault = Fault(kind, nth)
    if kind in ("replace", "fsync"):
        real = getattr(os, kind)

        def call(*args: Any, **kwargs: Any) -> Any:
            fault.step()
            return real(*args, **kwargs)

        setattr(os, kind, call)
        try:
            yield fault
        finally:
            setattr(os, kind, real)
    elif kind == "statement":

        def before(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
            if sql.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
                fault.step()

        event.listen(Engine, "before_cursor_execute", before)
        try:
            yield fault
        finally:
            event.remove(Engine, "before_cursor_execute", before)
    else:
        real_commit = DefaultDialect.do_commit

        def commit(self: DefaultDialect, dbapi_conn: Any) -> None:
            fault.step()
            real_commit(self, dbapi_conn)

        DefaultDialect.do_commit = commit
        try:
            yield fault
        finally:
            DefaultDialect.do_commit = real_commit


class CollectionModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="aer-stateful-"))
        seed = [Document(id="seed", text=" ".join(WORDS))]  # the encoder knows every word the rules use
        retrieval.index_source(seed, self.root / "c.aer", encoder="fake-text", dim=16)
        self.col = retrieval.open(self.root / "c.aer")
        self.model: dict[str, str] = {"seed": seed[0].text}
        self.reader: retrieval.Collection | None = None
        self.snapshot: set[str] = set()
        self.fresh = 0

    @rule(ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=4), text=texts)
    def add(self, ids: list[str], text: str) -> None:
        RAN["add"] += 1
        self.col.add([Document(id=i, text=f"{text} {i}") for i in ids])
        self.model.update({i: f"{text} {i}" for i in ids})

    @precondition(lambda self: len(self.model) > 1)
    @rule(data=st.data(), text=texts)
    def update(self, data: st.DataObject, text: str) -> None:
        RAN["update"] += 1
        item_id = data.draw(st.sampled_from(sorted(self.model)))
        self.col.update(Document(id=item_id, text=text))
        self.model[item_id] = text

    @rule(ids=st.lists(st.sampled_from([*IDS, "never-there"]), max_size=3))
    def delete(self, ids: list[str]) -> None:
        RAN["delete"] += 1
        gone = self.col.delete(ids)
        assert set(gone) == {i for i in ids if i in self.model}
        for i in gone:
            del self.model[i]

    @rule(op=st.sampled_from(["add", "update", "delete"]), kind=st.sampled_from(FAULT_KINDS),
          nth=st.integers(1, 2), data=st.data(), text=texts)  # fmt: skip
    def failed_write(self, op: str, kind: str, nth: int, data: st.DataObject, text: str) -> None:
        """A write whose ``nth`` step of ``kind`` fails (a write commits once): a ``StorageError``, and nothing
        changed (in memory, on disk, for ``verify``); a write that never reaches that step is an ordinary one."""
        RAN["failed_write"] += 1
        known = sorted(self.model) if op != "add" and self.model else IDS
        ids = data.draw(st.lists(st.sampled_from(known), min_size=1, max_size=3))
        write, effect = self._write(op, ids, text)
        with failing(kind, 1 if kind == "commit" else nth) as fault:
            try:
                write()
            except StorageError:
                assert fault.fired
        if not fault.fired:
            effect()
            return
        RAN["fault fired"] += 1
        self.store_and_index_agree_with_the_model()
        with retrieval.open(self.root / "c.aer") as fresh:
            assert sorted(r.id for r in fresh.store.by_keys(fresh.item_labels()).values()) == sorted(self.model)
            assert len(fresh) == len(self.model)
        found = verify(self.root / "c.aer")
        assert found.ok, found.problems

    def _write(self, op: str, ids: list[str], text: str) -> tuple[Callable[[], Any], Callable[[], None]]:
        """The write ``op`` on ``ids``, and what it does to the model when it succeeds."""
        if op == "add":
            docs = [Document(id=i, text=f"{text} {i}") for i in ids]
            return lambda: self.col.add(docs), lambda: self.model.update({d.id: d.text for d in docs})
        if op == "update" and ids[0] in self.model:
            return lambda: self.col.update(Document(id=ids[0], text=text)), lambda: self.model.update({ids[0]: text})
        if op == "update":  # an unknown id: ItemNotFoundError before any write (tested in test_collection)
            return lambda: None, lambda: None
        return lambda: self.col.delete(ids), lambda: [self.model.pop(i, None) for i in ids]

    @precondition(lambda self: len(self.model) > 1)
    @rule(data=st.data())
    def delete_given_a_bare_string(self, data: st.DataObject) -> None:
        """An id given as a string where a list is meant is refused, never read as its characters."""
        RAN["delete_given_a_bare_string"] += 1
        item_id = data.draw(st.sampled_from(sorted(self.model)))
        with pytest.raises(InvalidParameterError, match="list of ids"):
            self.col.delete(item_id)

    @rule(spelled=spelling, text=texts)
    def add_accented(self, spelled: str, text: str) -> None:
        """The NFC and NFD spellings of an id are one item, stored in NFC."""
        RAN["add_accented"] += 1
        report = self.col.add([Document(id=spelled, text=text)])
        assert (report.added, report.updated) == ((0, 1) if ACCENTED in self.model else (1, 0))
        self.model[ACCENTED] = text

    @precondition(lambda self: ACCENTED in self.model)
    @rule(spelled=spelling)
    def delete_accented(self, spelled: str) -> None:
        RAN["delete_accented"] += 1
        assert self.col.delete([spelled]) == [spelled]
        del self.model[ACCENTED]

    @precondition(lambda self: len(self.model) > 1)
    @rule(text=texts, fresh_reader=st.booleans())
    def replace_newest(self, text: str, fresh_reader: bool) -> None:
        """Delete the item with the highest key (the one a reused key would go to next), add a new one; with
        ``fresh_reader``, under a reader opened just before, which then searches."""
        RAN["replace_newest"] += 1
        if fresh_reader:
            self.open_reader()
        labels = self.col.item_labels()
        newest = self.col.store.by_keys([max(labels)])[max(labels)].id
        assert self.col.delete([newest]) == [newest]
        del self.model[newest]
        self.fresh += 1
        self.col.add([Document(id=f"fresh-{self.fresh}", text=text)])
        self.model[f"fresh-{self.fresh}"] = text
        if fresh_reader:
            self.reader_searches(text)

    @rule()
    def reopen(self) -> None:
        RAN["reopen"] += 1
        self.col.close()
        self.col = retrieval.open(self.root / "c.aer")

    @rule()
    def open_reader(self) -> None:
        RAN["open_reader"] += 1
        if self.reader is not None:
            self.reader.close()
        self.reader = retrieval.open(self.root / "c.aer")
        self.snapshot = set(self.model)

    @precondition(lambda self: self.reader is not None)
    @rule(text=texts)
    def reader_searches(self, text: str) -> None:
        RAN["reader_searches"] += 1
        hits = self.reader.search(text, k=20)
        assert {h.id for h in hits} <= self.snapshot  # never an item added (or re-keyed) after it opened
        assert len(hits) == len({h.id for h in hits})

    @invariant()
    def store_and_index_agree_with_the_model(self) -> None:
        RAN["invariant"] += 1
        records = self.col.store.by_keys(self.col.item_labels())
        assert sorted(r.id for r in records.values()) == sorted(self.model)
        np.testing.assert_array_equal(np.sort(self.col.index.keys()), np.sort(np.fromiter(records, np.int64)))
        assert len(self.col) == len(self.model)

    def teardown(self) -> None:
        self.col.close()
        if self.reader is not None:
            self.reader.close()
        shutil.rmtree(self.root, ignore_errors=True)


SETTINGS = {"deadline": None, "database": None, "suppress_health_check": [HealthCheck.too_slow]}
CollectionModel.TestCase.settings = settings(max_examples=60, stateful_step_count=12, **SETTINGS)
TestCollectionModel = pytest.mark.slow(CollectionModel.TestCase)


@pytest.mark.slow
def test_the_machine_runs_every_rule_and_fires_faults():
    """A short derandomised run of its own (independent of the test above): every rule runs, faults fire, and the
    invariants are checked after each step."""
    RAN.clear()
    rules = {name for name, f in vars(CollectionModel).items() if hasattr(f, "hypothesis_stateful_rule")}
    # A rule behind a precondition (delete_accented needs add_accented first) may go unchosen in one short run,
    # depending on what hypothesis draws; longer runs follow until every rule has run, at most three.
    for steps in (12, 24, 48):
        run_state_machine_as_test(
            CollectionModel, settings=settings(max_examples=20, stateful_step_count=steps, derandomize=True, **SETTINGS)
        )
        if rules <= set(RAN):
            break
    print(f"stateful steps checked: {RAN['invariant']} ({dict(RAN)})")
    assert rules <= set(RAN), sorted(rules - set(RAN))
    assert RAN["fault fired"] >= 3
    assert RAN["invariant"] >= 100  # after the set-up and after every step
