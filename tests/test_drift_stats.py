"""The two-sample statistics of drift, pure: known values, empty and NaN input, tiny samples, null calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from tracehouse.analytics.drift_stats import (benjamini_hochberg, classifier_auc, cliffs_delta, cohens_h, energy_test,
                                              finite, ks_test, mix_test, proportion_test, psi, relative_change)

NAN, INF = float("nan"), float("inf")


# -- multiple testing ---------------------------------------------------------------------------------------------

def test_benjamini_hochberg_matches_the_textbook_and_keeps_untested_signals_out():
    p = [0.01, 0.04, 0.03, 0.005, None, 0.5]
    q = benjamini_hochberg(p)
    assert q[4] is None
    # m = 5: sorted 0.005, 0.01, 0.03, 0.04, 0.5 -> 0.025, 0.025, 0.05, 0.05, 0.5
    assert q[3] == pytest.approx(0.025) and q[0] == pytest.approx(0.025)
    assert q[2] == pytest.approx(0.05) and q[1] == pytest.approx(0.05) and q[5] == pytest.approx(0.5)
    assert all(qi >= pi for pi, qi in zip(p, q) if pi is not None)
    assert benjamini_hochberg([]) == [] and benjamini_hochberg([None]) == [None]
    assert benjamini_hochberg([NAN, 2.0]) == [1.0, 1.0]  # garbage in: never below the truth


# -- numeric -------------------------------------------------------------------------------------------------------

def test_cliffs_delta_known_values_ties_and_empty():
    assert cliffs_delta(np.array([1, 2, 3]), np.array([4, 5, 6])) == 1.0
    assert cliffs_delta(np.array([4, 5, 6]), np.array([1, 2, 3])) == -1.0
    assert cliffs_delta(np.array([1, 2]), np.array([1, 2])) == 0.0
    assert cliffs_delta(np.array([1, 2, 3]), np.array([2])) == 0.0
    assert cliffs_delta(np.array([]), np.array([1.0])) == 0.0
    assert cliffs_delta(np.array([NAN, 1.0]), np.array([2.0, INF])) == 1.0
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=300), rng.normal(0.5, size=200)
    brute = np.sign(b[:, None] - a[None, :]).mean()
    assert cliffs_delta(a, b) == pytest.approx(brute)


def test_ks_test_on_shifts_constants_empty_and_nan():
    rng = np.random.default_rng(1)
    base = rng.lognormal(6, 0.3, 500)
    moved = ks_test(base, base * 1.5)
    assert moved.p_value < 1e-10 and moved.cliffs_delta > 0.5 and moved.relative_median_change == pytest.approx(0.5)
    same = ks_test(base, rng.lognormal(6, 0.3, 400))
    assert same.p_value > 0.001 and abs(same.cliffs_delta) < 0.1
    assert ks_test([], [1.0]) is None and ks_test([NAN, INF], [1.0]) is None
    constant = ks_test([3.0] * 10, [3.0] * 12)
    assert constant.p_value == 1.0 and constant.statistic == 0.0 and constant.cliffs_delta == 0.0
    with_nan = ks_test([1.0, 2.0, NAN, 3.0], [1.0, 2.0, 3.0, INF])
    assert with_nan.n_baseline == 3 and with_nan.n_current == 3
    assert ks_test([0.0, 0.0], [1.0, 2.0]).relative_median_change is None
    assert finite([1, NAN, -INF, 2]).tolist() == [1.0, 2.0]


def test_relative_change():
    assert relative_change(2.0, 3.0) == 0.5 and relative_change(-2.0, -1.0) == 0.5
    assert relative_change(0.0, 0.0) == 0.0 and relative_change(0.0, 1.0) is None


# -- proportions ---------------------------------------------------------------------------------------------------

def test_proportion_test_matches_the_pooled_z_test():
    r = proportion_test(30, 1000, 60, 1000)
    pooled = 90 / 2000
    z = (0.06 - 0.03) / math.sqrt(pooled * (1 - pooled) * (2 / 1000))
    assert r.statistic == pytest.approx(z) and r.p_value == pytest.approx(2 * stats.norm.sf(z))
    assert not r.exact and r.difference == pytest.approx(0.03) and r.ratio == pytest.approx(2.0)
    assert r.cohens_h == pytest.approx(cohens_h(0.03, 0.06)) and r.cohens_h > 0


def test_proportion_test_edge_cases():
    assert proportion_test(0, 0, 1, 10) is None and proportion_test(1, 10, 0, 0) is None
    none = proportion_test(0, 500, 0, 400)
    assert none.p_value == 1.0 and none.statistic == 0.0 and none.cohens_h == 0.0 and none.ratio is None
    everything = proportion_test(50, 50, 40, 40)
    assert everything.p_value == 1.0
    small = proportion_test(0, 40, 4, 40)  # expected counts of 2: Fisher's exact test
    assert small.exact and small.p_value == pytest.approx(stats.fisher_exact([[0, 40], [4, 36]]).pvalue)
    with pytest.raises(ValueError):
        proportion_test(11, 10, 0, 10)


# -- categorical mix -------------------------------------------------------------------------------------------------

def test_mix_test_finds_a_new_category_and_ranks_it_first():
    base = ["a"] * 500 + ["b"] * 500
    cur = ["a"] * 300 + ["b"] * 300 + ["c"] * 400
    r = mix_test(base, cur)
    assert r.p_value < 1e-50 and r.psi > 1.0 and r.categories[0] == "c"
    assert r.share_baseline[0] == 0.0 and r.share_current[0] == pytest.approx(0.4)
    assert sum(r.share_current) == pytest.approx(1.0)


def test_mix_test_edge_cases():
    assert mix_test([], ["a"]) is None and mix_test(["a"], []) is None
    one = mix_test(["a"] * 10, ["a"] * 20)
    assert one.statistic == 0.0 and one.p_value == 1.0 and one.psi == 0.0 and one.dof == 0
    rare = mix_test(["a"] * 100 + ["x"], ["a"] * 100 + ["y"])  # sparse categories merged: no spurious alarm
    assert rare.p_value > 0.5
    same = mix_test(list("ab" * 200), list("ba" * 150))
    assert same.p_value > 0.5 and same.psi < 0.01


def test_psi_known_value_and_degenerate_input():
    assert psi(np.array([50, 50]), np.array([50, 50])) == 0.0
    p, q = np.array([0.5, 0.5]), np.array([0.8, 0.2])
    expected = float(np.sum((q - p) * np.log(q / p)))
    assert psi(np.array([5000, 5000]), np.array([8000, 2000]), pseudo=0) == pytest.approx(expected)
    assert psi(np.array([]), np.array([])) == 0.0 and psi(np.array([0, 0]), np.array([1, 2])) == 0.0


# -- embeddings ------------------------------------------------------------------------------------------------------

def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_energy_test_detects_a_shift_with_a_tail_beyond_its_permutations():
    rng = np.random.default_rng(2)
    a = _unit(rng.normal(size=(200, 16)))
    b = _unit(rng.normal(size=(200, 16)) + np.r_[1.5, np.zeros(15)])
    r = energy_test(a, b, permutations=99, seed=0)
    assert r.exceeded == 0 and r.p_value < 1.0 / 100 and 0 < r.coefficient <= 1
    assert r.novelty.shape == (200,)
    assert energy_test(a, b, permutations=99, seed=0).p_value == r.p_value  # deterministic


def test_energy_test_is_calibrated_under_the_null():
    rng = np.random.default_rng(3)
    p_values = [energy_test(_unit(rng.normal(size=(60, 8))), _unit(rng.normal(size=(50, 8))), 49, seed=i).p_value
                for i in range(120)]
    assert np.mean(np.array(p_values) < 0.05) <= 0.1
    assert np.mean(np.array(p_values) < 0.5) == pytest.approx(0.5, abs=0.15)


def test_energy_test_edge_cases():
    a = np.ones((5, 3))
    assert energy_test(np.zeros((0, 3)), a) is None and energy_test(a, np.zeros((0, 3))) is None
    same = energy_test(a, np.ones((4, 3)))
    assert same.p_value == 1.0 and same.statistic == 0.0
    nan = energy_test(np.full((5, 3), NAN), np.ones((5, 3)))
    assert math.isfinite(nan.p_value) and math.isfinite(nan.statistic)
    one = energy_test(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]]), permutations=9)
    assert 0.0 <= one.p_value <= 1.0
    with pytest.raises(ValueError):
        energy_test(np.ones((3, 2)), np.ones((3, 4)))


def test_classifier_auc_measures_separability():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(150, 8))
    far = classifier_auc(a, rng.normal(size=(150, 8)) + 4.0, seed=0)
    assert far.auc > 0.99 and far.delta > 0.98 and far.scores.shape == (150,)
    near = classifier_auc(a, rng.normal(size=(150, 8)), seed=0)
    assert abs(near.delta) < 0.2
    # a fifth of the current window is a new kind of row: the delta is about that share
    deltas = []
    for seed in range(3):
        r = np.random.default_rng(seed)
        mixed = np.vstack([r.normal(size=(120, 8)), r.normal(size=(30, 8)) + 6.0])
        deltas.append(classifier_auc(r.normal(size=(150, 8)), mixed, seed=seed).delta)
    assert np.mean(deltas) == pytest.approx(0.2, abs=0.08)
    assert classifier_auc(a[:1], a) is None
    assert classifier_auc(np.ones((10, 3)), np.ones((10, 3))).auc == 0.5
