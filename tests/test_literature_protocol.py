"""The text-hashing literature's 20 Newsgroups protocol (retrieval.eval.literature) on a tiny archive made here."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import main
from retrieval.bench import literature as runner
from retrieval.errors import SourceError
from retrieval.eval.literature import (
    Split,
    halve,
    hamming_distances,
    load_literature,
    ranked_precision,
    read_archive,
    strip,
)

HEADER = "From: someone@example.org\nSubject: apple banana cherry delta echo foxtrot\n\n"
A_WORDS = "apple banana cherry apple banana cherry"  # six vocabulary words
B_WORDS = "delta echo foxtrot delta echo foxtrot"


def _add(tar: tarfile.TarFile, split: str, group: str, name: str, body: str) -> None:
    data = (HEADER + body + "\ncommon\n").encode("latin-1")  # 'common': in every post, so in no vocabulary
    info = tarfile.TarInfo(f"20news-bydate-{split}/{group}/{name}")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_archive(path: Path, train_per_group: int = 10, test_per_group: int = 5) -> Path:
    """Two newsgroups of regular posts (six vocabulary words each), and in train the edge cases:
    exactly 5 vocabulary words (dropped), 500 (kept), 501 (dropped), words only in the header and quotes (dropped),
    and rare words outside the vocabulary (dropped: three vocabulary words)."""
    with tarfile.open(path, "w:gz") as tar:
        for split, n in (("train", train_per_group), ("test", test_per_group)):
            for i in range(n):
                _add(tar, split, "comp.a", f"{100 + i}", A_WORDS)
                _add(tar, split, "rec.b", f"{100 + i}", B_WORDS)
        _add(tar, "train", "comp.a", "900", "apple banana cherry apple banana")
        _add(tar, "train", "comp.a", "901", "apple " * 500)
        _add(tar, "train", "comp.a", "902", "apple " * 501)
        _add(tar, "train", "comp.a", "903", "> apple banana cherry apple banana cherry\nbob writes: delta echo")
        _add(tar, "train", "rec.b", "904", "delta echo foxtrot zulu zulu zulu yankee yankee")
    return path


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return write_archive(tmp_path / "20news-bydate.tar.gz")


def test_strip_removes_headers_quotes_and_signature_as_scikit_learn_does() -> None:
    text = ("From: a@b.org\nSubject: hello\n\nBody line\n> quoted line\nIn article <1@x> bob writes:\n"
            "more body\n\n-- \nsignature")  # fmt: skip
    assert strip(text) == "Body line\nmore body\n"  # the blank line before the signature stays
    assert strip("Subject: only headers\n") == ""


def test_archive_read_in_scikit_learn_order_as_latin_1(tmp_path: Path) -> None:
    path = tmp_path / "a.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for split, group, name, body in (("train", "b", "10", "x"), ("train", "a", "9", "caf\xe9"),
                                         ("train", "a", "10", "y"), ("test", "a", "1", "z")):  # fmt: skip
            _add(tar, split, group, name, body)
    posts = read_archive(path)
    assert [p[0] for p in posts["train"]] == ["train/a/10", "train/a/9", "train/b/10"]  # names sort as strings
    assert "\ncaf\xe9\n" in posts["train"][1][2]
    with pytest.raises(SourceError, match="not the 20 Newsgroups"):
        empty = tmp_path / "empty.tar.gz"
        tarfile.open(empty, "w:gz").close()
        read_archive(empty)


def test_vocabulary_filter_drops_short_and_long_posts(archive: Path) -> None:
    data = load_literature(archive)
    # 'common' is in every post (max_df 0.8), 'zulu' and 'yankee' in one (min_df 3): neither is a vocabulary word
    assert data.vocabulary == ["apple", "banana", "cherry", "delta", "echo", "foxtrot"]
    assert data.counts["train"] == {"read": 25, "at_most_5_words": 3, "over_500_words": 1, "kept": 21}
    kept = set(data.train.ids)
    assert "train/comp.a/901" in kept  # exactly 500 words
    assert not kept & {"train/comp.a/900", "train/comp.a/902", "train/comp.a/903", "train/rec.b/904"}
    assert data.counts["test"]["kept"] == 10
    assert all("From:" not in t for t in data.train.texts)


def test_test_posts_halved_by_a_seeded_shuffle(archive: Path) -> None:
    data = load_literature(archive, seed=3)
    everything = load_literature(archive, seed=3).all_test
    assert len(data.validation) == 5 and len(data.test) == 5
    assert sorted(data.validation.ids + data.test.ids) == sorted(everything.ids)
    kept_test = [i for i in sorted(everything.ids, key=lambda i: (i.split("/")[1], i.split("/")[2]))]
    order = np.random.default_rng(3).permutation(len(kept_test))
    assert data.validation.ids == [kept_test[i] for i in order[:5]]
    assert load_literature(archive, seed=3).test.ids == data.test.ids
    odd = Split(list("abcde"), list("vwxyz"), list("12345"))
    first, second = halve(odd, seed=0)
    assert (len(first), len(second)) == (2, 3) and sorted(first.ids + second.ids) == list("12345")


def test_ranked_precision_hand_computed() -> None:
    labels = ["a", "b", "b", "b", "a"]
    distances = np.array([[1, 0, 1, 1, 1], [0, 0, 2, 2, 1]])
    # query 1 (a): item 1 (b) is nearest; four items tie at distance 1 for the second place, two of them a:
    # by database order item 0 (a) takes it, P@2 = 1/2; at random it is a with probability 2/4, P@2 = 1/4.
    # query 2 (b): items 0 (a) and 1 (b) at distance 0, no tie at the cut: P@2 = 1/2 either way.
    got = ranked_precision(distances, ["a", "b"], labels, k=2)
    assert got == {"ties_by_order": pytest.approx(0.5), "ties_expected": pytest.approx((0.25 + 0.5) / 2)}
    with pytest.raises(ValueError, match="database"):
        ranked_precision(distances, ["a", "b"], labels, k=6)


def test_hamming_distances_count_differing_bits() -> None:
    a = np.array([[1, 0, 1, 1], [0, 0, 0, 0]], dtype=bool)
    b = np.array([[0, 0, 1, 0], [1, 1, 1, 1], [1, 0, 1, 1]], dtype=bool)
    assert hamming_distances(a, b).tolist() == [[2, 1, 0], [1, 4, 3]]


def test_lsa_rows_separate_the_two_groups(tmp_path: Path) -> None:
    data = load_literature(write_archive(tmp_path / "big.tar.gz", train_per_group=60))
    scores = runner.lsa_scores(data, widths=(2,))
    # 120 regular train posts, 60 per group, plus the kept 500-word one: the top 100 of a perfect ranking holds
    # at most 60 (or 61) posts of the query's group
    as_bits, as_floats = scores[2]
    assert 0.6 <= as_floats["ties_expected"] <= 0.61
    assert 0.6 <= as_bits["ties_expected"] <= 0.61


def test_cli_routes_the_literature_protocol(monkeypatch: pytest.MonkeyPatch, archive: Path, tmp_path: Path) -> None:
    called = {}
    monkeypatch.setattr(runner, "run_literature", lambda data, out, **kw: called.update(data=data, out=out, **kw))
    args = ["bench", "text", "--protocol", "literature", "--data", str(archive), "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(main, [*args, "--text-option", "teacher_docs=4000", "--text-option", "epochs=40"])
    assert result.exit_code == 0, result.output
    assert called["tries"] == [{"teacher_docs": 4000, "epochs": 40}] and called["out"] == tmp_path / "o"
    assert "--protocol literature" in called["command"]
    wrong = CliRunner().invoke(main, ["bench", "image", "--protocol", "literature", "--data", str(archive)])
    assert wrong.exit_code == 2 and "text suite" in wrong.output
