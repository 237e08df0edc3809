"""Streaming ingest: the encoder fits on a sample, items are read lazily and committed chunk by chunk."""

from __future__ import annotations

import itertools

import pytest

import retrieval.collection.ingest as ingest
from retrieval import Collection, Document, create_encoder, index_source
from retrieval import open as open_collection
from retrieval.errors import SourceError


def test_the_encoder_is_fitted_on_a_sample_of_the_stated_size(tmp_path, corpus_jsonl, monkeypatch):
    fitted_on = []
    real_create = ingest.create_encoder

    def spying_create(*args, **kwargs):
        encoder = real_create(*args, **kwargs)
        real_fit = encoder.fit
        encoder.fit = lambda items: (fitted_on.append(len(items)), real_fit(items))[1]
        return encoder

    monkeypatch.setattr(ingest, "create_encoder", spying_create)
    report = index_source(corpus_jsonl, tmp_path / "c", encoder="lsa", dim=4, fit_sample=10)
    assert fitted_on == [10]
    assert report.added == 36  # every item indexed, not just the sample
    with open_collection(tmp_path / "c") as col:
        assert len(col) == 36 and len(col.index) == 36


def test_the_sample_is_seeded(tmp_path, corpus_jsonl):
    first = ingest.scan(corpus_jsonl, 5, seed=3)
    again = ingest.scan(corpus_jsonl, 5, seed=3)
    other = ingest.scan(corpus_jsonl, 5, seed=4)
    assert [d.id for d in first.sample] == [d.id for d in again.sample]
    assert [d.id for d in first.sample] != [d.id for d in other.sample]
    assert first.count == 36
    whole = ingest.scan(corpus_jsonl, 100, seed=3)
    assert [d.id for d in whole.sample] == [f"{d.id}" for d in ingest._readable(corpus_jsonl)]  # in order


def test_add_reads_a_stream_lazily_and_keeps_each_committed_chunk(tmp_path, docs):
    encoder = create_encoder("lsa", dim=4).fit([t for _, _, t in docs])
    col = Collection.create(tmp_path / "c", encoder)
    pulled = []

    def stream():
        for i in itertools.count():
            pulled.append(i)
            if i == 25:
                raise OSError("the disk went away")
            item_id, label, text = docs[i]
            yield Document(id=item_id, text=text, label=label)

    with pytest.raises(OSError, match="disk went away"):
        col.add(stream(), commit_every=10)
    assert len(pulled) == 26  # read as needed, not all at once
    col.close()
    with open_collection(tmp_path / "c") as again:
        assert len(again) == 20 and len(again.index) == 20  # the two committed chunks survive


def test_a_source_with_nothing_readable_is_refused(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(SourceError):
        index_source(empty, tmp_path / "c", encoder="lsa")
    assert not (tmp_path / "c").exists()
