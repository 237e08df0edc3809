"""Snapshots and restore (issue 35): a round trip answers like the original and passes ``verify``; a snapshot
taken while a writer adds items holds one committed state; hostile, damaged and truncated archives are refused
with nothing left behind; an existing collection is replaced only with force; ``POST /snapshot`` needs the write
token and a server-side folder; a PostgreSQL-backed collection comes back with an embedded store."""

from __future__ import annotations

import io
import json
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import retrieval
from cli.main import main
from retrieval.collection import directory
from retrieval.collection.restore import restore
from retrieval.collection.snapshot import SNAPSHOT_MANIFEST, snapshot
from retrieval.collection.verify import verify
from retrieval.sources import Document

from .conftest import FAKE, FAST_AE, make_docs, write_corpus

QUERIES = ("orbit shuttle launch", "engine brake clutch", "doctor patient therapy")


def answers(path: Path, db: str | None = None) -> list[list[tuple[str, float]]]:
    with retrieval.open(path, device="cpu", db=db) as col:
        return [[(h.id, h.score) for h in col.search(q, k=10)] for q in QUERIES]


def leftovers(parent: Path, name: str) -> list[str]:
    """What a restore into ``parent / name`` may have left: the target itself, hidden building siblings."""
    return sorted(p.name for p in parent.iterdir() if p.name == name or p.name.startswith(f".{name}."))


def members(file: Path) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    with tarfile.open(file) as tar:
        return [(m, tar.extractfile(m).read() if m.isreg() else None) for m in tar.getmembers()]


def rewrite(file: Path, out: Path, edit) -> Path:
    """A copy of the snapshot ``file`` whose members (info, data) pass through ``edit`` (a list -> a list)."""
    with tarfile.open(out, "w") as tar:
        for info, data in edit(members(file)):
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out


def member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


def with_manifest(items: list[tuple], **files: dict) -> list[tuple]:
    """``items`` with their snapshot.json naming ``files`` besides its own."""
    meta = json.loads(items[0][1])
    meta["files"].update(files)
    head = json.dumps(meta).encode()
    return [member(SNAPSHOT_MANIFEST, head), *items[1:]]


@pytest.fixture
def taken(tmp_path, text_collection) -> Path:
    return snapshot(text_collection, tmp_path / "snap.tar").file


# --- round trips ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["snap.tar", "snap.tar.gz", "snap.tar.xz"])
def test_a_restored_collection_verifies_and_answers_like_the_original(tmp_path, text_collection, name):
    made = snapshot(text_collection, tmp_path / name)
    assert made.items == 36 and made.size == (tmp_path / name).stat().st_size
    with tarfile.open(made.file) as tar:  # the codec its name says, the manifest first, no pickle
        assert tar.getnames()[0] == SNAPSHOT_MANIFEST and "metadata.sqlite" in tar.getnames()
    meta = json.loads(members(made.file)[0][1])
    assert meta["format"] == "ae-retrieval-snapshot" and meta["library_version"] == retrieval.__version__
    restored = restore(made.file, tmp_path / "back.aer")
    assert restored.items == 36
    assert verify(tmp_path / "back.aer").ok
    assert answers(tmp_path / "back.aer") == answers(text_collection)


def test_an_autoencoder_collection_round_trips_through_the_public_names(tmp_path):
    path = tmp_path / "ae.aer"
    retrieval.index_source(write_corpus(tmp_path / "corpus", make_docs()), path, device="cpu", **FAST_AE)
    with retrieval.open(path, device="cpu") as col:
        made = col.snapshot(tmp_path / "ae.tgz")  # Collection.snapshot
    assert made.items == 36
    retrieval.restore(made.file, tmp_path / "again.aer")
    assert verify(tmp_path / "again.aer").ok
    assert answers(tmp_path / "again.aer") == answers(path)
    with retrieval.open(tmp_path / "again.aer", device="cpu") as back, retrieval.open(path, device="cpu") as col:
        assert back.outlier_scores() == col.outlier_scores()


# --- consistency under writes ----------------------------------------------------------------------------


def test_a_snapshot_taken_while_a_writer_adds_holds_one_committed_state(tmp_path, text_collection):
    committed = {36}  # the item counts the writer committed, one add() at a time
    done = threading.Event()

    def writer() -> None:
        with retrieval.open(text_collection, device="cpu") as col:
            for n in range(40):
                col.add([Document(id=f"new-{n}-{i}", text=f"orbit rocket engine doctor {n} {i}") for i in range(3)])
                committed.add(len(col))
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    taken = []
    try:
        while not done.is_set() and len(taken) < 6:
            taken.append(snapshot(text_collection, tmp_path / f"s{len(taken)}.tar", lock_timeout=60))
    finally:
        thread.join()
    assert taken
    for n, made in enumerate(taken):
        restore(made.file, tmp_path / f"r{n}.aer")
        found = verify(tmp_path / f"r{n}.aer")
        assert found.ok, found.problems
        with retrieval.open(tmp_path / f"r{n}.aer", device="cpu") as back:
            assert len(back) == len(back.index) == made.items
        assert made.items in committed and made.items % 3 == 0


def test_a_snapshot_waits_for_the_writer_and_gives_up_clearly(tmp_path, text_collection):
    with directory.write_lock(text_collection):  # a writer mid-batch
        with pytest.raises(retrieval.CollectionError, match="another process is writing"):
            snapshot(text_collection, tmp_path / "s.tar", lock_timeout=0.1)
    assert list(tmp_path.glob("*s.tar*")) == []  # no file, no scratch folder


# --- what a snapshot refuses to take ------------------------------------------------------------------


def test_snapshot_refuses_an_existing_file_a_damaged_collection_and_its_own_folder(tmp_path, text_collection):
    (tmp_path / "there.tar").write_bytes(b"keep")
    with pytest.raises(retrieval.CollectionError, match="already exists"):
        snapshot(text_collection, tmp_path / "there.tar")
    assert (tmp_path / "there.tar").read_bytes() == b"keep"
    with pytest.raises(retrieval.CollectionError, match="inside the collection"):
        snapshot(text_collection, text_collection / "s.tar")
    with open(text_collection / directory.INDEX_FILE, "r+b") as fh:  # a flipped byte
        fh.seek(-5, 2)
        byte = fh.read(1)
        fh.seek(-5, 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(retrieval.CollectionError, match="damaged collection: index.faiss"):
        snapshot(text_collection, tmp_path / "s.tar")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".s.tar", "s.tar"))) == []


# --- hostile and damaged archives -------------------------------------------------------------------------


EMPTY = {"size": 0, "blake2b": "cae66941d9efbd404e4d88758ea67670"}  # blake2b-128 of no bytes: a link's size and digest


def outside_file_edits() -> dict[str, object]:
    """Ways an archive may try to write outside the new collection, or to make a link there."""
    return {
        "a parent path in the manifest": lambda items: with_manifest(
            [*items, member("../evil", b"x")], **{"../evil": {"size": 1, "blake2b": "0" * 32}}),
        "an absolute path in the manifest": lambda items: with_manifest(
            [*items, member("/tmp/evil", b"x")], **{"/tmp/evil": {"size": 1, "blake2b": "0" * 32}}),
        "a member the manifest does not name": lambda items: [*items[:2], member("../../evil", b"x"), *items[2:]],
        **{f"a {kind} the manifest names": lambda items, code=code: with_manifest(
            [*items, member("encoder/extra", kind=code, link="/etc/passwd")], **{"encoder/extra": EMPTY})
           for kind, code in (("symlink", tarfile.SYMTYPE), ("hard link", tarfile.LNKTYPE),
                              ("device", tarfile.CHRTYPE), ("fifo", tarfile.FIFOTYPE), ("folder", tarfile.DIRTYPE))},
        "a named file given twice": lambda items: [*items, items[3]],
        "no snapshot.json first": lambda items: [*items[1:], items[0]],
    }  # fmt: skip


@pytest.mark.parametrize("how", list(outside_file_edits()))
def test_a_hostile_archive_is_refused_and_leaves_nothing(tmp_path, taken, how):
    bad = rewrite(taken, tmp_path / "bad.tar", outside_file_edits()[how])
    with pytest.raises(retrieval.CollectionError, match=r"bad\.tar: not a usable snapshot") as caught:
        restore(bad, tmp_path / "out" / "x.aer")
    assert "nothing was restored" in str(caught.value)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []  # not even ../evil
    assert not (tmp_path / "evil").exists() and not Path("/tmp/evil").exists()


def test_a_damaged_truncated_or_foreign_file_is_refused_by_name(tmp_path, taken, text_collection):
    data = taken.read_bytes()
    files = {"cut.tar": data[: len(data) // 2], "empty.tar": b"", "noise.tar": bytes(range(256)) * 40}
    meta = members(taken)
    at = data.index(next(d for i, d in meta if i.name == "index.faiss")[-64:])  # a byte inside index.faiss's data
    files["flipped.tar"] = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
    gz = snapshot(text_collection, tmp_path / "whole.tar.gz").file.read_bytes()
    files["cut.tar.gz"] = gz[: len(gz) * 2 // 3]
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(retrieval.CollectionError, match=rf"{name.replace('.', '[.]')}: .*nothing was restored"):
            restore(tmp_path / name, tmp_path / "x.aer")
        assert leftovers(tmp_path, "x.aer") == [], name
    with pytest.raises(retrieval.CollectionError, match="no such snapshot file"):
        restore(tmp_path / "missing.tar", tmp_path / "x.aer")


def test_a_snapshot_whose_collection_fails_verify_is_not_put_in_place(tmp_path, taken):
    def tamper(items):  # index.faiss changed and the snapshot's own digest made to match: verify still sees it
        import hashlib

        out = [(i, d[:-5] + bytes([d[-5] ^ 0xFF]) + d[-4:]) if i.name == "index.faiss" else (i, d) for i, d in items]
        changed = next(d for i, d in out if i.name == "index.faiss")
        digest = hashlib.blake2b(changed, digest_size=16).hexdigest()
        return with_manifest(out, **{"index.faiss": {"size": len(changed), "blake2b": digest}})

    bad = rewrite(taken, tmp_path / "tampered.tar", tamper)
    with pytest.raises(retrieval.CollectionError, match=r"tampered\.tar: the collection it holds fails verify"):
        restore(bad, tmp_path / "x.aer")
    assert leftovers(tmp_path, "x.aer") == []


# --- replacing a collection ---------------------------------------------------------------------------


def test_an_existing_collection_is_replaced_only_with_force(tmp_path, taken, text_collection):
    with retrieval.open(text_collection, device="cpu") as col:
        col.add([Document(id="later", text="orbit rocket later")])
    with pytest.raises(retrieval.CollectionError, match="a collection is already there; restore with force"):
        restore(taken, text_collection)
    with retrieval.open(text_collection, device="cpu") as col:
        assert len(col) == 37
    assert restore(taken, text_collection, force=True).items == 36
    with retrieval.open(text_collection, device="cpu") as col:
        assert len(col) == 36 and "later" not in {h.id for h in col.search("orbit rocket later", k=36)}
    assert verify(text_collection).ok and leftovers(tmp_path, text_collection.name) == [text_collection.name]
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    with pytest.raises(retrieval.CollectionError, match="not a collection; it is never replaced"):
        restore(taken, tmp_path / "notes", force=True)
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"
    (tmp_path / "empty").mkdir()
    assert restore(taken, tmp_path / "empty").items == 36  # an empty folder is no collection to protect


def test_force_replaces_by_two_renames_where_directories_cannot_be_swapped(tmp_path, taken, text_collection,
                                                                          monkeypatch):
    from retrieval.collection import restore as restoring

    monkeypatch.setattr(restoring, "_exchange", lambda first, second: False)
    with retrieval.open(text_collection, device="cpu") as col:
        col.delete(["space/space-00.txt"])
    assert restore(taken, text_collection, force=True).items == 36
    assert verify(text_collection).ok and leftovers(tmp_path, text_collection.name) == [text_collection.name]


# --- the command line ------------------------------------------------------------------------------


def test_the_commands_snapshot_and_restore(tmp_path, text_collection):
    runner = CliRunner()
    out = runner.invoke(main, ["snapshot", str(text_collection), str(tmp_path / "s.tar.gz")])
    assert out.exit_code == 0, out.output
    assert "36 items" in out.output
    out = runner.invoke(main, ["restore", str(tmp_path / "s.tar.gz"), str(text_collection)])
    assert out.exit_code == 1 and "restore with force" in out.output
    out = runner.invoke(main, ["restore", str(tmp_path / "s.tar.gz"), str(text_collection), "--force"])
    assert out.exit_code == 0 and "restored" in out.output and "36 items" in out.output
    out = runner.invoke(main, ["verify", str(text_collection)])
    assert out.exit_code == 0, out.output


# --- the API -------------------------------------------------------------------------------------------


TOKEN = "test-token-0123456789"


def test_post_snapshot_needs_the_write_token_and_a_server_folder(tmp_path, text_collection):
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from retrieval.server.app import create_app
    from retrieval.server.snapshots import enable_snapshots

    app = create_app(text_collection, token=TOKEN, device="cpu", refresh_s=0)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(app, base_url="http://localhost") as client:
        refused = client.post("/snapshot", headers=auth)
        assert refused.status_code == 403 and "--snapshot-dir" in refused.json()["message"]
        enable_snapshots(app, tmp_path / "snaps")
        assert client.post("/snapshot").status_code == 403
        assert client.post("/snapshot", headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert client.post("/snapshot", json={"path": "/tmp/x.tar"}).status_code == 403
        assert list((tmp_path / "snaps").iterdir()) == []
        made = client.post("/snapshot", headers=auth)
        assert made.status_code == 200, made.text
        body = made.json()
        assert body["items"] == 36 and body["name"].startswith("c.aer-") and body["name"].endswith(".tar.gz")
        assert [p.name for p in (tmp_path / "snaps").iterdir()] == [body["name"]]
        assert (tmp_path / "snaps" / body["name"]).stat().st_size == body["size"]
        assert str(tmp_path) not in made.text  # the server's paths are not told
    restore(tmp_path / "snaps" / body["name"], tmp_path / "back.aer")
    assert answers(tmp_path / "back.aer") == answers(text_collection)


def test_each_served_collection_takes_its_own_snapshot(tmp_path, text_collection):
    pytest.importorskip("httpx")
    import shutil

    from fastapi.testclient import TestClient

    from retrieval.server import create_server_app
    from retrieval.server.snapshots import enable_snapshots

    other = Path(shutil.copytree(text_collection, tmp_path / "other.aer"))
    with retrieval.open(other, device="cpu") as col:
        col.delete(["space/space-00.txt"])
    app = create_server_app([text_collection, other], token=TOKEN, device="cpu", refresh_s=0)
    enable_snapshots(app, tmp_path / "snaps")
    with TestClient(app, base_url="http://localhost") as client:
        made = client.post("/c/other/snapshot", headers={"Authorization": f"Bearer {TOKEN}"})
        assert made.status_code == 200 and made.json()["items"] == 35 and made.json()["name"].startswith("other.aer-")
        assert client.post("/c/c/snapshot").status_code == 403
    assert "--snapshot-dir DIR" in CliRunner().invoke(main, ["serve", "--help"]).output


def test_the_snapshot_folder_may_not_lie_inside_the_collection(text_collection):
    from retrieval.server.snapshots import snapshot_folder

    with pytest.raises(retrieval.InvalidParameterError, match="inside the collection"):
        snapshot_folder(text_collection / "snaps", [text_collection])


# --- PostgreSQL ------------------------------------------------------------------------------------


def test_a_postgres_collection_is_snapshotted_with_an_embedded_store(tmp_path, corpus_dir, postgres_url):
    path = tmp_path / "pg.aer"
    retrieval.index_source(corpus_dir, path, db=postgres_url, **FAKE)
    with retrieval.open(path, device="cpu", db=postgres_url) as col:
        col.delete(["space/space-00.txt"])  # the key counter must come along: keys are never reused
        made = col.snapshot(tmp_path / "pg.tar.gz")
        next_key = col.store.next_key()
    assert made.items == 35
    restore(made.file, tmp_path / "back.aer")
    manifest = json.loads((tmp_path / "back.aer" / directory.MANIFEST).read_text())
    assert manifest["store"] == "sqlite" and "store_hint" not in manifest
    assert verify(tmp_path / "back.aer").ok
    assert answers(tmp_path / "back.aer") == answers(path, db=postgres_url)
    with retrieval.open(tmp_path / "back.aer", device="cpu") as back, \
            retrieval.open(path, device="cpu", db=postgres_url) as col:  # fmt: skip
        assert back.store.next_key() == next_key
        assert back.item("space/space-01.txt") == col.item("space/space-01.txt")
        assert back.store.texts([0, 1, 2]) == col.store.texts([0, 1, 2])
        assert np.array_equal(np.sort(np.fromiter(back.store.item_labels(), np.int64)), np.sort(back.index.keys()))


def test_aer_snapshot_starts_without_torch_or_faiss(tmp_path, text_collection):
    from .test_cli_startup import run_cli

    found = run_cli("snapshot", str(text_collection), str(tmp_path / "s.tar"))
    assert found["exit"] == 0 and found["loaded"] == [], found
    assert run_cli("restore", "--help")["loaded"] == []
