"""``aer bench``: a quick run on a small archive writes the documented files with the documented schema."""

from __future__ import annotations

import json
import os
import platform

import pytest
from click.testing import CliRunner

from cli.main import main
from retrieval.bench import choose

RECORD_KEYS = {
    "method", "encoder", "options", "code", "bytes_per_item", "index", "p@10", "p@100", "map", "pr_curve",
    "fit_s", "index_s", "build_peak_rss_mb", "encode_items_per_s", "query_p50_ms", "query_p99_ms",
    "qps_single", "qps_batched", "timed_queries", "ranked_whole_for",
}  # fmt: skip


@pytest.mark.slow
def test_bench_text_quick_writes_results_table_and_pictures(tmp_path, newsgroups_archive):
    out = tmp_path / "run"
    args = ["bench", "text", "--data", str(newsgroups_archive), "--out", str(out), "--quick",
            "--methods", "tfidf,lsa-2,ae-32bit"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["suite"] == "text" and results["quick"]
    assert results["machine"]["cores"] == os.cpu_count() and results["machine"]["python"] == platform.python_version()
    # what ran, where and when: the command as given, the commit (or "not recorded"), the machine's builds
    given = f"aer bench text --data {newsgroups_archive} --out {out} --methods tfidf,lsa-2,ae-32bit --quick"
    assert results["command"] == given and results["commit"] and results["date"]
    assert {"cpu", "ram_gb", "torch", "faiss"} <= set(results["machine"])
    assert results["database_items"] == 24 and results["queries"] == 12
    assert [r["method"] for r in results["methods"]] == ["tfidf", "lsa-2", "ae-32bit"]
    for r in results["methods"]:
        assert RECORD_KEYS <= set(r), RECORD_KEYS - set(r)
        assert 0 <= r["p@10"] <= 1 and 0 <= r["map"] <= 1 and r["timed_queries"] == 12
        assert len(r["pr_curve"]["recall"]) == len(r["pr_curve"]["precision"]) == 11
    by_name = {r["method"]: r for r in results["methods"]}
    assert by_name["ae-32bit"]["code"] == "32 bits" and by_name["lsa-2"]["code"] == "2 floats"
    assert by_name["tfidf"]["map"] > 0.5  # three well-separated topics
    page = (out / "README.md").read_text()  # rendered from results.json
    assert "| ae-32bit | 32 bits |" in page and "P@100" in page and f"- Command: `{results['command']}`" in page
    assert "![precision-recall curves](pr_curves.png)" in page and "- [map_lsa-2.png](map_lsa-2.png)" in page
    for picture in ("pr_curves.png", "map_lsa-2.png"):
        assert (out / picture).read_bytes()[:4] == b"\x89PNG"
    # a second run reuses the built collections and their recorded build figures
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "reusing" in again.output
    assert json.loads((out / "results.json").read_text())["methods"][2]["fit_s"] == by_name["ae-32bit"]["fit_s"]


@pytest.mark.slow
def test_bench_image_quick(tmp_path, cifar_archive):
    out = tmp_path / "img"
    result = CliRunner().invoke(main, ["bench", "image", "--data", str(cifar_archive), "--out", str(out),
                                       "--quick", "--methods", "pixels,conv-ae-32bit"])  # fmt: skip
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert {"map@1000", "map", "p@10"} <= set(results["methods"][1])
    assert (out / "grid_pixels.png").exists() and (out / "pr_curves.png").exists()


def test_bench_errors_are_clear(tmp_path, newsgroups_archive):
    out = CliRunner().invoke(main, ["bench", "text", "--data", str(tmp_path / "nope.tar.gz"), "--out", str(tmp_path)])
    assert out.exit_code == 1 and "nope.tar.gz" in out.output
    out = CliRunner().invoke(main, ["bench", "image", "--data", str(newsgroups_archive), "--out", str(tmp_path)])
    assert out.exit_code == 1 and "not the CIFAR-10" in out.output
    with pytest.raises(ValueError, match="unknown text method 'lsa-7'"):
        choose("text", "lsa-7", quick=False)


@pytest.mark.slow
def test_bench_anomaly_quick(tmp_path):
    from .conftest import make_images, write_cifar_archive

    images = make_images(per_class=10, seed=1)
    train = [p for i, p in enumerate(images) if i % 10 < 6]
    test = [p for i, p in enumerate(images) if i % 10 >= 6]
    data = write_cifar_archive(tmp_path / "c.tar.gz", train, test, ["red", "green", "stripes"])
    out = tmp_path / "anomaly"
    result = CliRunner().invoke(main, ["bench", "anomaly", "--data", str(data), "--out", str(out), "--quick"])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert [r["normal_class"] for r in results["classes"]] == ["red", "green", "stripes"]
    for r in results["classes"]:
        assert r["normal_train_images"] == 6 and r["test_images"] == 12 and r["anomalies"] == 8
        assert r["auc_pixel_knn5"] > 0.9  # the synthetic classes are far apart in pixel space
        assert 0.0 <= r["auc_reconstruction"] <= 1.0
    assert "| **mean** |" in (out / "README.md").read_text()


@pytest.mark.slow
def test_bench_variants_quick(tmp_path, cifar_archive):
    out = tmp_path / "variants"
    result = CliRunner().invoke(main, ["bench", "variants", "--data", str(cifar_archive), "--out", str(out),
                                       "--quick", "--methods", "plain,tied"])  # fmt: skip
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["modality"] == "image" and [r["method"] for r in results["methods"]] == ["plain", "tied"]
