"""Slow, obviously correct reference implementations used by the evaluators tests.

Written independently of the code under test: pair counting instead of ranks, explicit placement values instead
of tie groups, a Python loop instead of resampling counts.
"""

from __future__ import annotations

import math

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


def replicate_rng(seed: int, b: int) -> np.random.Generator:
    """Generator of replicate b, as documented in evaluators._bootstrap."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(b,))))


def auroc_bootstrap_loop(y, s, seed: int, n_boot: int, site=None) -> np.ndarray:
    """Class (x site) stratified bootstrap of the AUROC, one resample at a time, with sklearn.

    Follows the documented draw protocol of ``auroc_ci(method="bootstrap")``: for replicate b, first the smaller
    class (negatives if equal), site by site in sorted order, drawing indices into that site's cases of the class
    in ascending score order; then the other class, site by site, into its cases in data order.
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=bool)
    s = np.asarray(s, dtype=float)
    site = np.zeros(y.size, dtype=int) if site is None else np.asarray(site)
    prefix_is_neg = (~y).sum() <= y.sum()
    prefix = ~y if prefix_is_neg else y
    by_score = np.argsort(s, kind="stable")
    out = np.empty(n_boot)
    for b in range(n_boot):
        rng = replicate_rng(seed, b)
        idx = []
        for k in np.unique(site):
            members = by_score[(prefix & (site == k))[by_score]]
            if members.size:
                idx.append(members[rng.integers(0, members.size, size=members.size)])
        for k in np.unique(site):
            members = np.flatnonzero(~prefix & (site == k))
            if members.size:
                idx.append(members[rng.integers(0, members.size, size=members.size)])
        idx = np.concatenate(idx)
        out[b] = roc_auc_score(y[idx], s[idx])
    return out


def counts_loop(n: int, seed: int, n_boot: int, strata=None, clusters=None) -> np.ndarray:
    """Per-case resampling counts by the documented protocol of ``bootstrap_counts``, one draw at a time.

    Strata in sorted label order; within a stratum, units (cases or clusters) in order of first appearance;
    each stratum is resampled with replacement to its own number of units.
    """
    strata = np.zeros(n, dtype=int) if strata is None else np.asarray(strata)
    clusters = np.arange(n) if clusters is None else np.asarray(clusters)
    out = np.zeros((n_boot, n), dtype=int)
    for b in range(n_boot):
        rng = replicate_rng(seed, b)
        for k in np.unique(strata):
            units = list(dict.fromkeys(clusters[strata == k].tolist()))
            for pick in rng.integers(0, len(units), size=len(units)):
                out[b] += clusters == units[pick]
    return out


def newton_one_replicate(w, y, x, *, slope, max_iter=100, tol=1e-10):
    """One replicate, directly over its cases: logit P(y) = a + b x (or a + x), halving until no decrease."""
    def loglik(a, b):
        eta = a + b * x
        return float(np.sum(w * (y * eta - np.logaddexp(0.0, eta))))

    a, b = 0.0, 1.0
    for _ in range(max_iter):
        mu = 1.0 / (1.0 + np.exp(-(a + b * x)))
        r, v = w * (y - mu), w * mu * (1.0 - mu)
        ga, haa = r.sum(), v.sum()
        if slope:
            gb, hab, hbb = r @ x, v @ x, v @ (x * x)
            det = haa * hbb - hab * hab
            da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        else:
            da, db = ga / haa, 0.0
        if not math.isfinite(abs(da) + abs(db)):
            return math.nan, math.nan
        before, scale = loglik(a, b), 1.0
        for _ in range(40):
            if loglik(a + scale * da, b + scale * db) >= before - 1e-12 * abs(before):
                break
            scale /= 2.0
        a, b = a + scale * da, b + scale * db
        if abs(scale * da) + abs(scale * db) < tol:
            return a, b
    return math.nan, math.nan


def recalibration_fit(w, y, x, *, slope):
    """Calibration intercept (``slope=False``) or slope of one weighted replicate; NaN where undefined."""
    present = w > 0
    yb = y > 0.5
    if not (present & yb).any() or not (present & ~yb).any():
        return math.nan
    if slope:
        neg, pos = x[present & ~yb], x[present & yb]
        if neg.max() <= pos.min() or pos.max() <= neg.min():
            return math.nan  # (quasi-)complete separation: infinite slope
    a, b = newton_one_replicate(w, y, x, slope=slope)
    return b if slope else a


def clipped_logit(p):
    """logit of probabilities clipped to [1e-12, 1 - 1e-12]."""
    q = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(q) - np.log1p(-q)
