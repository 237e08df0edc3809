from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli.main import main

from .conftest import FAST_AE_ARGS

FAST = ["--encoder", "fake-text", "--dim", "32", "--device", "cpu", "-q"]


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def built(runner, tmp_path, corpus_dir):
    out = runner.invoke(main, ["index", str(corpus_dir), "--collection", str(tmp_path / "c.aer"), *FAST])
    assert out.exit_code == 0, out.output
    assert "created" in out.output and "36 added" in out.output
    return tmp_path / "c.aer"


def test_query_text_and_json(runner, built):
    out = runner.invoke(main, ["query", str(built), "doctor patient treatment", "-k", "3"])
    assert out.exit_code == 0, out.output
    assert out.output.count("medicine") >= 2
    out = runner.invoke(main, ["query", str(built), "doctor patient treatment", "-k", "3", "--json"])
    hits = json.loads(out.output)
    assert len(hits) == 3 and set(hits[0]) == {"id", "score", "label", "source", "snippet", "highlights"}


def test_query_like_an_item(runner, built):
    out = runner.invoke(main, ["query", str(built), "--like", "space/space-01.txt", "-k", "2", "--json"])
    assert out.exit_code == 0, out.output
    assert "space/space-01.txt" not in {h["id"] for h in json.loads(out.output)}


def test_info_json(runner, built):
    out = runner.invoke(main, ["info", str(built), "--json"])
    info = json.loads(out.output)
    assert {"items", "encoder", "dim", "bytes_per_item", "index"} <= set(info)
    assert info["items"] == 36


def test_errors_are_messages_not_tracebacks(runner, tmp_path, built):
    out = runner.invoke(main, ["query", str(tmp_path / "nothing.aer"), "orbit"])
    assert out.exit_code == 1 and "does not exist" in out.output and "Traceback" not in out.output
    out = runner.invoke(main, ["query", str(built), "the of and"])
    assert out.exit_code == 1 and "vocabulary" in out.output
    out = runner.invoke(main, ["index", str(tmp_path / "missing-src"), "--collection", str(tmp_path / "x.aer")])
    assert out.exit_code == 1 and "missing-src" in out.output


def test_bad_items_are_named_the_rest_indexed_and_exit_nonzero(runner, tmp_path, corpus_dir):
    (corpus_dir / "space" / "empty.txt").write_bytes(b"")
    (corpus_dir / "autos" / "binary.dat").write_bytes(b"\x00\x01\x02\x03junk")
    (corpus_dir / "medicine" / "latin1.txt").write_bytes("le m\xe9decin soigne le patient malade".encode("latin-1"))
    out = runner.invoke(main, ["index", str(corpus_dir), "--collection", str(tmp_path / "c.aer"), *FAST])
    assert out.exit_code == 1
    assert "rejected space/empty.txt: empty file" in out.output
    assert "rejected autos/binary.dat: binary file" in out.output
    assert "37 added" in out.output and "2 rejected" in out.output  # latin1.txt read through the fallback
    info = json.loads(runner.invoke(main, ["info", str(tmp_path / "c.aer"), "--json"]).output)
    assert info["items"] == 37


def test_index_the_newsgroups_archive(runner, tmp_path, newsgroups_archive):
    out = runner.invoke(main, ["index", str(newsgroups_archive), "--collection", str(tmp_path / "n.aer"),
                               "--encoder", "lsa", "--dim", "4", "-q"])  # fmt: skip
    assert out.exit_code == 0, out.output
    out = runner.invoke(main, ["query", str(tmp_path / "n.aer"), "engine brake", "-k", "1", "--json"])
    (hit,) = json.loads(out.output)
    assert hit["id"].startswith("train/") and hit["label"] == "autos"


def test_index_refuses_a_foreign_directory_before_training(runner, tmp_path, corpus_dir):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious.txt").write_text("keep me")
    out = runner.invoke(main, ["index", str(corpus_dir), "--collection", str(tmp_path / "mine"), *FAST])
    assert out.exit_code == 1 and "not an empty directory" in out.output
    assert (tmp_path / "mine" / "precious.txt").read_text() == "keep me"


def test_encoder_options_by_key_value(runner, tmp_path, corpus_dir):
    out = runner.invoke(main, ["index", str(corpus_dir), "--collection", str(tmp_path / "o.aer"), *FAST_AE_ARGS,
                               "-o", "input_dropout=0.1", "-o", "code-activation=none",
                               "-o", "vocab_size=40"])  # fmt: skip
    assert out.exit_code == 0, out.output
    config = json.loads((tmp_path / "o.aer" / "encoder" / "config.json").read_text())["config"]
    assert config["input_dropout"] == 0.1 and config["code_activation"] == "none" and config["hidden"] == [64, 32]
    assert config["teacher"] == "none" and config["epochs"] == 40  # FAST_AE_ARGS: no teacher to load
    assert config["vocab_size"] == 40  # an option that has its own flag may come by -o too (it crashed once)
    out = runner.invoke(main, ["index", str(corpus_dir), "--collection", str(tmp_path / "q.aer"), *FAST_AE_ARGS,
                               "--vocab-size", "40", "-o", "vocab_size=50"])  # fmt: skip
    assert out.exit_code != 0 and "vocab_size given both" in out.output
    out = runner.invoke(main, ["index", str(corpus_dir), "--collection", str(tmp_path / "p.aer"), "-o", "dropuot=0.1"])
    assert out.exit_code == 1 and "no option 'dropuot'" in out.output
    assert not (tmp_path / "p.aer").exists()


def test_index_spec_option_half_precision(runner, tmp_path, corpus_dir):
    out = runner.invoke(main, ["index", str(corpus_dir), "--collection", str(tmp_path / "h.aer"), "--encoder", "lsa",
                               "--dim", "8", "--index", "IDMap2,SQfp16", "-q"])  # fmt: skip
    assert out.exit_code == 0, out.output
    info = json.loads(runner.invoke(main, ["info", str(tmp_path / "h.aer"), "--json"]).output)
    assert "SQfp16" in info["index"] and info["bytes_per_item"] < 8 * 4 + 8
    hits = json.loads(runner.invoke(main, ["query", str(tmp_path / "h.aer"), "brake clutch engine", "--json"]).output)
    assert hits[0]["label"] == "autos"
    out = runner.invoke(main, ["index", str(corpus_dir), "--collection", str(tmp_path / "x.aer"), "--encoder", "lsa",
                               "--index", "BHash16"])  # fmt: skip
    assert out.exit_code == 1 and "BHash16" in out.output and "reading" not in out.output  # refused before reading
    assert "Traceback" not in out.output
    out = runner.invoke(main, ["index", str(corpus_dir), "--collection", str(tmp_path / "y.aer"), "--encoder", "lsa",
                               "--dim", "500", "-q"])  # fmt: skip
    assert out.exit_code == 1 and "vocabulary size" in out.output
