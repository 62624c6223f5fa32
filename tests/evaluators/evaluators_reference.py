"""Slow, obviously correct reference implementations used by the evaluators tests.

Written independently of the code under test: pair counting instead of ranks, explicit placement values instead
of tie groups, a Python loop instead of resampling counts.
"""

from __future__ import annotations

import numpy as np


def auroc_bruteforce(y, s) -> float:
    """AUROC by counting every (positive, negative) pair: 1 if the positive scores higher, 1/2 if tied."""
    y = np.asarray(y, dtype=bool)
    s = np.asarray(s, dtype=float)
    pos = s[y]
    neg = s[~y]
    total = 0.0
    for p in pos:
        for q in neg:
            total += 1.0 if p > q else 0.5 if p == q else 0.0
    return total / (len(pos) * len(neg))


def placements(y, s):
    """DeLong placement values: V10 for each positive, V01 for each negative, from the pair kernel matrix."""
    y = np.asarray(y, dtype=bool)
    s = np.asarray(s, dtype=float)
    pos = s[y][:, None]
    neg = s[~y][None, :]
    psi = (pos > neg) + 0.5 * (pos == neg)
    return psi.mean(axis=1), psi.mean(axis=0)


def delong_variance_explicit(y, s) -> tuple[float, float]:
    """AUROC and its DeLong (1988) variance: var(V10)/m + var(V01)/n with unbiased sample variances."""
    v10, v01 = placements(y, s)
    return float(v10.mean()), float(np.var(v10, ddof=1) / v10.size + np.var(v01, ddof=1) / v01.size)


def delong_paired_explicit(y, a, b) -> tuple[float, float]:
    """Difference of AUROCs (a - b) and its DeLong variance from the 2x2 covariance of placement values."""
    v10a, v01a = placements(y, a)
    v10b, v01b = placements(y, b)
    s10 = np.cov(np.vstack([v10a, v10b]))
    s01 = np.cov(np.vstack([v01a, v01b]))
    cov = s10 / v10a.size + s01 / v01a.size
    contrast = np.array([1.0, -1.0])
    return float(v10a.mean() - v10b.mean()), float(contrast @ cov @ contrast)
