"""``aer bench general``: the default ``aer index`` path on every corpus of a data folder, against the baselines."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import main
from retrieval.errors import InvalidParameterError
from retrieval.eval.corpus import select, stratified

from .conftest import make_images, make_wide_docs, write_cifar_archive, write_newsgroups_archive

TEXT_BASELINES = ["lsa-32", "lsa-50", "lsa-50-10k", "tfidf", "tfidf-10k", "bm25", "minilm"]
IMAGE_BASELINES = ["pixels", "pca-64"]
PHYSICAL_MB = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.fixture
def data_dir(tmp_path):
    """The three files of ../shared/data, tiny: 20 Newsgroups (60 train, 30 test), a CIFAR-10 archive
    (90 train, 30 test) and a fortunes-like JSONL with a grab-bag and a small category."""
    write_newsgroups_archive(tmp_path / "20news-bydate.tar.gz", make_wide_docs(30), train_per_topic=20)
    images = make_images(per_class=40, seed=2)
    train = [p for i, p in enumerate(images) if i % 40 < 30]
    test = [p for i, p in enumerate(images) if i % 40 >= 30]
    write_cifar_archive(tmp_path / "cifar-10-binary.tar.gz", train, test, ["red", "green", "stripes"])
    fortunes = make_wide_docs(50, seed=1)
    lines = [{"id": f"{lab}/{i}", "text": text, "label": lab} for i, (_, lab, text) in enumerate(fortunes)]
    grab_bag = make_wide_docs(17, seed=2)  # a mix of every topic, under one label
    lines += [{"id": f"cookie/{i}", "text": text, "label": "cookie"} for i, (_, _, text) in enumerate(grab_bag[:50])]
    lines += [{"id": f"tiny/{i}", "text": text, "label": "tiny"} for i, (_, _, text) in enumerate(grab_bag[:5])]
    (tmp_path / "fortunes.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return tmp_path


@pytest.mark.slow
def test_general_quick_runs_the_default_path_on_every_corpus(tmp_path, data_dir):
    out = tmp_path / "general"
    result = CliRunner().invoke(main, ["bench", "general", "--data-dir", str(data_dir), "--out", str(out), "--quick"])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["suite"] == "general" and results["quick"] and results["ks"] == [10, 100]
    rows = {r["corpus"]: r for r in results["corpora"]}
    assert list(rows) == ["20news-full", "fortunes", "cifar-full", "digits"]  # quick sizes above the tiny splits
    expect = {"20news-full": (60, 30), "fortunes": (150, 100), "cifar-full": (90, 30), "digits": (600, 100)}
    assert {name: (r["database_items"], r["queries"]) for name, r in rows.items()} == expect
    assert rows["fortunes"]["excluded_grab_bags"] == {"cookie": 50}
    assert rows["fortunes"]["excluded_under_50_items"] == {"tiny": 5}
    assert rows["digits"]["protocol"] == "leave-one-out" and rows["cifar-full"]["protocol"] == "test-vs-train"
    for r in rows.values():
        expected = TEXT_BASELINES if r["modality"] == "text" else IMAGE_BASELINES
        assert list(r["baselines"]) == expected
        for score in [r["default"], *r["baselines"].values()]:
            assert 0.0 <= score["p@10"] <= 1.0 and 0.0 <= score["p@100"] <= 1.0, (r["corpus"], score)
        assert {"fit_s", "index_s", "build_s", "peak_rss_mb", "encoder", "code"} <= set(r["default"])
        # the build process's peak in MB: above what a Python that imported torch holds, below this machine's RAM
        assert 50 < r["default"]["peak_rss_mb"] < PHYSICAL_MB and r["ratio"]["p@10"] > 0
        references = ["lsa-32", "lsa-50", "lsa-50-10k"] if r["modality"] == "text" else expected
        assert r["ratio"]["reference"]["p@10"] in references
    assert rows["digits"]["default"]["encoder"].startswith("conv-ae")
    assert rows["fortunes"]["baselines"]["tfidf"]["p@10"] > 0.9  # three topics
    table = (out / "README.md").read_text()
    assert "### Text" in table and "### Images" in table and "| fortunes | leave-one-out | 150 | 100 |" in table
    assert f"- Command: `aer bench general --data-dir {data_dir} --out {out} --quick`" in table
    assert "cookie (50)" in table and "tiny (5)" in table and "default ÷ best LSA" in table
    # a second run reuses the built collections and their recorded build figures
    again = CliRunner().invoke(main, ["bench", "general", "--data-dir", str(data_dir), "--out", str(out), "--quick",
                                      "--corpora", "digits"])  # fmt: skip
    assert again.exit_code == 0 and "reusing" in again.output, again.output
    rerun = json.loads((out / "results.json").read_text())["corpora"]
    assert [r["corpus"] for r in rerun] == ["digits"]
    assert rerun[0]["default"]["fit_s"] == rows["digits"]["default"]["fit_s"]


@pytest.mark.slow
def test_general_with_another_subject(tmp_path, data_dir):
    from retrieval.bench import run_general

    subject = {"text": {"encoder": "lsa", "dim": 8}, "image": {"encoder": "pca", "dim": 8}}
    results = run_general(data_dir, tmp_path / "g", corpora="cifar", quick=True, subject=subject, log=lambda _: None)
    assert results["default_options"] == subject
    assert [r["default"]["encoder"] for r in results["corpora"]] == ["pca(dim=8)"]


@pytest.mark.slow
def test_general_takes_encoder_options_for_the_collections_under_test(tmp_path, data_dir):
    out = tmp_path / "g"
    args = ["bench", "general", "--data-dir", str(data_dir), "--out", str(out), "--corpora", "cifar", "--quick"]
    result = CliRunner().invoke(main, [*args, "--image-option", "orientation=1", "--image-option", "dim=8"])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    image = results["default_options"]["image"]
    assert image["orientation"] == 1 and image["dim"] == 8 and "epochs" in image  # the quick budget is kept
    assert not results["default_options"]["text"].get("dim")
    assert results["corpora"][0]["default"]["encoder"].endswith("dim=8)")
    wrong = CliRunner().invoke(main, ["bench", "anomaly", "--data", str(data_dir), "--text-option", "dim=8"])
    assert wrong.exit_code == 2 and "general suite" in wrong.output


def test_general_errors_are_clear(tmp_path, data_dir):
    run = CliRunner().invoke
    where = ["--data-dir", str(data_dir), "--out", str(tmp_path / "o")]
    out = run(main, ["bench", "general", *where, "--corpora", "mnist"])
    assert out.exit_code == 1 and "'corpora'" in out.output and "mnist" in out.output
    (data_dir / "fortunes.jsonl").unlink()
    out = run(main, ["bench", "general", *where])
    assert out.exit_code == 1 and "no fortunes.jsonl" in out.output and "Traceback" not in out.output
    out = run(main, ["bench", "general", "--data", str(data_dir), "--out", str(tmp_path / "o")])
    assert out.exit_code == 2 and "--data-dir" in out.output
    out = run(main, ["bench", "text", "--out", str(tmp_path / "o")])
    assert out.exit_code == 2 and "--data FILE" in out.output


def test_corpus_selection_and_stratified_subsets():
    assert select(None) == ["20news-1000", "20news-3000", "20news-full", "fortunes", "cifar-1000", "cifar-3000",
                            "cifar-10000", "cifar-50000", "digits"]  # fmt: skip
    assert select("digits,20news-3000,cifar") == ["20news-3000", "cifar-1000", "cifar-3000", "cifar-10000",
                                                  "cifar-50000", "digits"]  # fmt: skip
    assert select("20news", quick=True) == ["20news-100", "20news-300"]
    with pytest.raises(InvalidParameterError):
        select("20news-2000")
    labels = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    pick = stratified(labels, 20, seed=3)
    assert len(pick) == 20 and (np.diff(pick) > 0).all()
    assert [sum(labels[i] == c for i in pick) for c in "abc"] == [12, 6, 2]
    assert (stratified(labels, 20, seed=3) == pick).all() and not (stratified(labels, 20, seed=4) == pick).all()
    assert len(stratified(labels, 7)) == 7 and len(stratified(labels, 500)) == 100


@pytest.mark.slow
def test_general_scores_text_as_searched_and_against_minilm(tmp_path, data_dir):
    """Text corpora: the default in its default search mode and by its codes alone, a 64-bit build, MiniLM on the
    same queries (its embeddings cached for the next run) and each build's P@k over MiniLM's."""
    from retrieval.bench import run_general
    from retrieval.bench.general import BINARY_BITS, EMBEDDINGS, ranked_keys
    from retrieval.collection import Collection

    out = tmp_path / "g"
    results = run_general(data_dir, out, corpora="20news,fortunes", quick=True, log=lambda _: None)
    rows = {r["corpus"]: r for r in results["corpora"]}
    assert list(rows) == ["20news-full", "fortunes"] and results["teacher_bars"] == {"default": 0.95, "binary": 0.9}
    for name, r in rows.items():
        default, binary, minilm = r["default"], r["binary"], r["baselines"]["minilm"]
        assert list(r["baselines"]) == TEXT_BASELINES
        assert default["mode"] == binary["mode"] == "hybrid" and binary["code"] == f"{BINARY_BITS} bits"
        assert default["code"].endswith("floats")
        for score in (default, default["codes"], binary, binary["codes"], minilm):
            assert 0.0 < score["p@10"] <= 1.0 and 0.0 < score["p@100"] <= 1.0, (name, score)
        assert minilm["embeddings_cached"] is False and (out / name / EMBEDDINGS).exists()
        ratio = r["teacher_ratio"]
        assert set(ratio) == {"default", "default codes", "binary", "binary codes"}
        assert ratio["default"]["p@10"] == pytest.approx(default["p@10"] / minilm["p@10"])
        assert ratio["binary codes"]["p@100"] == pytest.approx(binary["codes"]["p@100"] / minilm["p@100"])
        assert (out / name / f"default-{BINARY_BITS}bit.aer" / "bench-build.json").exists()
    assert rows["fortunes"]["baselines"]["minilm"]["p@10"] > 0.5  # three topics apart
    page = (out / "README.md").read_text()
    assert "### Text, against MiniLM" in page and "| 20news-full |" in page and "codes only" in page
    assert "reaches 0.95× MiniLM's P@10 on" in page and "64-bit build" in page
    # the suite ranks as Collection.search does (default mode, no mode given), without making the hits
    queries = [text for _, _, text in make_wide_docs(30)[25:35]]  # test posts of two topics
    with Collection.open(out / "20news-full" / "default.aer", device="cpu") as col:
        keys, failed = ranked_keys(col, queries, 5, "hybrid")
        labels = col.item_labels()
        found = [[labels[int(k)] for k in row if k >= 0] for row in keys]
        assert failed == 0 and found == [[h.label for h in hits] for hits in col.search_batch(queries, 5)]
    # a rerun reuses the built collections and MiniLM's embeddings, and measures the same
    again = run_general(data_dir, out, corpora="fortunes", quick=True, log=lambda _: None)["corpora"][0]
    assert again["baselines"]["minilm"]["embeddings_cached"] is True
    assert again["baselines"]["minilm"]["p@10"] == rows["fortunes"]["baselines"]["minilm"]["p@10"]
    assert again["binary"]["fit_s"] == rows["fortunes"]["binary"]["fit_s"]
    assert again["default"]["p@10"] == rows["fortunes"]["default"]["p@10"]


def test_general_page_says_which_corpora_reach_minilm_bars():
    from retrieval.bench.general_report import markdown

    def scored(p10, p100, **more):
        return {"p@10": p10, "p@100": p100, **more}

    def row(name, default, binary, minilm):
        build = {"code": "32 floats", "mode": "hybrid", "encoder": "ae", "fit_s": 10, "build_s": 11, "peak_rss_mb": 9}
        baselines = {"lsa-50": scored(0.3, 0.2), "minilm": scored(*minilm)}
        r = {"corpus": name, "family": "f", "modality": "text", "protocol": "test-vs-train", "database_items": 100,
             "queries": 10, "subset": "all", "query_sample": "all", "baselines": baselines,
             "default": {**build, **scored(*default[0]), "codes": scored(*default[1])},
             "binary": {**build, "code": "64 bits", **scored(*binary[0]), "codes": scored(*binary[1])},
             "ratio": {"p@10": 1.5, "p@100": 1.5}, "baselines_above_default_p@10": []}  # fmt: skip
        r["teacher_ratio"] = {f"{b}{' codes' if c else ''}": {m: (r[b]["codes"] if c else r[b])[m] / baselines[
            "minilm"][m] for m in ("p@10", "p@100")} for b in ("default", "binary") for c in (False, True)}  # fmt: skip
        return r

    results = {"protocols": {"test-vs-train": "t", "leave-one-out": "l"}, "default_options": {}, "quick": False,
               "seed": 0, "binary_bits": 64, "teacher_bars": {"default": 0.95, "binary": 0.9}, "corpora": [
                   row("a", [(0.50, 0.4), (0.45, 0.4)], [(0.46, 0.3), (0.40, 0.3)], (0.5, 0.4)),
                   row("b", [(0.47, 0.4), (0.45, 0.4)], [(0.44, 0.3), (0.40, 0.3)], (0.5, 0.4))]}  # fmt: skip
    page = markdown(results)
    assert "### Text, against MiniLM" in page and "| default | ÷ MiniLM | codes only | ÷ MiniLM | 64 bits |" in page
    # corpus, MiniLM, the default and its ratio, its codes alone and theirs, 64 bits ...
    assert "| a | 0.500 / 0.400 | 0.500 / 0.400 | 1.00× / 1.00× | 0.450 / 0.400 | 0.90× / 1.00× | 0.460 / " in page
    bars = "in its default search mode, reaches"
    assert f"- The default, {bars} 0.95× MiniLM's P@10 on a (1.00×); not on b (0.94×)." in page
    assert f"- The 64-bit build, {bars} 0.90× MiniLM's P@10 on a (0.92×); not on b (0.88×)." in page
    results["corpora"] = results["corpora"][:1]
    assert f"- The default, {bars} 0.95× MiniLM's P@10 on every corpus: a (1.00×)." in markdown(results)
    assert "| 32 floats, hybrid |" in page and "| MiniLM |" in page
