"""Calibration of predicted probabilities: Brier score, ECE, logistic recalibration, reliability curve.

All statistics have a weighted form evaluated on many bootstrap replicates at once (weights of shape (m, n)),
which :func:`calibration_ci` uses for its intervals.

References
----------
Brier GW. Verification of forecasts expressed in terms of probability. Monthly Weather Review 1950;78:1-3.
Cox DR. Two further applications of a model for binary regression. Biometrika 1958;45:562-565.
Van Calster B et al. A calibration hierarchy for risk models was defined: from utopia to empirical data.
J Clin Epidemiol 2016;74:167-176.
Naeini MP, Cooper GF, Hauskrecht M. Obtaining well calibrated probabilities using Bayesian binning. AAAI 2015.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from evaluators import _inputs
from evaluators._bootstrap import (
    check_n_boot,
    chunk_size,
    draw_counts,
    draw_weights,
    estimate_from_replicates,
    jackknife_values,
    make_layout,
    run_chunks,
    seed_sequence,
)
from evaluators._recalibration import newton_step
from evaluators._records import Estimate
from evaluators._serial_matmul import serial_matmul
from evaluators.exceptions import InvalidInputError, InvalidParameterError

__all__ = [
    "brier_score",
    "calibration_ci",
    "calibration_intercept",
    "calibration_slope",
    "ece",
    "reliability_curve",
]

#: Probabilities are clipped to [EPS, 1 - EPS] before taking logits for recalibration.
EPS = 1e-12


def _prepare(y_true: Any, y_prob: Any, pos_label: Any) -> tuple[np.ndarray, np.ndarray]:
    y = _inputs.binary_labels(y_true, pos_label=pos_label)
    p = _inputs.scores(y_prob, n=y.shape[0], name="y_prob")
    if np.any((p < 0) | (p > 1)):
        raise InvalidInputError("y_prob must be probabilities in [0, 1]; rescale scores before calibration.")
    return y, p


def _bin_index(p: np.ndarray, n_bins: int, strategy: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise InvalidParameterError(f"n_bins must be a positive int (10 is usual); got {n_bins!r}.")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1)) if p.size else np.linspace(0, 1, n_bins + 1)
        edges[0], edges[-1] = 0.0, 1.0
    else:
        raise InvalidParameterError(f"strategy must be 'uniform' or 'quantile'; got {strategy!r}.")
    return np.searchsorted(edges[1:-1], p, side="right"), edges


# ---- weighted kernels: w has shape (m, n) --------------------------------------------------------------

def _w_brier(w: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return (w @ (p - y) ** 2) / w.sum(axis=1)


def _w_ece(w: np.ndarray, y: np.ndarray, p: np.ndarray, bins: np.ndarray, n_bins: int) -> np.ndarray:
    onehot = np.zeros((p.shape[0], n_bins))
    onehot[np.arange(p.shape[0]), bins] = 1.0
    count = w @ onehot
    gap = np.abs((w * y) @ onehot - (w * p) @ onehot)
    return gap.sum(axis=1) / count.sum(axis=1)


def _w_loglik(w: np.ndarray, y: np.ndarray, x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Weighted Bernoulli log-likelihood of logit P(y) = a + b x, per weight row (numerically stable)."""
    eta = a[:, None] + b[:, None] * x[None, :]
    return (w * (y * eta - np.logaddexp(0.0, eta))).sum(axis=1)


def _w_logistic(w: np.ndarray, y: np.ndarray, x: np.ndarray, *, slope: bool, max_iter: int = 100,
                tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Newton-Raphson for logit P(y) = a + b x (``slope=True``) or a + x (offset), per weight row."""
    from scipy.special import expit

    m = w.shape[0]
    a = np.zeros(m)
    b = np.ones(m)
    converged = np.zeros(m, dtype=bool)
    for _ in range(max_iter):
        mu = expit(a[:, None] + b[:, None] * x[None, :])
        r = w * (y - mu)
        v = w * mu * (1.0 - mu)
        if slope:
            da, db, ok = newton_step(r.sum(axis=1), r @ x, v.sum(axis=1), v @ x, v @ (x * x))
        else:
            da, db, ok = newton_step(r.sum(axis=1), None, v.sum(axis=1), None, None)
        # Step halving: a full Newton step from b = 1 can overshoot when the logits are extreme (scores near 0
        # or 1); halve it until the weighted log-likelihood does not decrease (the fit then always converges
        # for a non-separated sample, as statsmodels' does).
        before = _w_loglik(w, y, x, a, b)
        scale = np.ones(m)
        for _ in range(40):
            after = _w_loglik(w, y, x, a + scale * da, b + scale * db)
            worse = ok & ~converged & ~(after >= before - 1e-12 * np.abs(before))
            if not worse.any():
                break
            scale = np.where(worse, scale / 2.0, scale)
        da, db = scale * da, scale * db
        a = np.where(ok & ~converged, a + da, a)
        b = np.where(ok & ~converged, b + db, b)
        converged |= ok & (np.abs(da) + np.abs(db) < tol)
        if converged.all():
            break
    present = w > 0
    n_pos = (present & (y > 0.5)).sum(axis=1)
    one_class = (n_pos == 0) | (n_pos == present.sum(axis=1))
    bad = ~converged | one_class
    if slope:
        # (quasi-)complete separation on x: the maximum-likelihood slope is infinite
        yb = y > 0.5
        neg_max = np.where(present & ~yb, x, -np.inf).max(axis=1)
        pos_min = np.where(present & yb, x, np.inf).min(axis=1)
        neg_min = np.where(present & ~yb, x, np.inf).min(axis=1)
        pos_max = np.where(present & yb, x, -np.inf).max(axis=1)
        bad |= (neg_max <= pos_min) | (pos_max <= neg_min)
    return np.where(bad, np.nan, a), np.where(bad, np.nan, b)


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, EPS, 1.0 - EPS)
    return np.log(q) - np.log1p(-q)


# ---- public point metrics ------------------------------------------------------------------------------

def brier_score(y_true: Any, y_prob: Any, *, pos_label: Any = None) -> float:
    """Brier score: mean squared difference between probability and outcome (lower is better).

    Examples
    --------
    >>> brier_score([1, 0], [0.8, 0.4])
    0.1
    """
    y, p = _prepare(y_true, y_prob, pos_label)
    if y.size == 0:
        return math.nan
    return float(np.mean((p - y) ** 2))


def ece(y_true: Any, y_prob: Any, *, n_bins: int = 10, strategy: str = "uniform", pos_label: Any = None) -> float:
    """Expected calibration error over bins of predicted probability.

    ``ECE = sum_b (n_b / n) |mean(y in b) - mean(p in b)|``. With ``strategy="uniform"`` bin ``k`` is
    ``[k/B, (k+1)/B)`` (the last bin includes 1.0), as in ``sklearn.calibration.calibration_curve``; with
    ``"quantile"`` the edges are the ``k/B`` quantiles of ``y_prob``. Empty bins contribute nothing.
    """
    y, p = _prepare(y_true, y_prob, pos_label)
    if y.size == 0:
        return math.nan
    bins, _ = _bin_index(p, n_bins, strategy)
    return float(_w_ece(np.ones((1, y.size)), y.astype(float), p, bins, n_bins)[0])


def calibration_slope(y_true: Any, y_prob: Any, *, pos_label: Any = None) -> float:
    """Calibration slope: ``b`` in ``logit P(y=1) = a + b logit(p)`` fitted by maximum likelihood.

    1 is ideal; below 1 means predictions too extreme. NaN if the fit does not converge (e.g. separation).
    Probabilities are clipped to [1e-12, 1 - 1e-12] before the logit.
    """
    y, p = _prepare(y_true, y_prob, pos_label)
    if y.size == 0 or y.all() or not y.any():
        return math.nan
    _, b = _w_logistic(np.ones((1, y.size)), y.astype(float), _logit(p), slope=True)
    return float(b[0])


def calibration_intercept(y_true: Any, y_prob: Any, *, pos_label: Any = None) -> float:
    """Calibration intercept (calibration-in-the-large): ``a`` in ``logit P(y=1) = a + logit(p)``.

    0 is ideal; above 0 means predicted risks are too low on average.
    """
    y, p = _prepare(y_true, y_prob, pos_label)
    if y.size == 0 or y.all() or not y.any():
        return math.nan
    a, _ = _w_logistic(np.ones((1, y.size)), y.astype(float), _logit(p), slope=False)
    return float(a[0])


def reliability_curve(y_true: Any, y_prob: Any, *, n_bins: int = 10, strategy: str = "uniform",
                      level: float = 0.95, pos_label: Any = None):
    """Reliability-diagram points: per non-empty bin, mean prediction and observed fraction with a Wilson CI.

    Returns
    -------
    pandas.DataFrame
        Columns ``bin, bin_low, bin_high, mean_predicted, observed, ci_low, ci_high, n``.
    """
    import pandas as pd

    from evaluators._proportions import proportion_ci

    y, p = _prepare(y_true, y_prob, pos_label)
    bins, edges = _bin_index(p, n_bins, strategy)
    rows = []
    for k in range(n_bins):
        sel = bins == k
        n = int(sel.sum())
        if n == 0:
            continue
        e = proportion_ci(int(y[sel].sum()), n, method="wilson", level=level)
        rows.append({"bin": k, "bin_low": edges[k], "bin_high": edges[k + 1],
                     "mean_predicted": float(p[sel].mean()), "observed": e.estimate, "ci_low": e.ci_low,
                     "ci_high": e.ci_high, "n": n})
    return pd.DataFrame(rows, columns=["bin", "bin_low", "bin_high", "mean_predicted", "observed", "ci_low",
                                       "ci_high", "n"])


def calibration_ci(y_true: Any, y_prob: Any, *, n_boot: int = 2000, seed: Any, method: str = "percentile",
                   level: float = 0.95, n_bins: int = 10, strategy: str = "uniform", strata: Any = None,
                   clusters: Any = None, workers: int = 1, pos_label: Any = None) -> dict[str, Estimate]:
    """Brier score, ECE, calibration intercept and slope, each with a bootstrap interval.

    Resampling is stratified by class (and by ``strata``, e.g. site) unless ``clusters`` is given, in which case
    whole clusters are resampled within ``strata``. ECE bins are fixed from the full sample. Replicates where the
    recalibration fit does not converge are dropped and counted in ``note``.

    The four statistics share one set of replicates: those of ``bootstrap_ci(statistic, n, seed=seed,
    strata=<class x strata>, clusters=clusters)``. Brier and ECE are matrix products of the resampling counts; the
    intercept and slope of every replicate are refitted by the same Newton-Raphson iteration as
    :func:`calibration_slope` (start ``a = 0, b = 1``, step halving, ``|step| < 1e-10``), with the weighted sums over
    cases taken from per-bin Taylor moments of the counts (see ``evaluators._recalibration``); a replicate the
    series cannot certify is refitted over its cases directly. Both equal the direct per-replicate fits to rounding.

    Returns
    -------
    dict
        ``{"brier": Estimate, "ece": Estimate, "calibration_intercept": Estimate, "calibration_slope": Estimate}``
    """
    y, p = _prepare(y_true, y_prob, pos_label)
    n = y.size
    n_pos = int(y.sum())
    yf = y.astype(float)
    bins, _ = _bin_index(p, n_bins, strategy)
    x = _logit(p)
    if clusters is None:
        key = y.astype(np.intp) if strata is None else \
            y.astype(np.intp) + 2 * _inputs.groups(strata, n=n, name="strata")
    else:
        key = strata
    stats = {
        "brier": lambda w: _w_brier(w, yf, p),
        "ece": lambda w: _w_ece(w, yf, p, bins, n_bins),
        "calibration_intercept": lambda w: _w_logistic(w, yf, x, slope=False)[0],
        "calibration_slope": lambda w: _w_logistic(w, yf, x, slope=True)[1],
    }
    if method not in ("percentile", "bca"):
        raise InvalidParameterError(f"method must be 'percentile' or 'bca'; got {method!r}.")
    check_n_boot(n_boot)
    _inputs.level_z(level)  # a bad level fails here, not after the bootstrap
    estimates = {name: float(stat(np.ones((1, n)))[0]) for name, stat in stats.items()}
    reps = _replicates(yf, p, x, bins, n_bins, key=key, clusters=clusters, n_boot=n_boot, seed=seed,
                       workers=workers, slope_hat=estimates["calibration_slope"])
    out = {}
    for name, stat in stats.items():
        def jk(stat=stat) -> np.ndarray:
            return jackknife_values(stat, n, clusters=clusters)

        out[name] = estimate_from_replicates(reps[name], estimate=estimates[name], method=method, level=level,
                                             jackknife=jk, n=n, n_pos=n_pos, n_neg=n - n_pos)
    return out


def _replicates(yf: np.ndarray, p: np.ndarray, x: np.ndarray, bins: np.ndarray, n_bins: int, *, key: Any,
                clusters: Any, n_boot: int, seed: Any, workers: int, slope_hat: float) -> dict[str, np.ndarray]:
    """The four statistics on every replicate, from one draw of the resampling counts.

    The counts are those of :func:`evaluators.bootstrap_replicates` with the same ``seed``, strata and clusters
    (each of the four statistics used to draw them again); Brier and ECE are matrix products of the counts, the
    recalibration fits come from per-bin moments (:mod:`evaluators._recalibration`).
    """
    from evaluators import _recalibration as rc

    n = yf.size
    root = seed_sequence(seed)
    layout = make_layout(n, strata=key, clusters=clusters)
    plan = rc.plan_bins(x, rc.bin_width(slope_hat))
    cols = layout.case_position[plan.order]
    ys, ps, xs = yf[plan.order], p[plan.order], plan.x_sorted
    gap = np.zeros((n, n_bins))
    gap[np.arange(n), bins[plan.order]] = ys - ps
    # columns: weight, y, y x, (p - y)^2, then (y - p) in each ECE bin
    features = np.column_stack([np.ones(n), ys, ys * xs, (ps - ys) ** 2, gap])
    n_lin = features.shape[1]

    def fn(lo: int, hi: int) -> np.ndarray:
        w = draw_weights(layout.sizes, root, lo, hi, cols)
        return np.concatenate([serial_matmul(w, features), rc.separation_extremes(plan, ys, w),
                               rc.bin_moments(plan, w).reshape(hi - lo, -1)], axis=1)

    table = run_chunks(fn, n_boot, chunk=chunk_size(max(n, layout.n_units)), workers=workers)
    lin, extremes = table[:, :n_lin], table[:, n_lin:n_lin + 4]
    moments = table[:, n_lin + 4:].reshape(n_boot, plan.n_bins, rc.N_MOMENTS)
    total, sum_y, sum_yx = lin[:, 0], lin[:, 1], lin[:, 2]

    def refit(slope: bool):
        def direct(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            counts = np.concatenate([draw_counts(layout.sizes, root, int(r), int(r) + 1) for r in rows])
            return _w_logistic(counts[:, layout.case_position].astype(np.float64), yf, x, slope=slope)

        return direct

    fits = {}
    for slope in (False, True):
        fits[slope] = rc.batched_logistic(moments, plan, sum_y, sum_yx, sum_y, total - sum_y, extremes,
                                          slope=slope, refit=refit(slope))
    return {"brier": lin[:, 3] / total, "ece": np.abs(lin[:, 4:]).sum(axis=1) / total,
            "calibration_intercept": fits[False][0], "calibration_slope": fits[True][1]}
