"""``retrieval.collection.summary``: what ``aer info`` prints, read from the files, agrees with the opened
collection."""

from __future__ import annotations

import json
import shutil

import pytest

import retrieval
from indexers.facts import read_facts
from retrieval.encoders import base
from retrieval.errors import CollectionError
from retrieval.collection.store import ItemRow
from retrieval.collection.summary import ENCODER_FORMAT, ENCODER_VERSION, ITEMS_TABLE, summarise

from .conftest import build_once

KINDS = {
    "flat": {"dim": 32},
    "half precision": {"dim": 32, "index": "IDMap2,SQfp16"},
    "ivf": {"dim": 8, "index": "IDMap2,IVF2,Flat"},
    "pq": {"dim": 8, "index": "IDMap2,PQ4x4"},
    "shards": {"dim": 16, "shards": 3},
    "binary flat": {"bits": 32},
    "binary hash": {"bits": 32, "index": "BHash2x8,nflip=1"},
    "binary shards": {"bits": 32, "index": "BHash16", "shards": 2},
    "two-stage": {"bits": 32, "short_bits": 16, "radius": 1},
}


@pytest.fixture(scope="module", params=sorted(KINDS))
def built(request, tmp_path_factory, docs):
    return build_once(tmp_path_factory, docs, encoder="fake-text", **KINDS[request.param])


def test_the_summary_is_what_the_open_collection_says(built):
    with retrieval.open(built, device="cpu") as col:
        opened = col.info()
    read = summarise(built)
    assert list(read) == list(opened)  # the same keys, in the same order
    assert {k: v for k, v in read.items() if k != "encoder"} == {k: v for k, v in opened.items() if k != "encoder"}
    assert read["encoder"].startswith(("fake-text(", "two-stage(short=fake-text("))


def test_index_facts_match_the_loaded_index(built):
    manifest = json.loads((built / "collection.json").read_text())
    facts = read_facts(built / "index.faiss", manifest["index_spec"], manifest["metric"])
    with retrieval.open(built, device="cpu") as col:
        index = col.index
        assert (facts.spec, facts.dim, facts.items, facts.description) == (
            index.spec, index.dim, len(index), index.describe())
        assert facts.bytes_per_item == pytest.approx(index.bytes_per_item())


def test_a_damaged_index_file_is_a_clear_error(tmp_path, built):
    copy = shutil.copytree(built, tmp_path / "c.aer")
    index = copy / "index.faiss"
    index.write_bytes(index.read_bytes()[:100])
    with pytest.raises(CollectionError, match="damaged collection"):
        summarise(copy)


def test_a_missing_store_is_a_clear_error(tmp_path, built):
    copy = shutil.copytree(built, tmp_path / "c.aer")
    (copy / "metadata.sqlite").unlink()
    with pytest.raises(CollectionError, match="metadata store"):
        summarise(copy)


def test_what_the_summary_assumes_of_other_modules():
    assert (ENCODER_FORMAT, ENCODER_VERSION) == (base.FORMAT, base.FORMAT_VERSION)
    assert ITEMS_TABLE == ItemRow.__tablename__
