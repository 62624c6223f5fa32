"""Confidence intervals for a binomial proportion (Wilson score, Clopper-Pearson exact).

References
----------
Wilson EB. Probable inference, the law of succession, and statistical inference. JASA 1927;22:209-212.
Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the case of the binomial.
Biometrika 1934;26:404-413.
Brown LD, Cai TT, DasGupta A. Interval estimation for a binomial proportion. Stat Sci 2001;16:101-133.
"""

from __future__ import annotations

import math

from evaluators._inputs import level_z
from evaluators._records import Estimate
from evaluators.exceptions import InvalidParameterError

__all__ = ["PROPORTION_METHODS", "proportion_ci"]

PROPORTION_METHODS = ("wilson", "clopper-pearson")


def _count(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise InvalidParameterError(f"{name} must be a non-negative integer count; got {value!r}.")
    try:
        as_int = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{name} must be a non-negative integer count; got {value!r}.") from None
    if as_int != value or as_int < 0:
        raise InvalidParameterError(f"{name} must be a non-negative integer count; got {value!r}.")
    return as_int


def proportion_ci(k: int, n: int, *, method: str = "wilson", level: float = 0.95) -> Estimate:
    """Proportion ``k / n`` with a two-sided confidence interval.

    Parameters
    ----------
    k : int
        Number of successes, ``0 <= k <= n``.
    n : int
        Number of trials.
    method : {"wilson", "clopper-pearson"}
        Wilson score interval, or the exact (conservative) Clopper-Pearson interval from beta quantiles.
    level : float
        Confidence level.

    Returns
    -------
    Estimate
        NaN with a note when ``n == 0``.

    Examples
    --------
    >>> e = proportion_ci(18, 20)
    >>> round(e.ci_low, 4), round(e.ci_high, 4)
    (0.699, 0.9721)
    """
    k = _count("k", k)
    n = _count("n", n)
    if k > n:
        raise InvalidParameterError(f"k ({k}) cannot exceed n ({n}); k counts successes among n trials.")
    if method not in PROPORTION_METHODS:
        raise InvalidParameterError(f"method must be one of {PROPORTION_METHODS}; got {method!r}.")
    z = level_z(level)
    if n == 0:
        return Estimate.undefined("undefined: no cases (n=0)", level=level, method=method, n=0)
    p = k / n
    if method == "wilson":
        z2 = z * z
        denom = 1.0 + z2 / n
        centre = (p + z2 / (2.0 * n)) / denom
        half = z / denom * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
        low, high = max(0.0, centre - half), min(1.0, centre + half)
        if k == 0:
            low = 0.0
        if k == n:
            high = 1.0
    else:
        from scipy.special import betaincinv

        alpha = 1.0 - level
        low = 0.0 if k == 0 else float(betaincinv(k, n - k + 1, alpha / 2.0))
        high = 1.0 if k == n else float(betaincinv(k + 1, n - k, 1.0 - alpha / 2.0))
    return Estimate(estimate=p, ci_low=low, ci_high=high, level=level, method=method, n=n)
