"""Untrusted inputs to the library (issue 30): lists of ids, bad items among good ones, symlinks out of a source
folder, special files, ids (NFC, control characters, lone surrogates), a BOM, a full disk while writing the index."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import faiss
import numpy as np
import pytest
from click.testing import CliRunner

import retrieval
from cli.main import main
from retrieval.errors import InvalidParameterError, StorageError, UnavailableScoreError
from retrieval.ids import id_list, id_problem, normal_id, printable
from retrieval.sources import Document, ImageItem, Rejected, iter_items

from .conftest import FAKE, make_images, write_corpus

NFD, NFC = "cafe\u0301", "caf\u00e9"


def split(items) -> tuple[dict[str, Document], dict[str, str]]:
    items = list(items)
    return ({i.id: i for i in items if not isinstance(i, Rejected)},
            {r.id: r.reason for r in items if isinstance(r, Rejected)})  # fmt: skip


# --- item 4: a string where a list of ids is meant -----------------------------------------------


def test_delete_refuses_a_string_of_ids(text_collection):
    with retrieval.open(text_collection, device="cpu") as col:
        col.add([Document(id=i, text="orbit rocket launch") for i in ("4", "2", "42")])
        with pytest.raises(InvalidParameterError, match="'item_ids' parameter must be a list of ids"):
            col.delete("42")
        assert col.store.keys_of(["4", "2", "42"]).keys() == {"4", "2", "42"}  # nothing deleted
        assert col.delete(["42"]) == ["42"]
        assert col.store.keys_of(["4", "2", "42"]).keys() == {"4", "2"}


def test_pixels_refuses_a_string_of_ids(tmp_path, image_dir):
    retrieval.index_source(image_dir, tmp_path / "i.aer", encoder="fake-image")
    with retrieval.open(tmp_path / "i.aer", device="cpu") as col:
        with pytest.raises(InvalidParameterError, match="list of ids"):
            col.pixels("red/000.png")


def test_id_list():
    assert id_list(("a", "b")) == ["a", "b"]
    for bad in ("ab", b"ab", ["a", 3]):
        with pytest.raises(InvalidParameterError, match="'item_ids'"):
            id_list(bad)


# --- item 5: one bad item does not abort the batch --------------------------------------------------


def test_bad_items_are_rejected_and_the_rest_go_in(text_collection):
    bad = [Document(id="no-text", text=None), Document(id="a\udcff", text="orbit"), Document(id="tab\there", text="x"),
           Document(id="list-label", text="orbit", label=["a", "b"]), Document(id=7, text="orbit"),
           Document(id="surrogate-text", text="orbit \udcff")]  # fmt: skip
    good = [Document(id="good-1", text="orbit rocket"), Document(id="good-2", text="engine car")]
    with retrieval.open(text_collection, device="cpu") as col:
        report = col.add([bad[0], good[0], *bad[1:], good[1]])
        assert (report.added, report.updated) == (2, 0)
        reasons = {r.id: r.reason for r in report.rejected}
        assert reasons.keys() == {"no-text", "a\\udcff", "tab\\there", "list-label", "7", "surrogate-text"}
        assert "text must be a string" in reasons["no-text"] and "control character" in reasons["tab\\there"]
        assert "lone surrogate" in reasons["a\\udcff"] and "label" in reasons["list-label"]
        assert len(col) == 38 and col.store.keys_of(["good-1", "good-2"]).keys() == {"good-1", "good-2"}


def test_bad_images_are_rejected_and_the_rest_go_in(tmp_path, image_dir):
    retrieval.index_source(image_dir, tmp_path / "i.aer", encoder="fake-image")
    (_, pixels), *_ = make_images(per_class=1)
    with retrieval.open(tmp_path / "i.aer", device="cpu") as col:
        before = len(col)
        report = col.add([ImageItem(id="none", pixels=None), ImageItem(id="ok", pixels=pixels),
                          ImageItem(id="small", pixels=pixels[:8])])  # fmt: skip
        assert report.added == 1 and {r.id for r in report.rejected} == {"none", "small"}
        assert len(col) == before + 1


def test_index_source_of_items_rejects_the_bad_ones(tmp_path, docs):
    items = [Document(id=i, text=t, label=lab) for i, lab, t in docs] + [Document(id="bad", text=None)]
    report = retrieval.index_source(items, tmp_path / "c.aer", **FAKE)
    assert report.added == len(docs) and [r.id for r in report.rejected] == ["bad"]


def test_jsonl_bad_lines_are_rejected_and_the_rest_read(tmp_path):
    lines = [{"id": "first", "text": "orbit"}, {"id": "a\udcff", "text": "orbit"}, {"id": "nl\nid", "text": "orbit"},
             {"id": "lab", "text": "orbit", "label": ["a", "b"]}, {"id": "ok", "text": "moon", "label": 3},
             {"id": NFD, "text": "moon"}, {"id": NFC, "text": "again"}]  # fmt: skip
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(json.dumps(line) for line in lines).encode())  # a BOM first
    got, rejected = split(iter_items(path))
    assert got.keys() == {"first", "ok", NFC} and got["ok"].label == "3"
    reasons = dict((k.split(" ")[0], v) for k, v in rejected.items())
    assert "lone surrogate" in reasons["x.jsonl:2"] and "control character" in reasons["x.jsonl:3"]
    assert "'label' must be a string, not list" in reasons["x.jsonl:4"]
    assert "duplicate id (first on line 6)" in reasons["x.jsonl:7"]  # NFC and NFD spell one id


def test_a_file_name_that_is_not_utf8_is_rejected(tmp_path, docs):
    src = write_corpus(tmp_path / "src", docs[:4])
    (src / os.fsdecode(b"bad\xff.txt")).write_text("orbit rocket")
    (src / "new\nline.txt").write_text("orbit rocket")
    report = retrieval.index_source(src, tmp_path / "c.aer", **FAKE)
    assert report.added == 4
    reasons = {r.id: r.reason for r in report.rejected}
    assert "not valid UTF-8" in reasons["bad\\xff.txt"] and "control character" in reasons["new\\nline.txt"]


# --- items 8 and 9: symlinks out of the folder, special files -----------------------------------------


def test_symlinks_out_of_the_folder_are_not_followed_unless_asked(tmp_path, docs):
    src = write_corpus(tmp_path / "src", docs[:4])
    (tmp_path / "secret.txt").write_text("the secret launch codes")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "more.txt").write_text("more secret orbit")
    (src / "space" / "shadow.txt").symlink_to(tmp_path / "secret.txt")
    (src / "space" / "dir").symlink_to(tmp_path / "outside", target_is_directory=True)
    (src / "space" / "inside.txt").symlink_to(src / "space" / "space-00.txt")  # inside: followed
    got, rejected = split(iter_items(src))
    assert "space/inside.txt" in got and "space/shadow.txt" not in got and "space/dir/more.txt" not in got
    assert "symlink to outside the source folder" in rejected["space/shadow.txt"]
    assert "symlink to outside the source folder" in rejected["space/dir"]
    out = CliRunner().invoke(main, ["index", str(src), "-c", str(tmp_path / "a.aer"), "--encoder", "fake-text",
                                    "--dim", "32", "-q"])  # fmt: skip
    assert out.exit_code == 1 and "rejected space/shadow.txt: a symlink to outside" in out.output, out.output
    out = CliRunner().invoke(main, ["add", str(tmp_path / "a.aer"), str(src), "-q", "--follow-links"])
    assert out.exit_code == 0 and "2 added" in out.output, out.output
    with retrieval.open(tmp_path / "a.aer", device="cpu") as col:
        assert col.item("space/shadow.txt").snippet == "the secret launch codes"


def test_special_files_are_skipped_unopened(tmp_path, docs):
    src = write_corpus(tmp_path / "src", docs[:4])
    os.mkfifo(src / "space" / "pipe.txt")  # opening it would wait for a writer forever
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(r=retrieval.index_source(src, tmp_path / "c.aer", **FAKE)))
    worker.daemon = True
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "index_source hangs on a FIFO"
    report = result["r"]
    assert report.added == 4
    assert [str(r) for r in report.rejected] == ["space/pipe.txt: not a regular file (a FIFO): not read"]


# --- item 10: what an id may be ------------------------------------------------------------------


def test_id_rules():
    assert normal_id(NFD) == NFC and id_problem(NFC) is None and id_problem("a/b c") is None
    for bad, why in (("", "empty"), ("a\nb", "control"), ("a\x00", "control"), ("a\udcff", "surrogate"),
                     ("x" * 1001, "long"), (3, "string")):  # fmt: skip
        assert why in id_problem(bad)
    assert printable("a\nb\udcff") == "a\\nb\\udcff"


def test_nfc_and_nfd_spellings_are_one_item(text_collection):
    with retrieval.open(text_collection, device="cpu") as col:
        assert col.add([Document(id=NFD, text="orbit")]).added == 1
        assert col.add([Document(id=NFC, text="rocket")]).updated == 1
        assert col.item(NFD).id == NFC and col.item(NFC).snippet == "rocket"
        assert col.delete([NFD]) == [NFD] and len(col) == 36


# --- item 2: a full disk while writing the index ---------------------------------------------------


def test_a_full_disk_writing_the_index_is_a_storage_error_and_leaves_no_temp_file(text_collection, monkeypatch):
    def full(index, path):
        Path(path).write_bytes(b"partial")
        raise RuntimeError(f"Error in void faiss::write_index at index_write.cpp:1: Error: 'ret == (1)' failed: "
                           f"write error in {path}: 28 (No space left on device)")  # fmt: skip

    monkeypatch.setattr(faiss, "write_index", full)
    with retrieval.open(text_collection, device="cpu") as col:
        with pytest.raises(StorageError, match="cannot write the index \\(No space left on device\\)") as caught:
            col.add([Document(id="new", text="orbit rocket")])
    assert caught.value.disk_full
    assert not [p.name for p in text_collection.iterdir() if ".tmp" in p.name or p.name.endswith(".new")]
    monkeypatch.undo()
    with retrieval.open(text_collection, device="cpu") as col:
        assert len(col) == 36


# --- item 11: scores a collection cannot give -------------------------------------------------------


def test_unavailable_scores_say_why(text_collection):
    with retrieval.open(text_collection, device="cpu") as col:
        with pytest.raises(UnavailableScoreError, match="no orientation head"):
            col.outliers(3, score="orientation")


def test_images_without_reconstruction(tmp_path, image_dir):
    retrieval.index_source(image_dir, tmp_path / "i.aer", encoder="fake-image")
    with retrieval.open(tmp_path / "i.aer", device="cpu") as col:
        for score in ("reconstruction", "combined", "orientation"):
            with pytest.raises(UnavailableScoreError):
                col.outliers(3, score=score)
        assert np.isfinite([h.score for h in col.outliers(3, score="knn")]).all()
