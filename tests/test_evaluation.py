from __future__ import annotations

import numpy as np
import pytest

from retrieval.eval.metrics import RankingScores, average_precision, precision_at


def test_average_precision_of_a_known_ranking():
    # relevant at ranks 1, 3 and 6, four relevant items in all: AP = (1/1 + 2/3 + 3/6) / 4
    rel = np.array([[1, 0, 1, 0, 0, 1]], dtype=bool)
    assert average_precision(rel, np.array([4]))[0] == pytest.approx((1 + 2 / 3 + 3 / 6) / 4)
    assert precision_at(rel, 3)[0] == pytest.approx(2 / 3)


def test_perfect_and_worst_rankings():
    db = ["a", "a", "b", "b", "b"]
    scores = RankingScores(db, ks=(2,))
    scores.add(["a", "b"], np.array([["a", "a", "b", "b", "b"], ["a", "a", "b", "b", "b"]], dtype=object))
    r = scores.result()
    assert r["p@2"] == pytest.approx(0.5)  # query a: 2/2, query b: 0/2
    ap_b = (1 / 3 + 2 / 4 + 3 / 5) / 3
    assert r["map"] == pytest.approx((1.0 + ap_b) / 2)
    assert r["queries"] == 2


def test_label_ids_and_labels_give_the_same_scores():
    rng = np.random.default_rng(0)
    db = list(rng.choice(["x", "y", "z"], size=50))
    q = list(rng.choice(["x", "y", "z"], size=8))
    ranked = np.array([rng.permutation(db) for _ in q], dtype=object)
    by_label = RankingScores(db)
    by_label.add(q, ranked)
    by_id = RankingScores(db)
    by_id.add(by_id.label_ids(q), by_id.label_ids(ranked.ravel().tolist()).reshape(ranked.shape))
    assert by_label.result() == by_id.result()


def test_unlabelled_items_are_never_relevant():
    scores = RankingScores(["a", None, "a"], ks=(1,))
    scores.add([None], np.array([[None, "a", "a"]], dtype=object))
    assert scores.result()["p@1"] == 0.0 and scores.result()["map"] == 0.0


def test_map_at_k_normalises_by_relevant_items_retrieved():
    from retrieval.eval.metrics import average_precision_at

    rel = np.array([[1, 0, 1, 0], [0, 0, 0, 0]], dtype=bool)
    np.testing.assert_allclose(average_precision_at(rel, 3), [(1 + 2 / 3) / 2, 0.0])
    scores = RankingScores(["a", "a", "b"], ks=(1,), map_at=2)
    scores.add(["a"], np.array([["b", "a", "a"]], dtype=object))
    assert scores.result()["map@2"] == pytest.approx(0.5)  # one relevant in the top 2, at rank 2


def test_eleven_point_interpolated_precision():
    from retrieval.eval.metrics import interpolated_precision

    # 2 relevant at ranks 2 and 4 of 5: precision 1/2 at recall 0.5, 2/4 at recall 1
    rel = np.array([[0, 1, 0, 1, 0]], dtype=bool)
    curve = interpolated_precision(rel, np.array([2]))[0]
    np.testing.assert_allclose(curve, [0.5] * 11)
    # relevant at ranks 1 and 4: precision 1 up to recall 0.5, then 2/4
    curve = interpolated_precision(np.array([[1, 0, 0, 1]], dtype=bool), np.array([2]))[0]
    np.testing.assert_allclose(curve, [1.0] * 6 + [0.5] * 5)
    # a ranking cut before the last relevant item never reaches recall 1
    assert interpolated_precision(np.array([[1, 0]], dtype=bool), np.array([2]))[0, -1] == 0.0
    scores = RankingScores(["a", "a", "b"], ks=(1,))
    scores.add(["a"], np.array([["a", "b", "a"]], dtype=object))
    pr = scores.result()["pr_curve"]
    assert pr["recall"][0] == 0.0 and pr["recall"][-1] == 1.0 and pr["precision"][-1] == pytest.approx(2 / 3, abs=1e-5)
    truncated = RankingScores(["a", "a", "b"], ks=(1,), full_ranking=False)
    truncated.add(["a"], np.array([["a", "b"]], dtype=object))
    assert "map" not in truncated.result() and "pr_curve" not in truncated.result()
