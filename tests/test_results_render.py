"""Results pages are rendered from the runs' JSON (``benchmarks/render_results.py``), never edited by hand."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

from retrieval.bench.pages import NOT_RECORDED, render_page
from retrieval.bench.record import provenance, write_results

ROOT = Path(__file__).resolve().parents[1]


def _renderer():
    spec = importlib.util.spec_from_file_location("render_results", ROOT / "benchmarks" / "render_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render_results = _renderer()


def test_every_committed_page_is_its_json_rendered():
    # the check CI runs: each results page, the README's headline block and docs/results.md as rendered now
    assert render_results.main(["--check"]) == 0, [str(p) for p in render_results.differing(ROOT)]


@pytest.fixture
def tree(tmp_path):
    """A small copy of the repository's results: the generalisation suite, build cost, one study, the README."""
    for rel in ("benchmarks/results/general", "benchmarks/results/build-cost", "benchmarks/studies/teacher"):
        shutil.copytree(ROOT / rel, tmp_path / rel)
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# x\n\n<!-- results:start -->\nold table\n<!-- results:end -->\n\nmore\n")
    assert render_results.main(["--root", str(tmp_path)]) == 0
    return tmp_path


def test_check_names_a_page_edited_by_hand_and_a_number_changed_in_the_json(tree, capsys):
    assert render_results.main(["--check", "--root", str(tree)]) == 0
    page = tree / "benchmarks/studies/teacher/README.md"
    page.write_text(page.read_text().replace("0.191", "0.291"))
    assert render_results.main(["--check", "--root", str(tree)]) == 1
    assert "benchmarks/studies/teacher/README.md: differs" in capsys.readouterr().out
    render_results.main(["--root", str(tree)])  # rendering puts the measured number back
    assert "0.191" in page.read_text() and render_results.main(["--check", "--root", str(tree)]) == 0

    results = tree / "benchmarks/results/general/results.json"
    data = json.loads(results.read_text())
    row = next(r for run in data["runs"] for r in run["corpora"] if r["corpus"] == "digits")
    row["default"]["p@10"] = 0.99
    results.write_text(json.dumps(data))
    stale = {p.relative_to(tree).as_posix() for p in render_results.differing(tree)}
    assert stale == {"benchmarks/results/general/README.md", "README.md", "docs/results.md"}


def test_headline_block_replaces_only_what_is_between_the_markers(tree):
    readme = (tree / "README.md").read_text()
    assert readme.startswith("# x\n\n<!-- results:start -->\n") and readme.endswith("<!-- results:end -->\n\nmore\n")
    assert "old table" not in readme
    # the digits row: the default, pixels and PCA-64 as the generalisation suite's JSON has them, the best in bold
    data = json.loads((tree / "benchmarks/results/general/results.json").read_text())
    row = next(r for run in data["runs"] for r in run["corpora"] if r["corpus"] == "digits")  # the latest run first
    scores = [row["default"], row["baselines"]["pixels"], row["baselines"]["pca-64"]]
    best = max(s["p@10"] for s in scores)
    cells = [f"{'**%.3f**' % s['p@10'] if s['p@10'] == best else '%.3f' % s['p@10']} / {s['p@100']:.3f}" for s in scores]
    assert f"| digits | 1,797 | {' | '.join(cells)} |" in readme
    assert "| 20news-11314 | 11,314 | 0.668 / 0.592 | **0.672** / 0.518 | 0.496 / 0.384 | 0.7 / 586.0 / 0.2 |" in readme
    (tree / "README.md").write_text("# x\nno markers\n")
    with pytest.raises(SystemExit, match="README.md: needs one <!-- results:start -->"):
        render_results.rendered(tree)


def test_a_run_recorded_before_provenance_shows_what_was_not_recorded():
    page = render_page(
        {"suite": "x", "title": "A study", "commit": NOT_RECORDED, "date": NOT_RECORDED, "recorded_in": "abc1234",
         "command": "python x.py", "machine": NOT_RECORDED, "encode_s": 1.25,
         "rows": {"floats": {"bits": None, "p@10": 0.61234}, "rotation-64": {"bits": 64, "p@10": 0.5}}},
        notes="Prose by hand.",
    )  # fmt: skip
    assert page.startswith("# A study\n")
    assert "- Command: `python x.py`" in page and "- Machine: not recorded" in page
    assert "- Commit: not recorded; date: not recorded; results committed in abc1234" in page
    assert "- encode_s: 1.25" in page
    assert "| rows | bits | p@10 |" in page and "| floats | — | 0.61234 |" in page  # values as stored, unrounded
    assert page.rstrip().endswith("## Notes\n\nProse by hand.")


def test_a_written_run_records_where_it_ran_and_its_page_is_what_the_renderer_makes(tmp_path):
    results = {"suite": "demo", **provenance("python demo.py --x 1"), "rows": [{"n": 1, "p@10": 0.5}]}
    assert results["command"] == "python demo.py --x 1" and results["date"].endswith("UTC")
    assert re.fullmatch(r"[0-9a-f]{40}( \(with uncommitted changes\))?", results["commit"])
    assert {"cpu", "cores", "ram_gb", "torch", "faiss", "cuda"} <= set(results["machine"])
    out = tmp_path / "demo"
    out.mkdir()
    (out / "notes.md").write_text("Why it ran.")
    write_results(out, results)
    assert json.loads((out / "results.json").read_text()) == results
    assert (out / "README.md").read_text() == render_results.page_of(out, results)
    assert "Why it ran." in (out / "README.md").read_text()
