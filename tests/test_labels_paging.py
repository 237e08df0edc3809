"""Labels and pages: ``col.labels()`` counts the distinct labels; a filter label no item has is a warning naming
the nearest labels (library, CLI, API), never a silent empty answer; ``offset`` pages are disjoint and in order."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import retrieval
from cli.main import main
from retrieval.collection.filters import collecting_warnings, unknown_label_notes
from retrieval.errors import InvalidParameterError, UnknownLabelWarning

pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from retrieval.server.app import create_app  # noqa: E402
from retrieval.server.limits import MAX_DEPTH  # noqa: E402

QUERY = "orbit rocket launch"


@pytest.fixture
def client(built_text: Path) -> Iterator[TestClient]:
    with TestClient(create_app(built_text, device="cpu", refresh_s=0), base_url="http://localhost") as c:
        yield c


def ids(hits) -> list[str]:
    return [h.id if isinstance(h, retrieval.Hit) else h["id"] for h in hits]


# --- labels ------------------------------------------------------------------------------------------


def test_labels_are_the_distinct_labels_with_counts_most_first(text_collection):
    with retrieval.open(text_collection) as col:
        assert col.labels() == {"autos": 12, "medicine": 12, "space": 12}
        col.add([retrieval.Document(id=f"more-{i}", text="orbit rocket", label="space") for i in range(2)]
                + [retrieval.Document(id="bare", text="orbit engine", label=None),
                   retrieval.Document(id="blank", text="orbit engine", label="")])  # fmt: skip
        counts = col.labels()
        assert counts == {"space": 14, "autos": 12, "medicine": 12}  # no label and "" are not labels
        assert list(counts) == ["space", "autos", "medicine"]  # most items first, then by name
        per_item = col.item_labels()  # the per-item map evaluation uses, by index key
        assert len(per_item) == 40 and all(isinstance(key, int) for key in per_item)
        assert sorted(label for label in per_item.values() if label) == sorted(
            label for label, n in counts.items() for _ in range(n)
        )


# --- unknown labels: a warning naming the nearest ------------------------------------------------------


def test_an_unknown_label_warns_naming_the_nearest_in_the_library(built_text):
    with retrieval.open(built_text) as col:
        with pytest.warns(UnknownLabelWarning, match=r"no item has the label 'spac'; nearest: 'space' \(12 items\)"):
            assert col.search(QUERY, k=5, where={"label": "spac"}) == []
        with pytest.warns(UnknownLabelWarning, match="'Medicine'; nearest: 'medicine'"):  # case is forgiven
            assert col.search_by_id("space/space-00.txt", k=3, where={"label": "Medicine"}) == []
        with pytest.warns(UnknownLabelWarning, match="'autoz'.*nearest: 'autos'") as caught:
            hits = col.search_batch([QUERY], k=5, where={"label": ["space", "autoz"]})[0]
        assert len(hits) == 5 and {h.label for h in hits} == {"space"}  # the known label still filters
        assert len(caught) == 1 and caught[0].filename == __file__  # it points at the caller's line
        with pytest.warns(UnknownLabelWarning, match="'nonexistent', nor one like it; the most common of the "
                                                     "collection's 3 labels: 'autos' \\(12 items\\)"):  # fmt: skip
            col.search(QUERY, k=5, where={"label": "nonexistent"})
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a known label warns of nothing
            assert len(col.search(QUERY, k=5, where={"label": "space"})) == 5
            with collecting_warnings() as notes:  # gathered instead of issued
                assert col.search(QUERY, k=5, where={"label": "spac"}) == []
        assert notes == ["no item has the label 'spac'; nearest: 'space' (12 items)"]


def test_the_nearest_labels_message_forms():
    counts = {"sci.med": 30, "spice": 20, "space": 10}
    assert unknown_label_notes(["spase"], counts) == ["no item has the label 'spase'; nearest: 'space' (10 items), "
                                                      "'spice' (20 items)"]  # fmt: skip  (closest first)
    assert "the collection's items have no labels" in unknown_label_notes(["x"], {})[0]


def test_the_cli_prints_the_warning_on_stderr_and_exits_0(built_text):
    out = CliRunner().invoke(main, ["query", str(built_text), QUERY, "--label", "spac", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == []
    assert out.stderr.strip() == "warning: no item has the label 'spac'; nearest: 'space' (12 items)"
    plain = CliRunner().invoke(main, ["query", str(built_text), QUERY, "--label", "spac"])
    assert plain.exit_code == 0 and plain.stdout == "" and plain.stderr.strip().splitlines()[-1] == "no hits"
    known = CliRunner().invoke(main, ["query", str(built_text), QUERY, "--label", "space", "--json"])
    assert known.exit_code == 0 and known.stderr == "" and len(json.loads(known.stdout)) == 10


def test_the_api_answers_with_a_warnings_field(client):
    got = client.get("/search", params={"q": QUERY, "label": "spac"})
    assert got.status_code == 200
    assert got.json()["hits"] == [] and got.json()["warnings"] == [
        "no item has the label 'spac'; nearest: 'space' (12 items)"
    ]
    posted = client.post("/search", json={"q": QUERY, "label": ["space", "medicin"]}).json()
    assert len(posted["hits"]) == 10 and "nearest: 'medicine'" in posted["warnings"][0]
    similar = client.get("/items/space/space-00.txt/similar", params={"label": "auto"}).json()
    assert similar["hits"] == [] and "nearest: 'autos'" in similar["warnings"][0]
    assert client.get("/search", params={"q": QUERY, "label": "space"}).json()["warnings"] == []


def test_the_api_lists_the_labels_with_counts(client):
    got = client.get("/labels").json()
    assert got == {"labels": [{"label": "autos", "items": 12}, {"label": "medicine", "items": 12},
                              {"label": "space", "items": 12}], "total": 3}  # fmt: skip
    assert client.get("/labels", params={"limit": 1}).json() == {"labels": [{"label": "autos", "items": 12}],
                                                                  "total": 3}  # fmt: skip
    assert client.get("/labels", params={"limit": 0}).status_code == 422


# --- offset: pages -------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", [None, {"label": ["space", "autos"]}])
def test_offset_pages_are_disjoint_and_in_order_on_a_flat_index(built_text, where):
    with retrieval.open(built_text) as col:
        assert "Flat" in col.index.spec  # exhaustive: pages must agree with one deep search
        whole = col.search(QUERY, k=40, where=where, mode="codes")
        assert len(whole) == (36 if where is None else 24)
        pages = [col.search(QUERY, k=7, where=where, mode="codes", offset=at) for at in range(0, len(whole), 7)]
        assert all(len(page) == 7 for page in pages[:-1])
        flat = [h for page in pages for h in page]
        assert ids(flat) == ids(whole) and len(set(ids(flat))) == len(whole)
        assert [h.score for h in flat] == pytest.approx([h.score for h in whole])
        assert col.search(QUERY, k=5, where=where, mode="codes", offset=len(whole)) == []  # past the end
        assert ids(col.search(QUERY, k=5, where=where, mode="codes", offset=len(whole) - 2)) == ids(whole[-2:])
        like = col.search_by_id("space/space-00.txt", k=35, where=where)
        paged = [h for at in range(0, 35, 6) for h in col.search_by_id("space/space-00.txt", k=6, where=where,
                                                                      offset=at)]  # fmt: skip
        assert ids(paged) == ids(like) and "space/space-00.txt" not in ids(paged)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_a_bad_offset_is_refused(built_text, bad):
    with retrieval.open(built_text) as col, pytest.raises(InvalidParameterError, match="'offset' parameter"):
        col.search(QUERY, k=5, offset=bad)


def test_the_cli_pages_with_offset_and_ranks_go_on(built_text):
    whole = json.loads(CliRunner().invoke(main, ["query", str(built_text), QUERY, "-k", "8", "--mode", "codes",
                                                 "--json"]).stdout)  # fmt: skip
    page = CliRunner().invoke(main, ["query", str(built_text), QUERY, "-k", "4", "--offset", "4", "--mode", "codes",
                                     "--json"])  # fmt: skip
    assert page.exit_code == 0 and ids(json.loads(page.stdout)) == ids(whole[4:])
    plain = CliRunner().invoke(main, ["query", str(built_text), QUERY, "-k", "4", "--offset", "4", "--mode", "codes"])
    assert plain.stdout.splitlines()[0].split()[:3] == ["5", f"{whole[4]['score']:.4f}", whole[4]["id"]]
    assert CliRunner().invoke(main, ["query", str(built_text), QUERY, "--offset", "-1"]).exit_code == 2


def test_the_api_pages_with_offset_and_caps_the_depth(client):
    whole = client.get("/search", params={"q": QUERY, "k": 12, "mode": "codes"}).json()["hits"]
    pages = [client.get("/search", params={"q": QUERY, "k": 4, "offset": at, "mode": "codes"}).json()["hits"]
             for at in (0, 4, 8)]  # fmt: skip
    assert ids([h for page in pages for h in page]) == ids(whole)
    posted = client.post("/search", json={"q": QUERY, "k": 4, "offset": 8, "mode": "codes"}).json()["hits"]
    assert ids(posted) == ids(whole[8:])
    similar = client.get("/items/space/space-00.txt/similar", params={"k": 3, "offset": 3}).json()["hits"]
    assert ids(similar) == ids(client.get("/items/space/space-00.txt/similar", params={"k": 6}).json()["hits"][3:])
    assert client.get("/search", params={"q": QUERY, "offset": 36, "mode": "codes"}).json()["hits"] == []
    for params in ({"offset": -1}, {"offset": MAX_DEPTH - 5, "k": 10}):
        got = client.get("/search", params={"q": QUERY, **params})
        assert got.status_code == 422, params
    deep = client.get("/search", params={"q": QUERY, "offset": MAX_DEPTH - 5, "k": 10}).json()["message"]
    assert f"offset + k must be at most {MAX_DEPTH}" in deep
    body = client.post("/search", json={"q": QUERY, "k": 10, "offset": MAX_DEPTH})
    assert body.status_code == 422 and "offset + k" in body.json()["message"]
    assert client.get("/items/space/space-00.txt/similar", params={"offset": MAX_DEPTH}).status_code == 422
