"""The measures of ``benchmarks/student_gap.py`` (``retrieval.bench.student_gap``) on small synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.bench.student_gap import (
    compare,
    cosine_ranking,
    drop_own,
    length_tertiles,
    overlap_at,
    per_query_precision,
    principal_projection,
    ranked_labels,
)
from retrieval.eval.metrics import precision_by_label


def test_length_tertiles_cut_at_the_thirds_and_put_ties_below_the_cut():
    cuts, group = length_tertiles([9, 1, 5, 2, 8, 3, 7, 4, 6])
    assert cuts == (3, 6)
    assert group.tolist() == [2, 0, 1, 0, 2, 0, 2, 1, 1]
    cuts, group = length_tertiles([1, 1, 1, 1, 2, 9])  # ties at the first cut: one big short group
    assert cuts == (1, 1) and group.tolist() == [0, 0, 0, 0, 2, 2]
    with pytest.raises(ValueError, match="no queries"):
        length_tertiles([])


def test_overlap_counts_shared_places_over_k_and_an_empty_ranking_as_none():
    a = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [-1, -1, -1, -1]])
    b = np.array([[4, 3, 9, 9], [5, 6, 7, 8], [1, 2, 3, 4]])
    assert overlap_at(a, b, 4).tolist() == [0.5, 1.0, 0.0]
    assert overlap_at(a, b, 2).tolist() == [0.0, 1.0, 0.0]  # only the first k of each


def test_cosine_ranking_is_exact_and_leaves_a_query_out_of_its_own_ranking():
    database = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.5, 0.5]])
    queries = database[[0, 2]] * 3.0  # length does not matter
    assert cosine_ranking(database, queries, 2).tolist() == [[0, 1], [2, 3]]
    assert cosine_ranking(database, queries, 2, own=np.array([0, 2])).tolist() == [[1, 3], [3, 1]]
    assert cosine_ranking(database, queries, 6).shape == (2, 6)  # deeper than the database: -1 past the end
    assert cosine_ranking(database, queries, 6)[0, 4:].tolist() == [-1, -1]


def test_drop_own_pads_and_cuts():
    assert drop_own([[3, 1, 2], [], [5, -1]], 2, np.array([1, 0, 5])).tolist() == [[3, 2], [-1, -1], [-1, -1]]


def test_principal_projection_keeps_the_widest_axes_and_is_the_ceiling_of_a_narrow_code():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    # the labels live on two wide axes (one wider than the other); two narrow axes carry noise only
    centres = np.array([[12, 0], [-12, 0], [0, 8], [0, -8]], dtype=float)
    signal = centres[labels] + rng.standard_normal((200, 2))
    noise = 0.5 * rng.standard_normal((200, 2))
    data = np.hstack([noise, signal]) @ np.linalg.qr(rng.standard_normal((4, 4)))[0] + 5.0  # turned, off-centre
    own = np.arange(0, 200, 10)  # five of each label
    queries = data[own]
    projected = principal_projection(data, queries, [1, 2, 4])
    db2, q2 = projected[2]
    assert db2.shape == (200, 2) and q2.shape == (len(own), 2)
    assert np.allclose(q2, db2[own], atol=1e-5)  # queries go through the same projection
    assert abs(db2.mean(axis=0)).max() < 1e-6  # centred on the database's mean
    variance = projected[4][0].var(axis=0)
    assert variance[0] > variance[1] > 10 > 1 > variance[2]  # the widest axes first

    def p10(db, q):
        ranking = cosine_ranking(db, q, 10, own)
        return precision_by_label(labels[own].tolist(), ranked_labels(ranking, labels.tolist()), (10,))["p@10"]

    assert p10(*projected[4]) > 0.9 and p10(db2, q2) > 0.9  # the two axes that hold the labels keep them
    assert p10(*projected[1]) < 0.7  # one axis cannot tell the two narrower clusters apart
    with pytest.raises(ValueError, match="widths"):
        principal_projection(data, queries, [5])


def test_per_query_precision_averages_to_precision_by_label():
    query_labels = ["a", "b", "a"]
    ranked = [["a", None, "b", "a"], ["b"], []]
    per_query = per_query_precision(query_labels, ranked, 4)
    assert per_query.tolist() == [0.5, 0.25, 0.0]
    assert per_query.mean() == pytest.approx(precision_by_label(query_labels, ranked, (4,))["p@4"])


def test_compare_a_student_that_ranks_as_its_teacher_except_one_unencodable_query():
    rng = np.random.default_rng(1)
    labels = [str(i % 3) for i in range(150)]
    teacher = np.array([rng.permutation(150)[:100] for _ in range(6)])
    student = teacher.copy()
    student[5] = -1  # could not be encoded: ranks nothing
    query_labels = ["0", "1", "2", "0", "1", "2"]
    words = [1, 2, 3, 10, 20, 30]
    out = compare(query_labels, labels, words, student, teacher, {32: teacher})
    overall = out["overall"]
    assert overall["unencodable queries"] == 1 and overall["queries"] == 6
    assert overall["overlap@10"] == pytest.approx(5 / 6, abs=1e-4)
    full = precision_by_label(query_labels, ranked_labels(teacher, labels), (10,))["p@10"]
    assert overall["minilm p@10"] == pytest.approx(full, abs=1e-4)
    lost = per_query_precision(query_labels[5:], ranked_labels(teacher[5:], labels))[0]
    assert overall["student p@10"] == pytest.approx(full - lost / 6, abs=1e-4)
    assert out["ceiling"][0]["axes"] == 32 and out["ceiling"][0]["p@10 ÷ minilm"] == 1.0
    assert out["length_cuts"] == [2, 10]
    long = out["by_length"][-1]
    assert long["tertile"] == "long" and long["queries"] == 2 and long["unencodable"] == 1
    assert long["overlap@10"] == 0.5
    assert [r["overlap@10"] for r in out["by_length"][:2]] == [1.0, 1.0]
