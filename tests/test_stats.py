"""Holdout statistics: Fisher's exact test, the z-test, score intervals and the verdict, against published values."""
from __future__ import annotations

import math
import random
import time
from fractions import Fraction

import pytest

from abmcontent import stats


def brute_force_fisher(a: int, b: int, c: int, d: int) -> Fraction:
    """Exact two-sided Fisher p by enumerating every table with the same margins, in rationals."""
    r1, c1, n = a + b, a + c, a + b + c + d

    def pmf(x: int) -> Fraction:
        return Fraction(math.comb(c1, x) * math.comb(n - c1, r1 - x), math.comb(n, r1))

    observed = pmf(a)
    return sum((pmf(x) for x in range(max(0, r1 + c1 - n), min(r1, c1) + 1) if pmf(x) <= observed), Fraction(0))


# --- Fisher's exact test -------------------------------------------------------------------------

def test_fisher_matches_the_lady_tasting_tea():
    # Fisher (1935): the tables with margins 4/4 have probabilities 1, 16, 36, 16, 1 (/70); the observed
    # [[3, 1], [1, 3]] has 16/70, so p = (1 + 16 + 16 + 1) / 70 = 34/70 = 0.4857142857.
    assert stats.fisher_exact_two_sided(3, 1, 1, 3) == pytest.approx(34 / 70, rel=1e-12)


def test_fisher_matches_a_published_small_table():
    # [[8, 2], [1, 5]]: p = 0.03496503 (scipy.stats.fisher_exact 1.17.1: 0.034965034965034975 = 5/143 exactly).
    assert stats.fisher_exact_two_sided(8, 2, 1, 5) == pytest.approx(5 / 143, rel=1e-12)


def test_fisher_counts_tables_tied_with_the_observed_one_on_both_sides():
    # [[1, 3], [3, 1]] is as likely as [[3, 1], [1, 3]]: both belong to the same two-sided p.
    assert stats.fisher_exact_two_sided(1, 3, 3, 1) == pytest.approx(34 / 70, rel=1e-12)


def test_fisher_agrees_with_exhaustive_enumeration_on_random_tables():
    rng = random.Random(20261102)
    for _ in range(300):
        table = [rng.randint(0, rng.choice((3, 12, 40))) for _ in range(4)]
        if rng.random() < 0.2:
            table[rng.randrange(4)] = 0
        expected = float(brute_force_fisher(*table))
        assert stats.fisher_exact_two_sided(*table) == pytest.approx(expected, rel=1e-9, abs=1e-300), table


def test_fisher_is_one_when_a_margin_is_empty_or_the_table_is_the_most_likely():
    assert stats.fisher_exact_two_sided(0, 0, 0, 0) == 1.0
    assert stats.fisher_exact_two_sided(0, 0, 5, 7) == 1.0
    assert stats.fisher_exact_two_sided(5, 5, 5, 5) == 1.0


def test_fisher_on_half_a_million_visitors_per_group_is_fast_and_close_to_the_z_test():
    # 25,000 of 500,000 (5.00%) against 24,600 of 500,000 (4.92%).
    started = time.perf_counter()
    p = stats.fisher_exact_two_sided(25_000, 475_000, 24_600, 475_400)
    far_tail = stats.fisher_exact_two_sided(0, 500_000, 500, 499_500)
    assert time.perf_counter() - started < 0.5
    assert p == pytest.approx(0.0661030084, rel=1e-6)  # scipy.stats.fisher_exact 1.17.1: 0.06610300844294517
    assert p == pytest.approx(stats.two_proportion_z(25_000, 500_000, 24_600, 500_000)[1], rel=0.02)
    assert far_tail == pytest.approx(5.39295565e-151, rel=1e-6)  # scipy 1.17.1: 5.39295565567762e-151
    assert stats.fisher_exact_two_sided(5, 499_995, 499_995, 5) == 0.0  # below the smallest double


# --- z-test and intervals ------------------------------------------------------------------------

def test_z_test_matches_hand_arithmetic():
    # 60/200 = 0.30 against 40/200 = 0.20. Pooled rate = 100/400 = 0.25;
    # SE = sqrt(0.25 * 0.75 * (1/200 + 1/200)) = sqrt(0.1875 * 0.01) = sqrt(0.001875) = 0.0433013;
    # z = (0.30 - 0.20) / 0.0433013 = 2.309401; two-sided p = 2 * (1 - Phi(2.309401)) = 2 * 0.0104607 = 0.0209213.
    z, p = stats.two_proportion_z(60, 200, 40, 200)
    assert z == pytest.approx(2.309401, abs=1e-6)
    assert p == pytest.approx(0.0209213, abs=1e-6)
    assert stats.two_proportion_z(40, 200, 60, 200) == pytest.approx((-z, p))


def test_z_test_reports_no_difference_when_nobody_or_everybody_converted():
    assert stats.two_proportion_z(0, 50, 0, 80) == (0.0, 1.0)
    assert stats.two_proportion_z(50, 50, 80, 80) == (0.0, 1.0)


def test_wilson_interval_matches_the_published_example():
    # Wikipedia "Binomial proportion confidence interval" / Newcombe (1998): 81 of 263 -> 0.2553 to 0.3662.
    low, high = stats.wilson_interval(81, 263)
    assert (low, high) == pytest.approx((0.2553, 0.3662), abs=5e-5)


def test_wilson_interval_stays_inside_zero_and_one_at_the_extremes():
    low, high = stats.wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=5e-5)  # Newcombe (1998) table I: 0/10 -> 0 to 0.2775
    low, high = stats.wilson_interval(10, 10)
    assert high == 1.0 and low == pytest.approx(1 - 0.2775, abs=5e-5)


def test_difference_interval_matches_newcombe_method_10():
    # Newcombe (1998), "Interval estimation for the difference between independent proportions", example (a):
    # 56/70 - 48/80 = 0.2000, method 10 gives 0.0524 to 0.3339.
    result = stats.compare(70, 56, 80, 48)
    assert result.difference == pytest.approx(0.2)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.0524, 0.3339), abs=5e-5)


# --- compare -------------------------------------------------------------------------------------

def test_compare_uses_the_z_test_and_says_personalized_is_better_when_it_converts_significantly_more():
    result = stats.compare(200, 60, 200, 40)
    assert result.test == "z"
    assert result.p_value == pytest.approx(0.0209213, abs=1e-6)
    assert (result.personalized_rate, result.control_rate) == (0.3, 0.2)
    assert result.lift == pytest.approx(0.5)  # (0.30 - 0.20) / 0.20
    assert result.significant and result.enough_data
    assert result.verdict == "personalized_better"


def test_compare_says_control_is_better_when_the_generic_page_converts_significantly_more():
    result = stats.compare(200, 40, 200, 60)
    assert result.lift == pytest.approx(-1 / 3)
    assert result.ci_high < 0
    assert result.verdict == "control_better"


def test_compare_finds_no_clear_difference_when_p_is_not_below_alpha():
    assert stats.compare(200, 60, 200, 40, alpha=0.01).verdict == "no_clear_difference"
    result = stats.compare(100, 11, 100, 10)
    assert not result.significant and result.ci_low < 0 < result.ci_high
    assert result.verdict == "no_clear_difference"


def test_compare_uses_fisher_when_an_expected_cell_is_below_five():
    # Expected conversions in the control group: 6 * 9 / 16 = 3.4 < 5.
    result = stats.compare(10, 8, 6, 1, min_visitors=5)
    assert result.test == "fisher"
    assert result.p_value == pytest.approx(5 / 143, rel=1e-12)
    assert result.verdict == "personalized_better"


def test_compare_says_not_enough_data_below_min_visitors_even_when_significant():
    result = stats.compare(10, 8, 6, 1)
    assert result.significant and not result.enough_data
    assert result.verdict == "not_enough_data"
    assert stats.compare(29, 20, 400, 40).verdict == "not_enough_data"
    assert stats.compare(30, 20, 400, 40).verdict == "personalized_better"


def test_compare_with_zero_visitors_computes_nothing():
    result = stats.compare(0, 0, 0, 0)
    assert (result.personalized_rate, result.control_rate, result.lift, result.difference) == (None,) * 4
    assert (result.p_value, result.ci_low, result.ci_high, result.test) == (None, None, None, "")
    assert not result.significant and result.verdict == "not_enough_data"
    one_sided = stats.compare(120, 12, 0, 0)
    assert one_sided.personalized_rate == 0.1 and one_sided.control_rate is None
    assert one_sided.p_value is None and one_sided.verdict == "not_enough_data"


def test_compare_when_every_visitor_converted_shows_no_difference():
    result = stats.compare(40, 40, 50, 50)
    assert result.test == "fisher"  # no visitor failed to convert: expected non-conversions are 0
    assert result.p_value == 1.0 and result.difference == 0 and result.lift == 0
    assert result.ci_low < 0 < result.ci_high
    assert result.verdict == "no_clear_difference"


def test_compare_has_no_lift_when_the_control_group_never_converted():
    result = stats.compare(100, 10, 100, 0)
    assert result.lift is None and result.difference == pytest.approx(0.1)
    assert result.verdict == "personalized_better"


@pytest.mark.parametrize("args, message", [
    ((-1, 0, 10, 1), "personalized visitors must not be negative"),
    ((10, -1, 10, 1), "personalized conversions must not be negative"),
    ((10, 11, 10, 1), "personalized conversions \\(11\\) exceed personalized visitors \\(10\\)"),
    ((10, 1, 10, 12), "control conversions \\(12\\) exceed control visitors \\(10\\)"),
])
def test_compare_rejects_negative_counts_and_more_conversions_than_visitors(args, message):
    with pytest.raises(ValueError, match=message):
        stats.compare(*args)


def test_invalid_input_to_the_building_blocks_raises():
    with pytest.raises(ValueError, match="must not be negative"):
        stats.fisher_exact_two_sided(1, -2, 3, 4)
    with pytest.raises(ValueError, match="at least one visitor"):
        stats.two_proportion_z(0, 0, 1, 10)
    with pytest.raises(ValueError, match="exceed"):
        stats.wilson_interval(5, 4)
    with pytest.raises(ValueError, match="alpha"):
        stats.compare(10, 1, 10, 1, alpha=1.5)
    with pytest.raises(TypeError, match="whole number"):
        stats.compare(10.5, 1, 10, 1)
