"""Aggregate curves of a scored run: the pooled ROC curve with a bootstrap confidence band, and the calibration
(reliability) curve with Wilson intervals per bin.

Both are computed outside the sandbox, where scores meet labels, and keep only aggregates: the ROC curve as
sensitivity at a fixed grid of specificities (never the per-case thresholds), the calibration curve as quantile bins
of at least ``min_cell`` cases. They are stored with the run's hashed ``results.json`` and drawn by the reports.

ROC points follow one rule, stated so that anyone can recompute them: at specificity ``s`` the curve gives the
highest sensitivity of any threshold ("score >= t is positive") whose specificity is at least ``s``. The band is
the percentile interval of that quantity over stratified bootstrap replicates (cases resampled within positives and
within negatives, as pROC's ``ci.se`` does), seeded from what was evaluated so that it is reproducible.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["ROC_GRID", "ROC_BOOT", "roc_points", "roc_band", "calibration_bins", "run_curves"]

ROC_GRID = tuple(round(i / 50, 2) for i in range(51))  # specificity 0.00, 0.02, ..., 1.00
ROC_BOOT = 1000
_CHUNK = 25


def _sorted_counts(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The order of cases by decreasing score, their labels in that order, and the last index of each tie group."""
    order = np.argsort(-s, kind="stable")
    ys, ss = y[order], s[order]
    ends = np.flatnonzero(np.r_[ss[1:] != ss[:-1], True])
    return order, ys, ends


def _sens_at(tp: np.ndarray, fp: np.ndarray, n_pos: np.ndarray, n_neg: np.ndarray,
             grid: np.ndarray) -> np.ndarray:
    """Rows of cumulative (tp, fp) counts per threshold (with the leading 0): sensitivity at each grid specificity.

    ``fp <= (1 - s) * n_neg`` is the condition "specificity at least s"; counts are non-decreasing along a row, so
    the best threshold is the last one that satisfies it."""
    out = np.empty((tp.shape[0], grid.size))
    for r in range(tp.shape[0]):
        limit = (1.0 - grid) * n_neg[r] + 1e-9 * max(1.0, float(n_neg[r]))
        k = np.searchsorted(fp[r], limit, side="right") - 1
        out[r] = tp[r, k] / n_pos[r]
    return out


def roc_points(y, s, grid=ROC_GRID) -> np.ndarray:
    """Sensitivity at each specificity of ``grid`` on the empirical ROC curve of labels ``y`` (0/1) and scores
    ``s`` (see the module docstring for the rule)."""
    y = np.asarray(y, dtype=int)
    s = np.asarray(s, dtype=float)
    _, ys, ends = _sorted_counts(y, s)
    tp = np.r_[0, np.cumsum(ys)[ends]][None, :].astype(float)
    fp = np.r_[0, np.cumsum(1 - ys)[ends]][None, :].astype(float)
    return _sens_at(tp, fp, np.array([ys.sum()]), np.array([len(ys) - ys.sum()]), np.asarray(grid, float))[0]


def roc_band(y, s, *, seed: int, n_boot: int = ROC_BOOT, grid=ROC_GRID, level: float = 0.95
             ) -> tuple[np.ndarray, np.ndarray]:
    """Percentile band (low, high) of the sensitivity at each grid specificity over ``n_boot`` stratified bootstrap
    replicates. Replicate ``b`` draws positives then negatives with replacement from ``numpy.random.default_rng``
    seeded with ``seed``; its case weights are the draw counts."""
    y = np.asarray(y, dtype=int)
    s = np.asarray(s, dtype=float)
    grid = np.asarray(grid, float)
    order, ys, ends = _sorted_counts(y, s)
    pos_at = np.flatnonzero(ys == 1)  # positions (in score order) of positives and of negatives
    neg_at = np.flatnonzero(ys == 0)
    n_pos, n_neg = pos_at.size, neg_at.size
    rng = np.random.default_rng(seed)
    sens = np.empty((n_boot, grid.size))
    for start in range(0, n_boot, _CHUNK):
        m = min(_CHUNK, n_boot - start)
        wp = np.zeros((m, ys.size))
        wn = np.zeros((m, ys.size))
        for r in range(m):
            wp[r] = np.bincount(pos_at[rng.integers(0, n_pos, n_pos)], minlength=ys.size)
            wn[r] = np.bincount(neg_at[rng.integers(0, n_neg, n_neg)], minlength=ys.size)
        tp = np.concatenate([np.zeros((m, 1)), np.cumsum(wp, axis=1)[:, ends]], axis=1)
        fp = np.concatenate([np.zeros((m, 1)), np.cumsum(wn, axis=1)[:, ends]], axis=1)
        sens[start:start + m] = _sens_at(tp, fp, np.full(m, n_pos), np.full(m, n_neg), grid)
    alpha = (1.0 - level) / 2
    return np.quantile(sens, alpha, axis=0), np.quantile(sens, 1 - alpha, axis=0)


def calibration_bins(y, s, *, min_cell: int, max_bins: int = 10) -> list[dict]:
    """Quantile bins of the scores (as many as ``max_bins`` while each keeps at least ``min_cell`` cases): mean
    predicted probability, observed fraction with its Wilson 95% interval, and the count."""
    from evaluators import reliability_curve

    n = len(y)
    n_bins = min(max_bins, n // max(min_cell, 1))
    if n_bins < 2:
        return []
    table = reliability_curve(np.asarray(y, dtype=int), np.asarray(s, dtype=float), n_bins=n_bins,
                              strategy="quantile")
    return [{"bin": int(r.bin), "mean_predicted": float(r.mean_predicted), "observed": float(r.observed),
             "ci_low": float(r.ci_low), "ci_high": float(r.ci_high), "n": int(r.n)} for r in table.itertuples()]


def run_curves(y, s, *, seed_key: str, min_cell: int) -> dict:
    """The curves section of a run's results: ``{"roc": ..., "calibration": ...}``; a curve that is undefined
    (one class only, too few cases) is ``None`` with the reason in ``why``."""
    y = np.asarray(y, dtype=int)
    s = np.asarray(s, dtype=float)
    n_pos = int(y.sum())
    n_neg = int(len(y) - n_pos)
    roc = None
    why = []
    if n_pos >= 2 and n_neg >= 2:
        seed = int.from_bytes(hashlib.sha256(f"{seed_key}/roc-band".encode()).digest()[:8], "big")
        low, high = roc_band(y, s, seed=seed)
        sens = roc_points(y, s)
        roc = {"rule": "highest sensitivity of any threshold with specificity >= s",
               "band": f"stratified bootstrap percentile, {ROC_BOOT} replicates, 95%",
               "n_pos": n_pos, "n_neg": n_neg,
               "points": [{"specificity": sp, "sensitivity": float(se), "ci_low": float(lo), "ci_high": float(hi)}
                          for sp, se, lo, hi in zip(ROC_GRID, sens, low, high, strict=True)]}
    else:
        why.append("ROC: needs at least two positive and two negative cases")
    bins = calibration_bins(y, s, min_cell=min_cell) if len(y) else []
    calibration = ({"strategy": "quantile", "interval": "Wilson 95%", "bins": bins} if bins else None)
    if calibration is None:
        why.append(f"calibration: fewer than {2 * max(min_cell, 1)} cases")
    return {"roc": roc, "calibration": calibration, "why": "; ".join(why)}
