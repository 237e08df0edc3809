"""A collection is bound to its store, and keys are never reused: the silent-corruption cases of issue 16."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import retrieval
import retrieval.collection.verify
from cli.main import main
from retrieval import CollectionError, Document, ItemNotFoundError
from retrieval.collection.directory import DB_FILE, DIGESTS_FILE, INDEX_FILE

from .conftest import FAKE, write_corpus


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
        top_key = max(col.item_labels())
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


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (all Pillow reads before refusing a bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_one_rejected_item(tmp_path, image_dir):
    (image_dir / "red" / "bomb.png").write_bytes(_png_header(20_000, 20_000))
    out = CliRunner().invoke(main, ["index", str(image_dir), "-c", str(tmp_path / "i.aer"), "--encoder", "pca",
                                    "--dim", "4", "-q"])  # fmt: skip
    assert out.exit_code == 1 and "rejected red/bomb.png: image too large" in out.output, out.output
    assert "30 added" in out.output


def test_an_index_of_the_wrong_width_is_a_clear_error(text_collection, tmp_path):
    other = tmp_path / "other.aer"
    retrieval.index_source(_corpus(tmp_path), other, encoder="fake-text", dim=8)
    shutil.copy(other / INDEX_FILE, text_collection / INDEX_FILE)
    with pytest.raises(CollectionError, match="index.faiss: its content changed"):
        retrieval.open(text_collection)  # caught by its digest first
    (text_collection / DIGESTS_FILE).unlink()  # as a collection made before digests were kept
    manifest = json.loads((text_collection / "collection.json").read_text())
    del manifest["digests"]  # ... whose manifest does not say it keeps them
    (text_collection / "collection.json").write_text(json.dumps(manifest))
    with pytest.raises(CollectionError, match="8-wide codes"):
        retrieval.open(text_collection)


@pytest.mark.parametrize("name", [INDEX_FILE, "encoder/weights.safetensors"])
def test_bytes_changed_behind_an_intact_header_are_caught_by_the_digests(text_collection, name):
    file = text_collection / name
    data = bytearray(file.read_bytes())
    data[-40] ^= 0xFF  # one bit pattern flipped near the end: headers and sizes stay valid
    file.write_bytes(bytes(data))
    with pytest.raises(CollectionError, match=f"{name}: its content changed"):
        retrieval.open(text_collection)


def _corpus(tmp_path):
    from .conftest import make_docs, write_corpus

    return write_corpus(tmp_path / "corpus-8", make_docs(per_topic=2))


@pytest.mark.parametrize(
    "field,value", [("modality", 3), ("index_spec", ["IDMap2,Flat"]), ("metric", "manhattan"), ("store", None)]
)
def test_hand_edited_manifest_fields_of_the_wrong_type(text_collection, field, value):
    import json

    manifest = json.loads((text_collection / "collection.json").read_text())
    manifest[field] = value
    (text_collection / "collection.json").write_text(json.dumps(manifest))
    out = CliRunner().invoke(main, ["info", str(text_collection)])
    assert out.exit_code == 1 and "damaged manifest" in out.output and field in out.output, out.output


@pytest.mark.parametrize("url", ["localhost/aer", "postgresql://user@host:notaport/db"])
def test_bad_database_urls_are_messages(text_collection, url):
    from retrieval.collection.store import database_url

    with pytest.raises(CollectionError, match="not a database URL"):
        database_url(url)
    out = CliRunner().invoke(main, ["index", str(text_collection), "-c", "never.aer", "--db", url])
    assert out.exit_code == 1 and "not a database URL" in out.output and "Traceback" not in out.output


def test_options_that_would_be_ignored_are_refused(text_collection, corpus_dir):
    with pytest.raises(retrieval.InvalidParameterError, match="'encoder'.*new collection"):
        retrieval.index_source(corpus_dir, text_collection, encoder="conv-ae")
    out = CliRunner().invoke(main, ["index", str(corpus_dir), "-c", str(text_collection), "--epochs", "3"])
    assert out.exit_code == 1 and "'epochs'" in out.output
    with pytest.raises(retrieval.InvalidParameterError, match="no option 'epochs'"):
        retrieval.create_encoder("lsa", epochs=3)


def test_a_long_query_from_a_file_or_stdin(text_collection, tmp_path):
    query = tmp_path / "q.txt"
    query.write_text("orbit shuttle launch rocket " * 200_000)  # 5.6 MB, too long for a command line
    out = CliRunner().invoke(main, ["query", str(text_collection), "--query-file", str(query), "-k", "3", "--json"])
    assert out.exit_code == 0, out.output
    out = CliRunner().invoke(main, ["query", str(text_collection), "--query-file", "-", "-k", "1"],
                             input="doctor patient clinic")  # fmt: skip
    assert out.exit_code == 0 and "medicine" in out.output


def test_verify_passes_a_sound_collection_and_names_each_kind_of_damage(text_collection):
    out = CliRunner().invoke(main, ["verify", str(text_collection)])
    assert out.exit_code == 0 and "PROBLEM" not in out.output and "same keys" in out.output, out.output
    # a crash between the index write and the store commit: codes the store does not list
    with retrieval.open(text_collection) as col:
        extra = np.arange(1000, 1004)
        col.index.add(extra, col.encode(["orbit"] * 4))
        col._save_index()
    found = retrieval.collection.verify.verify(text_collection)
    assert not found.ok and found.unlisted_keys.tolist() == extra.tolist()
    out = CliRunner().invoke(main, ["verify", str(text_collection)])
    assert out.exit_code == 1 and "4 codes in the index are not listed" in out.output
    out = CliRunner().invoke(main, ["repair", str(text_collection)])
    assert out.exit_code == 0 and "dropped 4 codes" in out.output, out.output
    assert retrieval.collection.verify.verify(text_collection).ok
    # damage it cannot mend
    weights = text_collection / "encoder" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + bytes(b ^ 0xFF for b in weights.read_bytes()[-8:]))
    out = CliRunner().invoke(main, ["verify", str(text_collection)])
    assert out.exit_code == 1 and "encoder/weights.safetensors: its content changed" in out.output
    out = CliRunner().invoke(main, ["repair", str(text_collection)])
    assert out.exit_code == 1 and "cannot repair" in out.output and "Traceback" not in out.output


@pytest.mark.parametrize("damage", ["flip", "delete", "codeless"])
def test_repair_rebuilds_a_lost_or_damaged_index_from_reachable_sources(tmp_path, docs, damage):
    corpus = write_corpus(tmp_path / "corpus", docs)
    path = tmp_path / "c.aer"
    retrieval.index_source(corpus, path, **FAKE)
    with retrieval.open(path) as col:
        before = [(h.id, round(h.score, 5)) for h in col.search("orbit shuttle launch rocket", k=10)]
        if damage == "codeless":  # a crash-like state: listed items whose codes are gone from the index
            gone = col.index.keys()[:3]
            col.index.remove(gone)
            col._save_index()
    index = path / "index.faiss"
    if damage == "flip":
        data = bytearray(index.read_bytes())
        data[len(data) // 2] ^= 0xFF
        index.write_bytes(bytes(data))
    elif damage == "delete":
        index.unlink()
    assert not retrieval.collection.verify.verify(path).ok
    out = CliRunner().invoke(main, ["repair", str(path)])
    assert out.exit_code == 0 and "rebuilt the index from the sources: 36 items re-encoded" in out.output, out.output
    assert retrieval.collection.verify.verify(path).ok
    with retrieval.open(path) as col:
        assert len(col) == 36
        assert [(h.id, round(h.score, 5)) for h in col.search("orbit shuttle launch rocket", k=10)] == before


def test_repair_refuses_a_rebuild_when_a_source_is_gone_and_changes_nothing(tmp_path, docs):
    corpus = write_corpus(tmp_path / "corpus", docs)
    path = tmp_path / "c.aer"
    retrieval.index_source(corpus, path, **FAKE)
    (path / "index.faiss").unlink()
    victim = next(corpus.rglob("*.txt"))
    victim.unlink()
    out = CliRunner().invoke(main, ["repair", str(path)])
    assert out.exit_code == 1 and "cannot repair" in out.output and "1 of 36 items are not in a reachable" in out.output
    assert "Traceback" not in out.output and not (path / "index.faiss").exists()


def test_container_of_each_source_kind():
    from retrieval.collection.repair import container_of
    from retrieval.collection.store import ItemRecord

    def rec(item_id: str, source: str) -> ItemRecord:
        return ItemRecord(key=0, id=item_id, source=source, label=None, snippet="")

    assert container_of(rec("space/a.txt", "/data/corpus/space/a.txt")) == Path("/data/corpus")
    assert container_of(rec("sci.space/61", "/d/20news.tar.gz::20news-bydate-train/sci.space/61")) == Path(
        "/d/20news.tar.gz"
    )
    assert container_of(rec("q-7", "/d/quotes.jsonl:8")) == Path("/d/quotes.jsonl")
    assert container_of(rec("x", "somewhere/else")) is None
