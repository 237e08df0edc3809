"""Damage to the metadata store is caught (issue 30, item 6): ``aer verify`` runs SQLite's integrity check and
reads every item row back; a row that cannot be decoded is a clear error naming its key, not a traceback."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

import retrieval
from cli.main import main
from retrieval.collection.directory import DB_FILE
from retrieval.errors import CollectionError, RetrievalError
from retrieval.collection.repair import repair
from retrieval.collection.verify import verify


def sql(collection, *statements: str) -> list:
    """Run ``statements`` on the store's file directly (as damage would), its WAL folded in first."""
    con = sqlite3.connect(collection / DB_FILE)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = [con.execute(s).fetchall() for s in statements]
        con.commit()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return rows
    finally:
        con.close()


def test_a_snippet_that_is_not_utf8_is_named_by_its_key(text_collection):
    (rows,) = sql(text_collection, "SELECT key, item_id FROM items ORDER BY key LIMIT 1 OFFSET 3")
    key, item_id = rows[0]
    sql(text_collection, f"UPDATE items SET snippet = CAST(X'6f7262ff6974' AS TEXT) WHERE key = {key}")
    found = verify(text_collection)
    assert not found.ok
    assert any(f"key {key} (id {item_id!r}): its snippet is not valid UTF-8" in p for p in found.problems)
    out = CliRunner().invoke(main, ["verify", str(text_collection)])
    assert out.exit_code == 1 and f"key {key}" in out.output and "Traceback" not in out.output
    with retrieval.open(text_collection, device="cpu") as col:
        with pytest.raises(CollectionError, match=f"damaged item: key {key} \\(id {item_id!r}\\)"):
            col.search("orbit rocket launch", k=36)
    out = CliRunner().invoke(main, ["query", str(text_collection), "orbit rocket launch", "-k", "36"])
    assert out.exit_code == 1 and f"key {key}" in out.output and "Traceback" not in out.output, out.output
    with pytest.raises(RetrievalError, match="cannot repair"):
        repair(text_collection)  # a rebuild of the index cannot mend the store


def test_a_damaged_page_is_found_by_the_integrity_check(text_collection):
    (pages,) = sql(text_collection, "SELECT rootpage FROM sqlite_master WHERE name = 'ix_items_item_id'")
    ((page_size,),) = sql(text_collection, "PRAGMA page_size")[0]
    root = pages[0][0]
    store = text_collection / DB_FILE
    data = bytearray(store.read_bytes())
    end = root * page_size  # the index's root page (one leaf: 36 short ids); its cells lie at the page's end
    data[end - 20] ^= 0x01  # one bit of one indexed id
    store.write_bytes(bytes(data))
    found = verify(text_collection)
    assert any("integrity_check finds damage" in p for p in found.problems), found.problems
    out = CliRunner().invoke(main, ["verify", str(text_collection)])
    assert out.exit_code == 1 and "integrity_check" in out.output and "Traceback" not in out.output


def test_a_sound_store_passes(text_collection):
    found = verify(text_collection)
    assert found.ok and "store reads back: integrity_check, every item row" in found.passed
