"""Random add / update / delete / reopen / reader sequences against a plain dict model (hypothesis).

Invariants after every step: the store lists exactly the model's ids, the index holds exactly the store's
keys, no id is duplicated; a reader opened earlier only ever returns ids of its own snapshot.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import retrieval
from retrieval import Document

from .conftest import TOPICS

IDS = [f"doc-{i}" for i in range(12)]
WORDS = sorted({w for words in TOPICS.values() for w in words})
texts = st.lists(st.sampled_from(WORDS), min_size=3, max_size=8).map(" ".join)
STEPS: list[int] = []  # steps run, for the closing note


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
        self.col.add([Document(id=i, text=f"{text} {i}") for i in ids])
        self.model.update({i: f"{text} {i}" for i in ids})

    @precondition(lambda self: len(self.model) > 1)
    @rule(data=st.data(), text=texts)
    def update(self, data: st.DataObject, text: str) -> None:
        item_id = data.draw(st.sampled_from(sorted(self.model)))
        self.col.update(Document(id=item_id, text=text))
        self.model[item_id] = text

    @rule(ids=st.lists(st.sampled_from([*IDS, "never-there"]), max_size=3))
    def delete(self, ids: list[str]) -> None:
        gone = self.col.delete(ids)
        assert set(gone) == {i for i in ids if i in self.model}
        for i in gone:
            del self.model[i]

    @precondition(lambda self: len(self.model) > 1)
    @rule(text=texts, fresh_reader=st.booleans())
    def replace_newest(self, text: str, fresh_reader: bool) -> None:
        """Delete the item with the highest key (the one a reused key would go to next), add a new one; with
        ``fresh_reader``, under a reader opened just before, which then searches."""
        if fresh_reader:
            self.open_reader()
        labels = self.col.labels()
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
        self.col.close()
        self.col = retrieval.open(self.root / "c.aer")

    @rule()
    def open_reader(self) -> None:
        if self.reader is not None:
            self.reader.close()
        self.reader = retrieval.open(self.root / "c.aer")
        self.snapshot = set(self.model)

    @precondition(lambda self: self.reader is not None)
    @rule(text=texts)
    def reader_searches(self, text: str) -> None:
        hits = self.reader.search(text, k=20)
        assert {h.id for h in hits} <= self.snapshot  # never an item added (or re-keyed) after it opened
        assert len(hits) == len({h.id for h in hits})

    @invariant()
    def store_and_index_agree_with_the_model(self) -> None:
        STEPS.append(1)
        records = self.col.store.by_keys(self.col.labels())
        assert sorted(r.id for r in records.values()) == sorted(self.model)
        np.testing.assert_array_equal(np.sort(self.col.index.keys()), np.sort(np.fromiter(records, np.int64)))
        assert len(self.col) == len(self.model)

    def teardown(self) -> None:
        self.col.close()
        if self.reader is not None:
            self.reader.close()
        shutil.rmtree(self.root, ignore_errors=True)


CollectionModel.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCollectionModel = CollectionModel.TestCase


def test_zz_steps_were_run():
    print(f"stateful steps checked: {len(STEPS)}")
    assert len(STEPS) >= 100
