"""A failed write changes nothing, in memory or on disk (issue 30, item 1): a fault injected at each step of a
write (the index file, its rename, the store's commit; a full disk or another error) leaves ``len``, ``search``
and the files agreeing as before the write, in process and through the server."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import faiss
import pytest
from sqlalchemy import event

import retrieval
from retrieval.errors import RetrievalError, StorageError
from retrieval.sources import Document
from retrieval.collection.store import MetadataStore
from retrieval.collection.verify import verify

QUERY = "orbit rocket launch"
NEW = [Document(id=f"new-{n}", text=f"orbit rocket launch moon shuttle {n} " + "word " * 200) for n in range(60)]


def view(col) -> tuple[int, list[str]]:
    return len(col), [h.id for h in col.search(QUERY, k=10)]


def full_store(col):
    """The store's SQLite cannot grow from now on: an insert that needs a page is 'database or disk is full'.
    Return what undoes it."""
    engine = col.store.engine
    raw = engine.raw_connection()
    (pages,) = raw.cursor().execute("PRAGMA page_count").fetchone()
    raw.close()
    engine.dispose()

    def cap(conn, _record) -> None:
        conn.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(engine, "connect", cap)

    def undo() -> None:
        event.remove(engine, "connect", cap)
        engine.dispose()

    return undo


def _faiss_full(index, path):
    Path(path).write_bytes(b"partial")
    raise RuntimeError(f"Error in void faiss::write_index: write error in {path}: 28 (No space left on device)")


def _raise(exc: BaseException):
    def fail(*_args, **_kwargs):
        raise exc

    return fail


def inject(fault: str, col, monkeypatch):
    """Make the next write fail at ``fault``; return what undoes it (with ``monkeypatch.undo()``)."""
    if fault == "faiss-enospc":
        monkeypatch.setattr(faiss, "write_index", _faiss_full)
    elif fault == "index-oserror":
        monkeypatch.setattr(faiss, "write_index", _raise(OSError(errno.ENOSPC, "No space left on device")))
    elif fault == "rename":
        real = os.replace

        def replace(src, dst, *args, **kwargs):
            if Path(dst).name == "index.faiss":
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, "replace", replace)
    elif fault == "store-full":
        return full_store(col)
    elif fault == "store-error":
        monkeypatch.setattr(MetadataStore, "upsert", _raise(RuntimeError("the database went away")))
        monkeypatch.setattr(MetadataStore, "deleting", _raise(RuntimeError("the database went away")))
    elif fault == "commit-eio":  # the store's commit fails after the index file was renamed into place
        error = sqlite3.OperationalError("disk I/O error")
        error.sqlite_errorcode = 10  # SQLITE_IOERR, as sqlite3 sets it
        monkeypatch.setattr(col.store.engine.dialect, "do_commit", _raise(error))
    return monkeypatch.undo


ADD_FAULTS = ["faiss-enospc", "index-oserror", "rename", "store-full", "store-error", "commit-eio"]


@pytest.mark.parametrize("fault", ADD_FAULTS)
def test_a_failed_add_leaves_memory_and_files_as_they_were(text_collection, monkeypatch, fault):
    with retrieval.open(text_collection, device="cpu") as col:
        before = view(col)
        undo = inject(fault, col, monkeypatch)
        update = Document(id="space/space-00.txt", text="engine car brake wheel")  # an update and new items
        with pytest.raises((RetrievalError, RuntimeError)) as caught:
            col.add([update, *NEW])
        if fault != "store-error":
            assert isinstance(caught.value, StorageError), repr(caught.value)
            assert caught.value.disk_full == (fault != "commit-eio"), repr(caught.value)
        undo()
        monkeypatch.undo()
        assert view(col) == before
        assert not [p.name for p in text_collection.iterdir() if p.name.endswith((".tmp", ".new"))]
        col.add([NEW[0]])  # and the next write works from there
        after = view(col)
    assert verify(text_collection).ok
    with retrieval.open(text_collection, device="cpu") as fresh:
        assert view(fresh) == after and len(fresh) == before[0] + 1


@pytest.mark.parametrize("fault", ["faiss-enospc", "rename", "store-error", "commit-eio"])
def test_a_failed_delete_changes_nothing(text_collection, monkeypatch, fault):
    """The index file is rewritten inside the store's transaction: whichever fails, the item stays, in memory and in
    the files, ``verify`` is ok, and the delete run again completes it."""
    with retrieval.open(text_collection, device="cpu") as col:
        before = view(col)
        gone = before[1][0]
        inject(fault, col, monkeypatch)
        with pytest.raises((RetrievalError, RuntimeError)):
            col.delete([gone])
        monkeypatch.undo()
        assert view(col) == before and col.store.keys_of([gone])
        found = verify(text_collection)
        assert found.ok, found.problems
        with retrieval.open(text_collection, device="cpu") as fresh:
            assert view(fresh) == before
        assert col.delete([gone]) == [gone]
        after = view(col)
    assert gone not in after[1] and after[0] == before[0] - 1
    assert verify(text_collection).ok
    with retrieval.open(text_collection, device="cpu") as fresh:
        assert view(fresh) == after


@pytest.mark.parametrize("first", ["rename", "commit-eio"])
def test_failed_writes_in_a_row_keep_the_digest_of_the_file_in_place(text_collection, monkeypatch, first):
    """A failed write records its index's digest before failing (its rename, or its commit, after which the old
    file is put back): the next write must keep the digest of the file actually in place, else a second failure
    leaves a collection that no longer opens (digest mismatch)."""
    with retrieval.open(text_collection, device="cpu") as col:
        before = view(col)
        for fault in (first, "commit-eio", "commit-eio"):
            inject(fault, col, monkeypatch)
            with pytest.raises(StorageError):
                col.add([NEW[0]])
            monkeypatch.undo()
            assert view(col) == before
    found = verify(text_collection)
    assert found.ok, found.problems
    with retrieval.open(text_collection, device="cpu") as fresh:
        assert view(fresh) == before
        fresh.add([NEW[0]])
    assert verify(text_collection).ok


def test_a_full_sqlite_is_507_and_the_server_does_not_lie(text_collection, monkeypatch):
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from retrieval.server.app import create_app

    token = "test-token-0123456789"
    app = create_app(text_collection, token=token, device="cpu", refresh_s=0)
    with TestClient(app, base_url="http://localhost") as client:
        hits = client.get("/search", params={"q": QUERY, "k": 10}).json()["hits"]
        with app.state.served.reading() as col:
            undo = full_store(col)
        items = [{"id": d.id, "text": d.text} for d in NEW]
        auth = {"Authorization": f"Bearer {token}"}
        response = client.post("/items", json=items, headers=auth)
        assert response.status_code == 507, response.text
        assert "database or disk is full" in response.json()["message"]
        assert client.get("/healthz").json()["items"] == 36
        assert client.get("/search", params={"q": QUERY, "k": 10}).json()["hits"] == hits
        undo()
        monkeypatch.setattr(faiss, "write_index", _faiss_full)  # then a full disk under the index file
        response = client.post("/items", json=items, headers=auth)
        assert response.status_code == 507, response.text
        assert client.get("/healthz").json()["items"] == 36
        assert client.get("/search", params={"q": QUERY, "k": 10}).json()["hits"] == hits
        monkeypatch.undo()
        assert client.post("/items", json=items, headers=auth).status_code == 200
        assert client.get("/healthz").json()["items"] == 36 + len(items)
    assert verify(text_collection).ok
