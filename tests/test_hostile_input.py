"""Hostile input, all at once, into a collection that already holds items: every bad item is named with its
reason, the rest is indexed, and nothing indexed before is lost."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import retrieval
from cli.main import main
from retrieval.sources import text_folder

from .conftest import FAKE


def png_bytes(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), 120, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_hostile_text_folder_after_a_good_one(tmp_path, text_collection, monkeypatch):
    path = text_collection
    bad = tmp_path / "bad" / "space"
    bad.mkdir(parents=True)
    (bad / "empty.txt").write_bytes(b"")
    (bad / "junk.bin").write_bytes(os.urandom(4096) + b"\x00")
    (bad / "latin1.txt").write_bytes("caf\xe9 orbit launch rocket".encode("latin-1"))
    cap = text_folder.MAX_TEXT_BYTES
    (bad / "huge.txt").write_bytes(("orbit shuttle launch \u00e9 " * (cap // 20)).encode("utf-8"))  # cap * 1.2
    (bad / "locked.txt").write_text("orbit")
    (bad / "fine.txt").write_text("orbit moon lunar astronaut rocket")
    (bad / "loop").symlink_to(bad, target_is_directory=True)
    real_open = Path.open

    def unreadable(self: Path, *args, **kwargs):  # root reads anything: simulate a file without permission
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", unreadable)
    out = CliRunner().invoke(main, ["add", str(path), str(tmp_path / "bad"), "-q"])
    messages = out.output
    assert out.exit_code == 1, messages
    assert "space/empty.txt: empty file" in messages
    assert "space/junk.bin: binary file" in messages
    assert "space/locked.txt: permission denied" in messages
    assert "note: space/latin1.txt: not valid UTF-8: read as Latin-1" in messages
    assert f"note: space/huge.txt: truncated to the first {cap:,} of its" in messages
    assert "3 added, 0 updated, 3 rejected" in messages  # latin1, huge, fine (the loop is walked once)
    with retrieval.open(path, device="cpu") as col:
        assert len(col) == 36 + 3
        assert col.store.keys_of(["space/space-00.txt", "space/fine.txt"]).keys() == {
            "space/space-00.txt", "space/fine.txt"
        }  # fmt: skip
        for query in ("", "   ", "the and of"):
            with pytest.raises(retrieval.QueryError):
                col.search(query)


def test_hostile_jsonl_and_images(tmp_path, corpus_jsonl, image_dir):
    lines = [
        json.dumps({"id": "a", "text": "orbit rocket launch", "label": "space"}),
        "{not json",
        json.dumps({"id": "a", "text": "duplicate id"}),
        json.dumps({"text": "no id"}),
        json.dumps({"id": "b", "text": ""}),
        json.dumps(["a", "list"]),
    ]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    path = tmp_path / "j.aer"
    retrieval.index_source(corpus_jsonl, path, **FAKE)
    out = CliRunner().invoke(main, ["add", str(path), str(bad), "-q"])
    assert out.exit_code == 1 and "1 added, 0 updated, 5 rejected" in out.output, out.output
    for where in ("bad.jsonl:2", "bad.jsonl:3 (id a): duplicate id", "bad.jsonl:4", "bad.jsonl:5", "bad.jsonl:6"):
        assert where in out.output
    assert retrieval.open(path, device="cpu").search("orbit rocket", k=1)

    images = tmp_path / "imgs" / "grey"
    images.mkdir(parents=True)
    (images / "ok.png").write_bytes(png_bytes(40, 30))
    (images / "ok2.png").write_bytes(png_bytes(64, 64))
    (images / "truncated.png").write_bytes(png_bytes(64, 64)[:60])
    (images / "text.png").write_text("I am not an image")
    (images / "zero.png").write_bytes(b"")
    (images / "tiny.png").write_bytes(png_bytes(1, 1))
    (images / "sliver.png").write_bytes(png_bytes(20000, 2))
    ipath = tmp_path / "i.aer"
    retrieval.index_source(image_dir, ipath, encoder="pca", dim=4)
    before = len(retrieval.open(ipath, device="cpu"))
    out = CliRunner().invoke(main, ["add", str(ipath), str(tmp_path / "imgs"), "-q"])
    assert out.exit_code == 1 and "2 added" in out.output and "5 rejected" in out.output, out.output
    for name in ("truncated.png", "text.png", "zero.png", "tiny.png", "sliver.png"):
        assert f"grey/{name}:" in out.output
    assert len(retrieval.open(ipath, device="cpu")) == before + 2
