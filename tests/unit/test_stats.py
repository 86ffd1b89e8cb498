import math
import random

import pytest

from stackprof import stats


def test_summarize_matches_hand_computed_quartiles():
    s = stats.summarize([4.0, 1.0, 3.0, 2.0, 5.0])
    assert s["median_s"] == 3.0 and s["q1_s"] == 2.0 and s["q3_s"] == 4.0
    assert s["iqr_rel"] == pytest.approx(2 / 3) and s["noisy"] is True
    assert stats.summarize([1.0, 1.01, 0.99, 1.0])["noisy"] is False
    assert stats.summarize([])["n"] == 0


def test_mann_whitney_exact_matches_known_values():
    # Completely separated samples of 5 and 5: exact two-sided p = 2/252.
    assert stats.mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(2 / 252)
    assert stats.mann_whitney_u([1, 3, 5, 7], [2, 4, 6, 8]) > 0.5
    assert stats.min_attainable_p(5, 5) == pytest.approx(2 / 252)


def test_mann_whitney_normal_approximation_with_ties():
    rng = random.Random(1)
    a = [round(rng.gauss(10, 1), 1) for _ in range(40)]
    b = [round(rng.gauss(12, 1), 1) for _ in range(40)]
    assert stats.mann_whitney_u(a, b) < 1e-6
    assert stats.mann_whitney_u(a, list(a)) > 0.9


def test_bootstrap_ratio_ci_covers_the_true_ratio():
    rng = random.Random(2)
    a = [rng.gauss(1.0, 0.02) for _ in range(30)]
    b = [rng.gauss(2.0, 0.04) for _ in range(30)]
    lo, hi = stats.bootstrap_ratio_ci(a, b)
    assert lo < 2.0 < hi and hi - lo < 0.1


def test_geometric_mean():
    assert stats.geometric_mean([1, 4]) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        stats.geometric_mean([])
    assert math.isclose(stats.geometric_mean([0.5, 0.5, 0.5]), 0.5)
