"""Holdout statistics: does personalization convert better than the generic page?

Pure and database-free. Identified visitors of a landing page are split into a
personalized group and a control (holdout) group that sees the generic page; a
visitor converts by clicking a call to action or filling a form.

    result = stats.compare(p_visitors, p_conversions, c_visitors, c_conversions)
    result.verdict   # personalized_better, control_better, no_clear_difference, not_enough_data

Which test when, and why: Fisher's exact test when any expected cell count of
the 2x2 table is below 5, where the normal approximation is poor (small pages,
rare conversions); otherwise the pooled two-proportion z-test, accurate and
cheap for large counts. Fisher's two-sided p is scipy.stats.fisher_exact's: the
total probability of the tables with the same margins that are as likely as the
observed one or less (relative tolerance 1e-7). It works in log-gamma, so counts
in the millions neither overflow nor take long: the cut-off beyond the mode is
found by bisection and each tail is summed only until the rest is negligible.

The 95% interval of the difference (personalized rate minus control rate) is
Newcombe's hybrid score interval (1998, method 10) built from the two Wilson
intervals; unlike the Wald interval it stays in [-1, 1] and copes with 0% and
100% conversion. The verdict is "not_enough_data" until both groups have
`min_visitors` visitors; then the sign of the difference decides, if p < alpha.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # two-sided 95% normal quantile
FISHER_RTOL = 1e-7  # as scipy.stats.fisher_exact
EPS = 1e-17  # a tail is summed until what is left is below EPS times the running sum


@dataclass(frozen=True)
class Comparison:
    personalized_visitors: int
    personalized_conversions: int
    control_visitors: int
    control_conversions: int
    personalized_rate: float | None  # None when no visitors
    control_rate: float | None
    lift: float | None  # (p_rate - c_rate) / c_rate; None when the control rate is 0 or missing
    difference: float | None  # p_rate - c_rate, as a fraction (0.05 = 5 percentage points)
    p_value: float | None  # two-sided; None when either group has no visitors
    test: str  # "fisher", "z", or "" when not computable
    ci_low: float | None  # 95% interval of `difference` (Newcombe hybrid score)
    ci_high: float | None
    significant: bool  # p_value < alpha
    enough_data: bool  # both groups have at least min_visitors visitors
    verdict: str  # not_enough_data, personalized_better, control_better, no_clear_difference


def _check(conversions: int, visitors: int, group: str) -> None:
    for name, value in (("visitors", visitors), ("conversions", conversions)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{group} {name} must be a whole number, got {value!r}")
        if value < 0:
            raise ValueError(f"{group} {name} must not be negative, got {value}")
    if conversions > visitors:
        raise ValueError(f"{group} conversions ({conversions}) exceed {group} visitors ({visitors})")


def _lchoose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact_two_sided(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p of Fisher's exact test for the 2x2 table [[a, b], [c, d]], as scipy computes it."""
    for i, value in enumerate((a, b, c, d)):
        _check(0, value, f"cell {i + 1}")
    r1, c1, n = a + b, a + c, a + b + c + d
    lo, hi = max(0, r1 + c1 - n), min(r1, c1)  # possible values of the top-left cell

    def logpmf(x: int) -> float:
        return _lchoose(c1, x) + _lchoose(n - c1, r1 - x) - _lchoose(n, r1)

    observed = logpmf(a)
    cutoff = observed + math.log1p(FISHER_RTOL)
    mode = min(hi, max(lo, (r1 + 1) * (c1 + 1) // (n + 2)))
    if logpmf(mode) <= cutoff:
        return 1.0  # the observed table is (within tolerance) the most likely one

    def edge(outside: int, inside: int) -> int:
        """Bisect for the table nearest the mode that is no more likely than the observed one."""
        # log-pmf rises up to the mode and falls after it; invariant: logpmf(outside) <= cutoff < logpmf(inside)
        while abs(inside - outside) > 1:
            mid = (outside + inside) // 2
            outside, inside = (mid, inside) if logpmf(mid) <= cutoff else (outside, mid)
        return outside

    def tail(x: int, end: int, step: int) -> float:
        """Sum of pmf / observed pmf from x to end, moving away from the mode."""
        if (end - x) * step < 0:
            return 0.0  # x is past the end of the support: this tail is empty
        term, total = math.exp(logpmf(x) - observed), 0.0
        while True:
            total += term
            if x == end or term == 0.0:
                return total
            a, b, c, d = x, r1 - x, c1 - x, n - r1 - c1 + x
            ratio = b * c / ((a + 1) * (d + 1)) if step > 0 else a * d / ((b + 1) * (c + 1))
            # log-concave: later ratios are smaller, so the rest is at most term * ratio / (1 - ratio)
            if ratio < 1 and term * ratio < EPS * total * (1 - ratio):
                return total
            x, term = x + step, term * ratio

    total = tail(edge(lo - 1, mode), lo, -1) + tail(edge(hi + 1, mode), hi, 1)
    return min(1.0, math.exp(observed) * total)


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """Pooled two-proportion z-test of x1/n1 against x2/n2: (z, two-sided p)."""
    _check(x1, n1, "first group")
    _check(x2, n2, "second group")
    if not n1 or not n2:
        raise ValueError("both groups need at least one visitor for a z-test")
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0  # nobody or everybody converted: no evidence of a difference
    z = (x1 / n1 - x2 / n2) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def wilson_interval(x: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for the proportion x/n."""
    _check(x, n, "group")
    if not n:
        raise ValueError("a proportion needs at least one visitor")
    centre = (x + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * math.sqrt(x * (n - x) / n + z * z / 4)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> tuple[float, float]:
    """Newcombe's hybrid score interval (1998, method 10) for x1/n1 - x2/n2."""
    p1, p2 = x1 / n1, x2 / n2
    (l1, u1), (l2, u2) = wilson_interval(x1, n1, z), wilson_interval(x2, n2, z)
    d = p1 - p2
    return d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2)


def compare(personalized_visitors: int, personalized_conversions: int, control_visitors: int,
            control_conversions: int, *, alpha: float = 0.05, min_visitors: int = 30) -> Comparison:
    """Conversion of personalized against control visitors, with a significance test and a verdict."""
    pn, px, cn, cx = personalized_visitors, personalized_conversions, control_visitors, control_conversions
    _check(px, pn, "personalized")
    _check(cx, cn, "control")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    p_rate = px / pn if pn else None
    c_rate = cx / cn if cn else None
    difference = lift = p_value = ci_low = ci_high = None
    test = ""
    if pn and cn:
        difference = p_rate - c_rate
        lift = difference / c_rate if c_rate else None
        n, converted = pn + cn, px + cx
        expected = (pn * converted / n, pn * (n - converted) / n, cn * converted / n, cn * (n - converted) / n)
        if min(expected) < 5:
            test, p_value = "fisher", fisher_exact_two_sided(px, pn - px, cx, cn - cx)
        else:
            test, p_value = "z", two_proportion_z(px, pn, cx, cn)[1]
        ci_low, ci_high = newcombe_interval(px, pn, cx, cn)
    significant = p_value is not None and p_value < alpha
    enough = pn >= min_visitors and cn >= min_visitors
    if not enough:
        verdict = "not_enough_data"
    elif significant and difference > 0:
        verdict = "personalized_better"
    elif significant and difference < 0:
        verdict = "control_better"
    else:
        verdict = "no_clear_difference"
    return Comparison(pn, px, cn, cx, p_rate, c_rate, lift, difference, p_value, test, ci_low, ci_high,
                      significant, enough, verdict)
