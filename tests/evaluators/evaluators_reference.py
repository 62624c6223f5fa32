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
