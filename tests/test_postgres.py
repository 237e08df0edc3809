"""The same collections with their metadata in a real PostgreSQL server, and schema migrations."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

import retrieval
from cli.main import main
from retrieval.collection.directory import DB_FILE
from retrieval.sources import Document
from retrieval.collection.store import SCHEMA_VERSION, MetadataStore, sqlite_url

from .conftest import FAKE


def test_collection_with_postgres_metadata(tmp_path, corpus_dir, postgres_url, monkeypatch):
    path = tmp_path / "pg.aer"
    retrieval.index_source(corpus_dir, path, db=postgres_url, **FAKE)
    assert not (path / DB_FILE).exists() and "postgresql" in (path / "collection.json").read_text()
    with pytest.raises(retrieval.CollectionError, match="external database"):
        retrieval.open(path)
    col = retrieval.open(path, device="cpu", db=postgres_url)
    assert len(col) == 36 and col.store.schema_version == SCHEMA_VERSION
    hits = col.search("orbit shuttle launch rocket", k=5)
    assert [h.label for h in hits].count("space") >= 4
    assert col.delete([hits[0].id]) == [hits[0].id]
    assert hits[0].id not in {h.id for h in col.search("orbit shuttle", k=36)}
    col.update(Document(id=hits[1].id, text="doctor patient clinic therapy", label="medicine"))
    col.close()
    monkeypatch.setenv("AER_DATABASE_URL", postgres_url)
    with retrieval.open(path, device="cpu") as again:
        assert len(again) == 35 and again.item_labels() and again.info()["store"].startswith("postgresql")
    out = CliRunner().invoke(main, ["info", str(path), "--json"])
    assert out.exit_code == 0 and '"items": 35' in out.output


def test_one_postgres_database_holds_one_collection(tmp_path, corpus_dir, postgres_url):
    retrieval.index_source(corpus_dir, tmp_path / "a.aer", db=postgres_url, **FAKE)
    with pytest.raises(retrieval.CollectionError, match="another collection"):
        retrieval.index_source(corpus_dir, tmp_path / "b.aer", db=postgres_url, **FAKE)


def test_cli_index_with_db_and_bad_urls(tmp_path, corpus_dir, postgres_url):
    runner = CliRunner()
    args = ["--encoder", "fake-text", "-q"]
    out = runner.invoke(main, ["index", str(corpus_dir), "-c", str(tmp_path / "c.aer"), "--db", postgres_url, *args])
    assert out.exit_code == 0, out.output
    out = runner.invoke(main, ["query", str(tmp_path / "c.aer"), "doctor patient", "--db", postgres_url, "-k", "2"])
    assert out.exit_code == 0 and out.output.count("\n") >= 2
    wrong = postgres_url.rsplit("/", 1)[0] + "/no_such_db"
    out = runner.invoke(main, ["info", str(tmp_path / "c.aer"), "--db", wrong])
    assert out.exit_code == 1 and "cannot open the metadata database" in out.output and "no_such_db" in out.output


def test_a_schema_1_store_is_migrated_and_a_newer_one_refused(tmp_path):
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as conn:  # what version 0.1 of this package wrote
        conn.executescript("""
            CREATE TABLE items (key INTEGER PRIMARY KEY, item_id VARCHAR UNIQUE, source TEXT, label VARCHAR,
                                snippet TEXT);
            CREATE TABLE thumbnails (key INTEGER PRIMARY KEY, pixels BLOB);
            CREATE TABLE meta (name VARCHAR PRIMARY KEY, value TEXT);
            INSERT INTO meta VALUES ('schema_version', '1');
            INSERT INTO items VALUES (0, 'a', 'a.txt', 'x', 'hello');
        """)  # fmt: skip
    store = MetadataStore(sqlite_url(db))
    assert store.schema_version == SCHEMA_VERSION == 5
    assert store.by_keys([0])[0].id == "a" and store.keys_of(["a"]) == {"a": 0}
    store.close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    with pytest.raises(retrieval.CollectionError, match="newer ae-retrieval"):
        MetadataStore(sqlite_url(db))


def test_a_bad_database_url_is_a_clear_error():
    with pytest.raises(retrieval.CollectionError, match="not a database URL"):
        MetadataStore("nonsense:://")


@pytest.mark.postgres  # starts a server of its own (tests/pg_server.py)
def test_a_server_stopped_mid_add_loses_nothing_indexed_and_the_add_can_be_rerun(tmp_path, corpus_dir, docs):
    """The PostgreSQL server dies while `add` writes its metadata: a clear error; after a restart the collection
    holds exactly what it held before (codes and metadata agree), and the same add then succeeds."""
    from retrieval.collection.store import MetadataStore as Store
    from retrieval.collection.verify import verify

    from .pg_server import PostgresServer

    try:
        server = PostgresServer()
    except FileNotFoundError as exc:
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    try:
        server.start()
        url = f"{server.url}/postgres"
        path = tmp_path / "pg.aer"
        retrieval.index_source(corpus_dir, path, db=url, **FAKE)
        extra = [Document(id=f"new-{i}", text=text, label=label) for i, (_, label, text) in enumerate(docs[:5])]
        real_upsert = Store.upsert

        def dying_upsert(self, *args, **kwargs):
            server.stop()  # the server goes away just as the batch's metadata is written
            return real_upsert(self, *args, **kwargs)

        with retrieval.open(path, device="cpu", db=url) as col:
            before = {h.id for h in col.search("orbit shuttle launch rocket", k=36)}
            Store.upsert = dying_upsert
            try:
                with pytest.raises(retrieval.RetrievalError, match="cannot write the metadata"):
                    col.add(extra)
            finally:
                Store.upsert = real_upsert
        server.start()
        found = verify(path, db=url)  # the failed commit put the previous index file back: nothing unlisted
        assert len(found.unlisted_keys) == 0 and not found.codeless_ids and found.ok
        with retrieval.open(path, device="cpu", db=url) as col:  # they are never served, and writing drops them
            assert len(col) == 36 and col.store.count() == 36
            assert {h.id for h in col.search("orbit shuttle launch rocket", k=36)} == before
            col.add(extra)
            assert len(col) == 41 and {h.id for h in col.search("orbit", k=41)} >= {d.id for d in extra}
        assert verify(path, db=url).ok
    finally:
        server.remove()
