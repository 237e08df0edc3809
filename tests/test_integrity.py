"""A collection is bound to its store, and keys are never reused: the silent-corruption cases of issue 16."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner

import retrieval
from cli.main import main
from retrieval import CollectionError, Document, ItemNotFoundError
from retrieval.directory import DB_FILE, INDEX_FILE

from .conftest import FAKE


def _index_bytes(path) -> bytes:
    return (path / INDEX_FILE).read_bytes()


@pytest.mark.parametrize("damage", ["missing", "empty"])
def test_a_collection_without_its_metadata_store_is_refused_and_left_alone(text_collection, tmp_path, damage):
    before = _index_bytes(text_collection)
    store = text_collection / DB_FILE
    for extra in text_collection.glob(DB_FILE + "-*"):  # SQLite's WAL files go with it
        extra.unlink()
    if damage == "missing":
        store.unlink()
    else:
        store.write_bytes(b"")
    with pytest.raises(CollectionError, match=f"metadata store is {damage}"):
        retrieval.open(text_collection)
    more = tmp_path / "more.jsonl"
    more.write_text('{"id": "n1", "text": "modem question about a serial port"}\n')
    out = CliRunner().invoke(main, ["add", str(text_collection), str(more), "-q"])
    assert out.exit_code == 1 and "metadata store" in out.output and "Traceback" not in out.output
    assert _index_bytes(text_collection) == before  # no code dropped
    assert (store.exists() and store.stat().st_size == 0) if damage == "empty" else not store.exists()


def test_a_damaged_store_is_a_clear_error(text_collection):
    (text_collection / DB_FILE).write_bytes(b"this is not a database file at all" * 100)
    for extra in text_collection.glob(DB_FILE + "-*"):
        extra.unlink()
    with pytest.raises(CollectionError, match="not a readable metadata database"):
        retrieval.open(text_collection)


def test_keys_are_never_reused_after_a_delete(text_collection):
    with retrieval.open(text_collection) as col:
        top_key = max(col.labels())
        top_id = col.store.by_keys([top_key])[top_key].id
        assert col.delete([top_id]) == [top_id]
        col.add([Document(id="new-1", text="orbit shuttle launch rocket")])
        assert col.store.keys_of(["new-1"])["new-1"] == top_key + 1  # not the freed key
    with retrieval.open(text_collection) as again:  # the counter is kept in the store
        again.delete(["new-1"])
        again.add([Document(id="new-2", text="engine brake clutch")])
        assert again.store.keys_of(["new-2"])["new-2"] == top_key + 2


def test_an_old_reader_never_returns_a_new_item_for_a_deleted_one(text_collection):
    reader = retrieval.open(text_collection)
    victim = reader.search("orbit shuttle launch rocket", k=1)[0]
    with retrieval.open(text_collection) as writer:
        writer.delete([victim.id])
        writer.add([Document(id="stranger", text="doctor patient clinic", label="medicine")])
    size = len(reader)
    for _ in range(3):
        hits = reader.search("orbit shuttle launch rocket", k=36)
        assert "stranger" not in {h.id for h in hits} and victim.id not in {h.id for h in hits}
        assert len(reader) == size == len(reader.index)  # the reader's own snapshot
    with pytest.raises(ItemNotFoundError, match="stranger"):
        reader.search_by_id("stranger")  # listed in the store, not in this reader's index
    reader.close()
    with retrieval.open(text_collection) as fresh:
        assert "stranger" in {h.id for h in fresh.search("doctor patient clinic", k=36)}


def test_reading_commands_never_make_tables_in_a_database_they_did_not_make(tmp_path, corpus_dir, postgres_url):
    from sqlalchemy import create_engine, inspect

    path = tmp_path / "pg.aer"
    other = postgres_url + "_other"
    server = postgres_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    admin = create_engine(server + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{other.rsplit("/", 1)[1]}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{other.rsplit("/", 1)[1]}"')
    admin.dispose()
    retrieval.index_source(corpus_dir, path, db=postgres_url, **FAKE)
    before = _index_bytes(path)
    for command in (["query", str(path), "orbit", "--db", other], ["add", str(path), str(corpus_dir), "--db", other]):
        out = CliRunner().invoke(main, command)
        assert out.exit_code == 1 and "holds no ae-retrieval metadata" in out.output, out.output
    empty = create_engine(other.replace("postgresql://", "postgresql+psycopg://"))
    assert inspect(empty).get_table_names() == []  # nothing was created in the wrong database
    empty.dispose()
    assert _index_bytes(path) == before
    with retrieval.open(path, db=postgres_url) as col:
        assert len(col) == 36


def test_a_new_collection_checks_its_database_before_training(tmp_path, corpus_dir, postgres_url):
    retrieval.index_source(corpus_dir, tmp_path / "a.aer", db=postgres_url, **FAKE)
    with pytest.raises(CollectionError, match="another collection"):
        retrieval.index_source(corpus_dir, tmp_path / "b.aer", db=postgres_url, encoder="ae", epochs=10_000)
    assert not (tmp_path / "b.aer").exists() and not list(tmp_path.glob(".b.aer.creating-*"))


def test_copied_collection_keeps_working(text_collection, tmp_path):
    copy = tmp_path / "copy.aer"
    shutil.copytree(text_collection, copy)
    with retrieval.open(copy) as col:
        assert len(col) == 36 and np.isfinite([h.score for h in col.search("orbit", k=3)]).all()
