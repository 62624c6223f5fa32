"""Logistic recalibration refitted on many bootstrap replicates at once, from per-bin moments of the counts.

The calibration intercept and slope of a replicate are the maximum-likelihood fit of ``logit P(y) = a + b x``
(``x`` = logit of the predicted probability; the intercept fit keeps ``b = 1`` as an offset) with the replicate's
resampling counts ``w`` as case weights. Newton-Raphson over all ``n`` cases costs ``O(n)`` transcendental
evaluations per replicate and iteration, which dominates scoring at scale. Here the cases are sorted by ``x`` and cut
into bins no wider than ``h``; inside bin ``j`` (centre ``c_j``, offsets ``d = x - c_j``) every function of the linear
predictor is a Taylor series,

    f(a + b c_j + b d) = sum_k f^(k)(a + b c_j) (b d)^k / k!,

so each weighted sum the Newton iteration needs (log-likelihood, gradient, Hessian) is a combination of the
replicate's bin moments ``sum_{i in j} w_i d_i^k``. The moments are matrix products of the counts, computed once per
replicate; the iterations then cost ``O(bins x order)`` per replicate instead of ``O(n)``. The iteration itself is
the one of :func:`evaluators._calibration._w_logistic`: start at ``a = 0, b = 1``, Newton steps halved until the
log-likelihood does not decrease, stop when ``|da| + |db| < 1e-10``; NaN for non-convergence, one class or
(quasi-)complete separation.

The derivatives of the logistic function are polynomials in itself, ``sigma^(k) = P_k(sigma)`` with ``P_0(s) = s``
and ``P_{k+1}(s) = P_k'(s) s (1 - s)``; they are evaluated at ``-|alpha|`` (where ``sigma <= 1/2``) and reflected,
``sigma^(k)(alpha) = (-1)^(k+1) sigma^(k)(-alpha)``, for accuracy. The logistic function has its poles at
``i pi (2m + 1)``, so the series converges with ratio ``rho = |b| h / (2 pi)``; with ``order`` 14 the truncation
error is below ``rho^15`` relative. ``h`` is chosen from the full-sample slope so that ``rho <= 0.1``; a replicate
that ends with ``rho > 0.2``, or that does not converge, is refitted over all its cases by the direct method, so the
result equals the direct fit to rounding (tests compare the two replicate by replicate). One exception, at the
limit of double precision: where the direct iteration never meets its tolerance because rounding makes its last
step alternate at about 1e-10 (a very flat likelihood, e.g. probabilities of exactly 0 and 1 with the opposite
labels in a handful of cases), the direct method drops the replicate as not converged while the series, rounding
differently, may converge to the maximum-likelihood value; a replicate the direct method keeps is never dropped.

References
----------
Cox DR. Two further applications of a model for binary regression. Biometrika 1958;45:562-565.
Minai AA, Williams RD. On the derivatives of the sigmoid. Neural Networks 1993;6:845-853.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from evaluators._serial_matmul import serial_matmul

#: Taylor order inside a bin.
ORDER = 14
#: Convergence ratio |b| h / (2 pi) the bin width is chosen for, and the largest accepted at the solution.
RHO_TARGET = 0.1
RHO_MAX = 0.2
#: Most bins per group (memory: replicates x bins x N_MOMENTS floats); wider bins only make more replicates fall
#: back to the direct fit.
MAX_BINS = 400
#: Cases per class end inspected for the separation check before looking at all of them.
_TAIL = 64
#: Moment columns: d^0 .. d^(ORDER + 2) (the Hessian needs x^2 times the series).
N_MOMENTS = ORDER + 3


@functools.cache
def _derivative_polynomials(k_max: int) -> np.ndarray:
    """``table[p, k]`` = coefficient of ``s^p`` in ``P_{k-1}`` (column 0 unused), ``k = 1 .. k_max + 1``."""
    from numpy.polynomial import polynomial as poly

    table = np.zeros((k_max + 2, k_max + 2))
    current = np.array([0.0, 1.0])
    for k in range(1, k_max + 2):
        table[: current.size, k] = current
        current = poly.polymul(poly.polyder(current), [0.0, 1.0, -1.0])
    return table



def newton_step(ga: np.ndarray, gb: np.ndarray | None, haa: np.ndarray, hab: np.ndarray,
                hbb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Newton step ``(da, db, ok)`` of a weighted logistic fit from its gradient and Hessian (per replicate).

    ``gb`` is None for the intercept-only fit (``db = 0``; ``hab``, ``hbb`` unused). A step that is not finite
    (a singular Hessian) is 0 in both parts and ``ok`` is False there.
    """
    if gb is not None:
        det = haa * hbb - hab * hab
        with np.errstate(divide="ignore", invalid="ignore"):
            da = (hbb * ga - hab * gb) / det
            db = (haa * gb - hab * ga) / det
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            da = ga / haa
        db = np.zeros(np.shape(ga))
    ok = np.isfinite(np.abs(da) + np.abs(db))
    return np.where(ok, da, 0.0), np.where(ok, db, 0.0), ok

@dataclass(frozen=True, slots=True)
class BinPlan:
    """Cases sorted by ``x`` and cut into bins no wider than ``width``.

    ``order`` lists case indices by ascending ``x``; bin ``j`` holds sorted positions ``bounds[j] .. bounds[j+1]-1``
    around ``centre[j]``; ``powers[t, k] = (x_sorted[t] - centre)^k``.
    """

    order: np.ndarray
    bounds: np.ndarray
    centre: np.ndarray
    powers: np.ndarray
    width: float
    x_sorted: np.ndarray

    @property
    def n_bins(self) -> int:
        return int(self.centre.shape[0])


def bin_width(slope: float) -> float:
    """Bin width for a full-sample slope estimate, so that ``|b| h / (2 pi) = RHO_TARGET`` near it."""
    scale = max(1.0, 1.5 * abs(slope)) if math.isfinite(slope) else 1.0
    return 2.0 * math.pi * RHO_TARGET / scale


def plan_bins(x: np.ndarray, width: float) -> BinPlan:
    """Sort ``x`` and cut it greedily into bins no wider than ``width`` (widened to keep ``MAX_BINS``)."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    n = xs.shape[0]
    if n:
        width = max(width, float(xs[-1] - xs[0]) / MAX_BINS)
    starts = []
    i = 0
    while i < n:
        starts.append(i)
        i = int(np.searchsorted(xs, xs[i] + width, side="right"))
    bounds = np.array(starts + [n], dtype=np.intp)
    lo, hi = xs[bounds[:-1]], xs[bounds[1:] - 1]
    centre = 0.5 * (lo + hi)
    d = xs - np.repeat(centre, np.diff(bounds))
    powers = np.cumprod(np.concatenate([np.ones((n, 1)), np.repeat(d[:, None], N_MOMENTS - 1, axis=1)], axis=1),
                        axis=1)
    return BinPlan(order=order, bounds=bounds, centre=centre, powers=powers, width=float(width), x_sorted=xs)


def bin_moments(plan: BinPlan, w_sorted: np.ndarray) -> np.ndarray:
    """``sum_{i in bin j} w_i d_i^k`` for weight rows in sorted order: shape ``(m, n_bins, N_MOMENTS)``."""
    out = np.empty((w_sorted.shape[0], plan.n_bins, N_MOMENTS))
    b = plan.bounds
    for j in range(plan.n_bins):
        out[:, j, :] = serial_matmul(w_sorted[:, b[j]:b[j + 1]], plan.powers[b[j]:b[j + 1]])
    return out


def _first_present(w_sorted: np.ndarray, cols: np.ndarray, values: np.ndarray, empty: float) -> np.ndarray:
    """Per row, ``values`` of the first column of ``cols`` (in that order) with positive weight, else ``empty``."""
    m = w_sorted.shape[0]
    if cols.size == 0:
        return np.full(m, empty)
    head = w_sorted[:, cols[:_TAIL]] > 0
    found = head.any(axis=1)
    out = np.where(found, values[head.argmax(axis=1)], empty)
    for r in np.flatnonzero(~found):
        present = w_sorted[r, cols] > 0
        out[r] = values[int(present.argmax())] if present.any() else empty
    return out


def separation_extremes(plan: BinPlan, y_sorted: np.ndarray, w_sorted: np.ndarray) -> np.ndarray:
    """Columns ``neg_max, pos_min, neg_min, pos_max`` of ``x`` over the cases present in each weight row.

    An absent class gives ``-inf`` for its maximum and ``+inf`` for its minimum.
    """
    pos = np.flatnonzero(y_sorted > 0.5)
    neg = np.flatnonzero(y_sorted <= 0.5)
    xs = plan.x_sorted
    return np.stack([
        _first_present(w_sorted, neg[::-1], xs[neg[::-1]], -np.inf),
        _first_present(w_sorted, pos, xs[pos], np.inf),
        _first_present(w_sorted, neg, xs[neg], np.inf),
        _first_present(w_sorted, pos[::-1], xs[pos[::-1]], -np.inf),
    ], axis=1)


class _Series:
    """Weighted sums of functions of ``a + b x`` over all cases, from bin moments (all rows or a subset)."""

    def __init__(self, moments: np.ndarray, centre: np.ndarray):
        self._poly = _derivative_polynomials(ORDER + 1)
        self.moments = moments
        self.centre = centre
        self._ks = np.arange(ORDER + 1)
        self._inv_fact = 1.0 / np.array([math.factorial(int(k)) for k in self._ks])

    def _e(self, alpha: np.ndarray, n_cols: int) -> np.ndarray:
        """``E[..., k]``: the k-th derivative of softplus at ``alpha``, k = 0 .. n_cols - 1."""
        from scipy.special import expit

        s = expit(-np.abs(alpha))
        powers = np.empty(alpha.shape + (n_cols,))
        powers[...] = s[..., None]
        powers[..., 0] = 1.0
        np.cumprod(powers, axis=-1, out=powers)
        e = serial_matmul(powers.reshape(-1, n_cols), self._poly[:n_cols, :n_cols]).reshape(powers.shape)
        flip = alpha > 0
        if n_cols > 3:
            e[..., 3::2] *= np.where(flip, -1.0, 1.0)[..., None]
        e[..., 0] = np.logaddexp(0.0, alpha)
        e[..., 1] = expit(alpha)
        return e

    def _weighted_moments(self, rows: np.ndarray, b: np.ndarray, r: int) -> np.ndarray:
        """``b^k / k! * moment_{k + r}`` for k = 0 .. ORDER: shape (rows, bins, ORDER + 1)."""
        bk = b[:, None] ** self._ks[None, :] * self._inv_fact[None, :]
        mom = self.moments if rows.size == self.moments.shape[0] else self.moments[rows]
        return mom[:, :, r:r + ORDER + 1] * bk[:, None, :]

    def softplus_sum(self, rows: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``sum_i w_i log(1 + exp(a + b x_i))`` for the given rows."""
        alpha = a[:, None] + b[:, None] * self.centre[None, :]
        e = self._e(alpha, ORDER + 1)
        return np.einsum("mjk,mjk->m", e, self._weighted_moments(rows, b, 0))

    def newton_sums(self, rows: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
        """Softplus sum, ``sum w sigma``, ``sum w sigma x``, ``sum w sigma'``, ``sum w sigma' x``,
        ``sum w sigma' x^2`` for the given rows."""
        from numpy.lib.stride_tricks import sliding_window_view

        c = self.centre[None, :]
        alpha = a[:, None] + b[:, None] * c
        e = self._e(alpha, ORDER + 3)
        # windows[..., f, k] = e[..., f + k]: the f-th derivative's series uses e shifted by f
        windows = sliding_window_view(e, ORDER + 1, axis=-1)
        t0 = np.einsum("mjfk,mjk->fmj", windows, self._weighted_moments(rows, b, 0))
        t1 = np.einsum("mjfk,mjk->fmj", windows[..., 1:, :], self._weighted_moments(rows, b, 1))
        t22 = np.einsum("mjk,mjk->mj", windows[..., 2, :], self._weighted_moments(rows, b, 2))
        t00, t10, t20 = t0
        t11, t21 = t1
        return (t00.sum(axis=1), t10.sum(axis=1), (c * t10 + t11).sum(axis=1), t20.sum(axis=1),
                (c * t20 + t21).sum(axis=1), (c * c * t20 + 2.0 * c * t21 + t22).sum(axis=1))


def fit_from_moments(moments: np.ndarray, centre: np.ndarray, sum_y: np.ndarray, sum_yx: np.ndarray, *,
                     slope: bool, skip: np.ndarray | None = None, max_iter: int = 100,
                     tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Newton-Raphson with step halving for every row, as in ``_w_logistic``, on bin moments.

    Rows flagged in ``skip`` (already known to be undefined) are not iterated. Returns ``a``, ``b`` and the
    converged flag per row (no NaN masking; the caller applies the class and separation checks).
    """
    series = _Series(moments, centre)
    m = moments.shape[0]
    a = np.zeros(m)
    b = np.ones(m)
    converged = np.zeros(m, dtype=bool) if skip is None else skip.copy()
    # sums at the current (a, b) of each row; a full Newton step that is accepted leaves them ready for the next
    # iteration, so each iteration costs one evaluation unless the step had to be halved
    current = np.zeros((6, m))
    valid = np.zeros(m, dtype=bool)
    for _ in range(max_iter):
        rows = np.flatnonzero(~converged)
        if rows.size == 0:
            break
        need = rows[~valid[rows]]
        if need.size:
            current[:, need] = series.newton_sums(need, a[need], b[need])
            valid[need] = True
        ar, br, sy, syx = a[rows], b[rows], sum_y[rows], sum_yx[rows]
        sp, s_mu, s_mux, h_aa, h_ab, h_bb = current[:, rows]
        da, db, ok = newton_step(sy - s_mu, syx - s_mux if slope else None, h_aa, h_ab, h_bb)
        before = ar * sy + br * syx - sp
        trial = np.asarray(series.newton_sums(rows, ar + da, br + db))
        after = (ar + da) * sy + (br + db) * syx - trial[0]
        scale = np.ones(rows.size)
        worse = ok & ~(after >= before - 1e-12 * np.abs(before))
        for _ in range(40):
            if not worse.any():
                break
            scale = np.where(worse, scale / 2.0, scale)
            sub = np.flatnonzero(worse)
            ta, tb = ar[sub] + scale[sub] * da[sub], br[sub] + scale[sub] * db[sub]
            after_sub = ta * sy[sub] + tb * syx[sub] - series.softplus_sum(rows[sub], ta, tb)
            worse[sub] = ~(after_sub >= before[sub] - 1e-12 * np.abs(before[sub]))
        da, db = scale * da, scale * db
        a[rows] = np.where(ok, ar + da, ar)
        b[rows] = np.where(ok, br + db, br)
        full = ok & (scale == 1.0)
        current[:, rows[full]] = trial[:, full]
        valid[rows[ok & ~full]] = False
        converged[rows] = ok & (np.abs(da) + np.abs(db) < tol)
    return a, b, converged


def batched_logistic(moments: np.ndarray, plan: BinPlan, sum_y: np.ndarray, sum_yx: np.ndarray,
                     n_pos: np.ndarray, n_neg: np.ndarray, extremes: np.ndarray, *, slope: bool,
                     refit: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Intercept and slope per replicate, NaN where undefined; rows the series cannot certify go to ``refit``.

    ``n_pos``/``n_neg`` are the weighted class totals per row, ``extremes`` the output of
    :func:`separation_extremes`; ``refit(rows)`` returns the direct fit ``(a, b)`` (NaN-masked) of those rows.
    """
    bad = (n_pos <= 0) | (n_neg <= 0)
    if slope:
        neg_max, pos_min, neg_min, pos_max = extremes.T
        bad |= (neg_max <= pos_min) | (pos_max <= neg_min)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        a, b, converged = fit_from_moments(moments, plan.centre, sum_y, sum_yx, slope=slope, skip=bad)
    with np.errstate(invalid="ignore"):
        rho = np.abs(b) * plan.width / (2.0 * math.pi)
    unsure = ~bad & (~converged | ~(rho <= RHO_MAX))
    a = np.where(bad, np.nan, a)
    b = np.where(bad, np.nan, b)
    rows = np.flatnonzero(unsure)
    if rows.size:
        a[rows], b[rows] = refit(rows)
    return a, b
