"""Pictures that read in print: every series its own colour and marker, labelled axes, result grids that frame
the hits sharing the query's label and caption the query with its name."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import retrieval
from retrieval.collection import Hit
from retrieval.pictures import (
    OTHER_LABEL,
    SAME_LABEL,
    code_map_figure,
    draw_grid,
    frame_colour,
    grid_figure,
    pr_figure,
    query_caption,
    save_results_grid,
    series_style,
)

from .conftest import make_images


def _pairs(lines) -> list[tuple[str, str]]:
    return [(line.get_color(), line.get_marker()) for line in lines]


@pytest.mark.parametrize("n", [3, 10, 14, 40])
def test_every_series_has_its_own_colour_and_marker_pair(n):
    pairs = [(s["color"], s["marker"]) for s in map(series_style, range(n))]
    assert len(set(pairs)) == n
    first = [series_style(i) for i in range(min(n, 10))]
    assert len({s["color"] for s in first}) == len({s["marker"] for s in first}) == len(first)


def test_pr_curves_differ_in_colour_and_marker_and_the_axes_are_labelled():
    methods = [{"method": f"m{i}", "pr_curve": {"recall": [0, 0.5, 1], "precision": [1, 0.6 - i / 50, 0.2]}}
               for i in range(12)]  # fmt: skip
    fig = pr_figure({"suite": "text", "methods": [*methods, {"method": "no-curve"}]})
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == [f"m{i}" for i in range(12)]
    assert len(set(_pairs(lines))) == 12
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def test_a_code_map_gives_each_label_a_colour_and_a_marker_and_labels_its_axes():
    rng = np.random.default_rng(0)
    labels = np.array([f"group{i % 20:02d}" for i in range(400)])
    fig = code_map_figure(rng.normal(size=(400, 2)), labels, "map")
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert sorted(line.get_label() for line in lines) == sorted(set(labels))
    assert len(set(_pairs(lines))) == 20 and all(line.get_linestyle() == "None" for line in lines)
    assert ax.get_xlabel() == "code 1" and ax.get_ylabel() == "code 2"


def test_a_hit_is_framed_green_when_it_shares_the_query_label():
    assert frame_colour("cat", "cat") == SAME_LABEL
    assert frame_colour("cat", "dog") == OTHER_LABEL
    assert frame_colour(None, "cat") is None and frame_colour("cat", None) is None


def _hit(item_id: str, label: str | None) -> Hit:
    return Hit(id=item_id, score=0.5, label=label, source="", snippet="")


def test_the_grid_frames_each_hit_by_its_label_and_captions_the_query():
    pixels = [img for _, img in make_images(per_class=1)]
    hits = [_hit("a", "red"), _hit("b", "green"), _hit("c", None)]
    fig = grid_figure([(pixels[0], hits, pixels)], columns=3, titles=["query: 003.png"], query_labels=["red"])
    axes = fig.axes
    assert axes[0].get_title() == "query: 003.png"

    def frame(ax):
        return {tuple(np.round(s.get_edgecolor(), 3)) for s in ax.spines.values()} if ax.axison else None

    from matplotlib.colors import to_rgba

    assert frame(axes[1]) == {tuple(np.round(to_rgba(SAME_LABEL), 3))}
    assert frame(axes[2]) == {tuple(np.round(to_rgba(OTHER_LABEL), 3))}
    assert frame(axes[3]) is None  # no label: no frame
    no_labels = grid_figure([(pixels[0], hits, pixels)], columns=3)
    assert [frame(ax) for ax in no_labels.axes[1:4]] == [None, None, None]


def test_draw_grid_writes_a_png(tmp_path):
    pixels = [img for _, img in make_images(per_class=1)]
    path = draw_grid(tmp_path / "g.png", [(pixels[0], [_hit("a", "red")], pixels[:1])], columns=2,
                     query_labels=["red"])  # fmt: skip
    with Image.open(path) as picture:
        assert picture.format == "PNG" and picture.width > picture.height > 50


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("pictures")
    for n, (label, img) in enumerate(make_images(per_class=4)):
        (root / "src" / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / "src" / label / f"{n:03d}.png")
    retrieval.index_source(root / "src", root / "p.aer", encoder="fake-image", dim=6)
    return root


def test_the_query_caption_names_the_item_or_file_and_its_label(photos):
    with retrieval.open(photos / "p.aer", device="cpu") as col:
        assert query_caption(col, None, "red/001.png") == ("red/001.png", "red")
        assert query_caption(col, photos / "src" / "green" / "005.png", None) == ("005.png", "green")
        elsewhere = photos / "holiday" / "beach.png"  # a folder that is no label of the collection
        assert query_caption(col, elsewhere, None) == ("beach.png", None)
        assert query_caption(col, np.zeros((32, 32, 3), np.uint8), None) == ("query", None)


def test_save_results_grid_draws_the_query_and_its_hits(photos, tmp_path):
    with retrieval.open(photos / "p.aer", device="cpu") as col:
        query = photos / "src" / "red" / "001.png"
        hits = col.search(query, k=5)
        path = save_results_grid(col, tmp_path / "r.png", hits, query=query)
    with Image.open(path) as picture:
        assert picture.format == "PNG" and picture.width > picture.height
