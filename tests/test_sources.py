from __future__ import annotations

import os
from pathlib import Path

import pytest

from retrieval.errors import SourceError
from retrieval.sources import Document, Rejected, iter_items, iter_newsgroups
from retrieval.sources.decode import UndecodableError, decode_text

SHARED_20NG = Path(__file__).resolve().parents[2] / "shared" / "data" / "20news-bydate.tar.gz"


def split(items):
    items = list(items)
    return [i for i in items if isinstance(i, Document)], [i for i in items if isinstance(i, Rejected)]


def test_folder_ids_labels_and_order(corpus_dir, docs):
    got, rejected = split(iter_items(corpus_dir))
    assert not rejected
    assert len(got) == len(docs)
    assert got[0].id == "autos/autos-00.txt" and got[0].label == "autos"
    assert [d.id for d in got] == sorted(d.id for d in got)
    assert all(Path(d.source).is_file() for d in got)


def test_folder_top_level_file_has_no_label(tmp_path):
    (tmp_path / "note.txt").write_text("orbit launch")
    (doc,) = iter_items(tmp_path)
    assert doc.id == "note.txt" and doc.label is None


def test_folder_bad_files_are_rejected_by_name_and_others_kept(tmp_path):
    (tmp_path / "good.txt").write_text("a fine document about rockets")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blob.bin").write_bytes(b"\x89PNG\x00\x00\x01junk")
    (tmp_path / "latin.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    got, rejected = split(iter_items(tmp_path))
    reasons = {r.id: r.reason for r in rejected}
    assert reasons == {"empty.txt": "empty file", "blob.bin": "binary file (contains NUL bytes)"}
    texts = {d.id: d.text for d in got}
    assert texts["latin.txt"] == "café crème"
    assert "good.txt" in texts


def test_folder_survives_a_symlink_loop(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "doc.txt").write_text("words here")
    os.symlink(tmp_path / "a", tmp_path / "a" / "loop")
    got, _ = split(iter_items(tmp_path))
    assert [d.id for d in got] == ["a/doc.txt"]


def test_missing_and_unknown_sources_raise_naming_the_path(tmp_path):
    with pytest.raises(SourceError, match="nope"):
        iter_items(tmp_path / "nope")
    odd = tmp_path / "data.csv"
    odd.write_text("x,y")
    with pytest.raises(SourceError, match="data.csv"):
        iter_items(odd)


def test_jsonl_valid_and_bad_lines(tmp_path, corpus_jsonl, docs):
    got, rejected = split(iter_items(corpus_jsonl))
    assert len(got) == len(docs) and not rejected
    assert got[0].id == docs[0][0] and got[0].label == docs[0][1]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "hello world"}\nnot json\n{"id": "a", "text": "again"}\n'
                   '{"text": "no id"}\n{"id": "b", "text": ""}\n\n{"id": 7, "text": "numeric id"}\n')  # fmt: skip
    got, rejected = split(iter_items(bad))
    assert [d.id for d in got] == ["a", "7"]
    assert got[0].label is None
    where = [r.id for r in rejected]
    assert where == ["bad.jsonl:2", "bad.jsonl:3 (id a)", "bad.jsonl:4", "bad.jsonl:5 (id b)"]
    assert "duplicate id" in rejected[1].reason


def test_newsgroups_archive_splits(newsgroups_archive):
    train, _ = split(iter_items(newsgroups_archive))  # the train split by default
    test, _ = split(iter_newsgroups(newsgroups_archive, "test"))
    assert len(train) == 24 and len(test) == 12
    assert train[0].id.startswith("train/") and train[0].label in {"space", "autos", "medicine"}
    assert train[0].text.startswith("From: someone@example.org")  # headers kept
    assert "::20news-bydate-train/" in train[0].source


@pytest.mark.skipif(not SHARED_20NG.exists(), reason="shared 20 Newsgroups archive not present")
def test_real_newsgroups_archive_first_items():
    items = []
    for item in iter_newsgroups(SHARED_20NG, "test"):
        items.append(item)
        if len(items) == 50:
            break
    got, _ = split(items)
    assert len(got) >= 45
    assert all(d.id.startswith("test/") and d.id.split("/")[1] == d.label for d in got)


@pytest.mark.parametrize("data,reason", [(b"", "empty file"), (b" \n\t", "only whitespace"), (b"ab\x00c", "NUL")])
def test_decode_refuses_non_text(data, reason):
    with pytest.raises(UndecodableError, match=reason):
        decode_text(data)


def test_decode_utf8_first_then_latin1():
    assert decode_text("naïve".encode()) == "naïve"
    assert decode_text(b"na\xefve") == "naïve"
