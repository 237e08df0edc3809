"""A deleted ``digests.json`` is damage, not "an older collection" (issue 30, item 7): a collection records in
its manifest that it keeps digests; ``verify`` and ``open`` then refuse it without them, and ``repair``
re-creates it only once every other check has passed."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

import retrieval
from cli.main import main
from retrieval.collection.directory import DB_FILE, DIGESTS_FILE, INDEX_FILE, MANIFEST
from retrieval.errors import CollectionError, RetrievalError
from retrieval.sources import Document
from retrieval.collection.repair import repair
from retrieval.collection.verify import verify


def flip_index_byte(collection) -> None:
    data = bytearray((collection / INDEX_FILE).read_bytes())
    data[-5] ^= 0x10  # a code's byte, behind an intact header
    (collection / INDEX_FILE).write_bytes(bytes(data))


def test_a_deleted_digests_file_is_a_problem_and_repair_recreates_it(text_collection):
    assert json.loads((text_collection / MANIFEST).read_text())["digests"] == DIGESTS_FILE
    (text_collection / DIGESTS_FILE).unlink()
    found = verify(text_collection)
    assert not found.ok and found.problems[0].startswith(f"{DIGESTS_FILE}: missing"), found.problems
    out = CliRunner().invoke(main, ["verify", str(text_collection)])
    assert out.exit_code == 1 and "digests.json: missing" in out.output and "none kept" not in out.output
    with pytest.raises(CollectionError, match="digests.json: missing"):
        retrieval.open(text_collection)
    assert repair(text_collection) == [f"re-created {DIGESTS_FILE} from the files as they are (every other check passed)"]
    assert verify(text_collection).ok
    kept = json.loads((text_collection / DIGESTS_FILE).read_text())
    assert {INDEX_FILE, "encoder/config.json", "encoder/weights.safetensors"} <= kept.keys()
    flip_index_byte(text_collection)  # the checks are on again
    assert any("index.faiss: its content changed" in p for p in verify(text_collection).problems)


def test_repair_does_not_recreate_digests_while_another_check_fails(text_collection):
    (text_collection / DIGESTS_FILE).unlink()
    con = sqlite3.connect(text_collection / DB_FILE)
    con.execute("UPDATE items SET snippet = CAST(X'ff' AS TEXT) WHERE key = (SELECT MIN(key) FROM items)")
    con.commit()
    con.close()
    with pytest.raises(RetrievalError, match="re-created only once every other check passes"):
        repair(text_collection)
    assert not (text_collection / DIGESTS_FILE).exists()


def test_a_writer_opened_before_the_deletion_does_not_write_partial_digests(text_collection):
    with retrieval.open(text_collection, device="cpu") as col:
        (text_collection / DIGESTS_FILE).unlink()
        with pytest.raises(CollectionError, match="digests.json: missing"):
            col.add([Document(id="new", text="orbit rocket launch")])
        assert len(col) == 36
    assert not (text_collection / DIGESTS_FILE).exists()


def test_an_older_collection_without_the_flag_keeps_todays_message(text_collection):
    (text_collection / DIGESTS_FILE).unlink()
    manifest = json.loads((text_collection / MANIFEST).read_text())
    del manifest["digests"]
    (text_collection / MANIFEST).write_text(json.dumps(manifest))
    found = verify(text_collection)
    assert found.ok and "digests (none kept: older)" in found.passed
