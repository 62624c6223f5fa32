"""Discrimination: AUROC (Mann-Whitney), DeLong intervals and paired test, ROC and precision-recall curves.

Everything here starts from one sort of the scores: tie groups (runs of equal scores) and the number of
positives and negatives in each give the AUROC, the DeLong placement values (Sun & Xu 2014) and the curves.

References
----------
DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more correlated receiver operating
characteristic curves: a nonparametric approach. Biometrics 1988;44:837-845.
Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas under correlated receiver
operating characteristic curves. IEEE Signal Processing Letters 2014;21(11):1389-1393.
Robin X et al. pROC: an open-source package for R and S+ to analyze and compare ROC curves. BMC Bioinformatics
2011;12:77.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluators import _inputs
from evaluators._bootstrap import (
    check_n_boot,
    chunk_size,
    draw_counts,
    draw_weights,
    estimate_from_replicates,
    interval_from_replicates,
    jackknife_values,
    make_layout,
    replicate_generator,
    run_chunks,
    seed_sequence,
)
from evaluators._records import Comparison, Estimate
from evaluators.exceptions import InvalidParameterError

__all__ = ["auroc", "auroc_ci", "average_precision", "average_precision_ci", "compare_auroc", "pr_curve",
           "roc_curve"]


@dataclass(frozen=True, slots=True)
class _Ranked:
    """Scores sorted once, with per-tie-group class totals (ascending score)."""

    order: np.ndarray        # case indices in ascending score order
    starts: np.ndarray       # start of each tie group in sorted order
    gid_sorted: np.ndarray | None  # tie group of each sorted position (None: no ties, identity)
    pos: np.ndarray          # (weighted) positives per group
    neg: np.ndarray          # (weighted) negatives per group
    values: np.ndarray       # score of each group

    @property
    def n_groups(self) -> int:
        return int(self.starts.shape[0])

    def case_group(self) -> np.ndarray:
        """Tie group of each case, in case order."""
        g = np.empty(self.order.shape[0], dtype=np.intp)
        g[self.order] = np.arange(self.order.shape[0]) if self.gid_sorted is None else self.gid_sorted
        return g


def _sort(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The one sort: case order by ascending score, sorted scores, and tie-group starts."""
    order = np.argsort(s)
    ss = s[order]
    n = ss.shape[0]
    boundary = np.empty(n, dtype=bool)
    if n:
        boundary[0] = True
        np.not_equal(ss[1:], ss[:-1], out=boundary[1:])
    return order, ss, boundary


def _rank(y: np.ndarray, s: np.ndarray, w: np.ndarray | None = None,
          presorted: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> _Ranked:
    order, ss, boundary = presorted if presorted is not None else _sort(s)
    n = ss.shape[0]
    starts = np.flatnonzero(boundary)
    yp = y[order].astype(np.float64)
    if w is not None:
        ws = w[order]
        yn = (1.0 - yp) * ws
        yp = yp * ws
    else:
        yn = 1.0 - yp
    if starts.shape[0] == n:
        return _Ranked(order, starts, None, yp, yn, ss)
    gid = np.cumsum(boundary) - 1
    return _Ranked(order, starts, gid, np.add.reduceat(yp, starts), np.add.reduceat(yn, starts), ss[starts])


def _auc_from_groups(pos: np.ndarray, neg: np.ndarray) -> float:
    n1 = pos.sum()
    n0 = neg.sum()
    if n1 <= 0 or n0 <= 0:
        return math.nan
    below = np.cumsum(neg) - neg
    return float(np.dot(pos, below + 0.5 * neg) / (n1 * n0))


def _prepare(y_true: Any, y_score: Any, pos_label: Any) -> tuple[np.ndarray, np.ndarray]:
    y = _inputs.binary_labels(y_true, pos_label=pos_label)
    s = _inputs.scores(y_score, n=y.shape[0])
    return y, s


def _one_class_note(n_pos: int, n_neg: int) -> str:
    if n_pos + n_neg == 0:
        return "undefined: no cases"
    return f"undefined: needs both classes (n_pos={n_pos}, n_neg={n_neg})"


def auroc(y_true: Any, y_score: Any, *, sample_weight: Any = None, pos_label: Any = None) -> float:
    """Area under the ROC curve by the Mann-Whitney statistic.

    A positive scored above a negative counts 1, a tie 1/2. Higher scores mean positive; the curve is never
    flipped, so a model worse than chance gets an AUROC below 0.5.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Reference labels: bool or 0/1, or any two labels with ``pos_label``.
    y_score : array-like of shape (n_samples,)
        Finite scores; higher means more likely positive.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative case weights (a weight of k counts as k copies).
    pos_label : optional
        The positive label when ``y_true`` is not bool or 0/1.

    Returns
    -------
    float
        AUROC in [0, 1]; NaN if either class is absent.

    Examples
    --------
    >>> auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> auroc([0, 1], [0.5, 0.5])
    0.5
    """
    y, s = _prepare(y_true, y_score, pos_label)
    w = _inputs.weights(sample_weight, n=y.shape[0])
    r = _rank(y, s, w)
    return _auc_from_groups(r.pos, r.neg)


def _delong_components(r: _Ranked) -> tuple[float, np.ndarray, np.ndarray]:
    """AUROC and the per-group placement values V10 (for positives) and V01 (for negatives)."""
    n1 = r.pos.sum()
    n0 = r.neg.sum()
    below = np.cumsum(r.neg) - r.neg
    above = n1 - np.cumsum(r.pos)
    v10 = (below + 0.5 * r.neg) / n0
    v01 = (above + 0.5 * r.pos) / n1
    auc = float(np.dot(r.pos, v10) / n1)
    return auc, v10, v01


def _delong_variance(r: _Ranked) -> tuple[float, float]:
    auc, v10, v01 = _delong_components(r)
    n1 = r.pos.sum()
    n0 = r.neg.sum()
    s10 = float(np.dot(r.pos, (v10 - auc) ** 2) / (n1 - 1))
    s01 = float(np.dot(r.neg, (v01 - auc) ** 2) / (n0 - 1))
    return auc, s10 / n1 + s01 / n0


def auroc_ci(y_true: Any, y_score: Any, *, method: str = "delong", level: float = 0.95, n_boot: int = 2000,
             seed: Any = None, strata: Any = None, clusters: Any = None, interval: str = "percentile",
             workers: int = 1, pos_label: Any = None) -> Estimate:
    """AUROC with a confidence interval.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Reference labels (bool or 0/1, or use ``pos_label``).
    y_score : array-like of shape (n_samples,)
        Finite scores, higher = positive.
    method : {"delong", "bootstrap"}
        ``"delong"``: Wald interval ``auc +/- z * sqrt(var)`` with DeLong's variance computed as in Sun & Xu (2014),
        truncated to [0, 1] (as pROC does). ``"bootstrap"``: resampling stratified by class (and by ``strata``,
        e.g. site), or by whole ``clusters`` (patients) within ``strata``.
    level : float
        Confidence level, e.g. 0.95.
    n_boot : int
        Bootstrap replicates.
    seed : int, SeedSequence or Generator
        Required for ``method="bootstrap"``; the result is identical for any ``workers``.
    strata : array-like of shape (n_samples,), optional
        Extra stratification (site) for the bootstrap.
    clusters : array-like of shape (n_samples,), optional
        Patient id when a patient has several cases; clusters are resampled whole, stratified by ``strata``
        only (a patient may have cases of both classes).
    interval : {"percentile", "bca"}
        Bootstrap interval method. BCa uses the closed-form leave-one-case-out jackknife of the AUROC
        (leave-one-patient-out with ``clusters``).
    workers : int
        Threads for the bootstrap.
    pos_label : optional
        Positive label when ``y_true`` is not bool or 0/1.

    Returns
    -------
    Estimate
        ``se`` is DeLong's standard error for ``method="delong"``. NaN with a note if a class is absent or
        (DeLong) a class has a single case.

    Notes
    -----
    Bootstrap draw protocol (so that a loop can reproduce it): replicate ``b`` uses
    ``Generator(PCG64(SeedSequence(seed, spawn_key=(b,))))``. Without ``clusters``, it first resamples the smaller
    class (negatives if equal), stratum by stratum in sorted order of ``strata``, each stratum's cases taken in
    ascending score order; then the other class, stratum by stratum, cases in data order; each with
    ``integers(0, size, size)``. Each replicate costs O(n) vector operations (counts, prefix sums, lookups), with
    no per-replicate sort. With ``clusters``, see :func:`evaluators.bootstrap_counts`.

    References
    ----------
    DeLong et al., Biometrics 1988; Sun & Xu, IEEE SPL 2014; Efron & Tibshirani 1993 (bootstrap, BCa).

    Examples
    --------
    >>> e = auroc_ci([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    >>> round(e.estimate, 4), e.method
    (0.8889, 'delong')
    """
    y, s = _prepare(y_true, y_score, pos_label)
    _inputs.level_z(level)
    n = int(y.shape[0])
    n_pos = int(y.sum())
    n_neg = n - n_pos
    if method not in ("delong", "bootstrap"):
        raise InvalidParameterError(f"method must be 'delong' or 'bootstrap'; got {method!r}.")
    label = "delong" if method == "delong" else f"bootstrap-{interval}"
    if n_pos == 0 or n_neg == 0:
        return Estimate.undefined(_one_class_note(n_pos, n_neg), level=level, method=label, n=n,
                                  n_pos=n_pos, n_neg=n_neg)
    if method == "delong":
        return _delong_ci(y, s, level=level, n_pos=n_pos, n_neg=n_neg)
    return _bootstrap_ci(y, s, level=level, n_boot=n_boot, seed=seed, strata=strata, clusters=clusters,
                         interval=interval, workers=workers)


def _delong_ci(y: np.ndarray, s: np.ndarray, *, level: float, n_pos: int, n_neg: int) -> Estimate:
    n = n_pos + n_neg
    presorted = _sort(s)
    if n_pos < 2 or n_neg < 2:
        r = _rank(y, s, presorted=presorted)
        auc = _auc_from_groups(r.pos, r.neg)
        return Estimate(estimate=auc, level=level, method="delong", n=n, n_pos=n_pos, n_neg=n_neg,
                        note=f"no DeLong interval: needs >= 2 cases of each class (n_pos={n_pos}, n_neg={n_neg})")
    order, _, boundary = presorted
    if boundary.all():
        # No ties: placement values follow from the positions of each class in the sorted order.
        y_sorted = y[order]
        pos_at = np.flatnonzero(y_sorted)
        neg_at = np.flatnonzero(~y_sorted)
        v10 = (pos_at - np.arange(n_pos)) / n_neg  # negatives below each positive
        v01 = (n_pos - (neg_at - np.arange(n_neg))) / n_pos  # positives above each negative
        auc = float(v10.mean())
        var = float(np.var(v10, ddof=1) / n_pos + np.var(v01, ddof=1) / n_neg)
    else:
        auc, var = _delong_variance(_rank(y, s, presorted=presorted))
    se = math.sqrt(max(var, 0.0))
    z = _inputs.level_z(level)
    low, high = auc - z * se, auc + z * se
    notes = []
    if se == 0.0:
        notes.append("zero DeLong variance (complete separation or constant placements); interval is degenerate")
    if low < 0.0 or high > 1.0:
        notes.append("interval truncated to [0, 1]")
    return Estimate(estimate=auc, ci_low=max(low, 0.0), ci_high=min(high, 1.0), level=level, method="delong",
                    n=n, n_pos=n_pos, n_neg=n_neg, se=se, note="; ".join(notes))


def _pair_kernel(wp: np.ndarray, wn_sorted: np.ndarray, lo: np.ndarray, hi: np.ndarray | None,
                 fixed_den: float | None) -> np.ndarray:
    """Weighted AUROC for a chunk of replicates.

    ``wp`` (m, n1) weights of positives; ``wn_sorted`` (m, n0) weights of negatives in ascending score order;
    ``lo``/``hi``: number of negatives strictly below / at or below each positive (``hi=None`` if equal).
    """
    m, n0 = wn_sorted.shape
    cum = np.zeros((m, n0 + 1), dtype=wn_sorted.dtype)
    np.cumsum(wn_sorted, axis=1, out=cum[:, 1:])
    if hi is None:
        num2 = 2 * np.einsum("ij,ij->i", wp, cum[:, lo])
    else:
        num2 = np.einsum("ij,ij->i", wp, cum[:, lo] + cum[:, hi])
    if fixed_den is not None:
        return num2 / (2.0 * fixed_den)
    den = wp.sum(axis=1).astype(np.float64) * wn_sorted.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num2 / (2.0 * np.where(den > 0, den, 1.0)), np.nan)


def _class_stratified_replicates(y: np.ndarray, r: _Ranked, group: np.ndarray, site: np.ndarray | None,
                                 root: np.random.SeedSequence, *, ties: bool):
    """Replicate function for the bootstrap stratified by class (and site), one replicate at a time.

    For each replicate the smaller class ("prefix side") is resampled into counts in ascending score order and
    turned into prefix sums ``C``; each resampled case of the other class ("lookup side") then adds
    ``C[lo] + C[hi]`` where ``lo``/``hi`` count prefix-side cases strictly below / at or below its score.
    Work per replicate is O(n) vector operations; no per-replicate sort.
    """
    n_pos = int(y.sum())
    n_neg = int(y.shape[0]) - n_pos
    prefix_is_neg = n_neg <= n_pos
    prefix_mask = ~y if prefix_is_neg else y
    n_prefix = n_neg if prefix_is_neg else n_pos
    # rank of each prefix-side case in ascending score order
    prefix_sorted = r.order[prefix_mask[r.order]]
    rank = np.empty(y.shape[0], dtype=np.intp)
    rank[prefix_sorted] = np.arange(n_prefix)
    per_group = r.neg if prefix_is_neg else r.pos
    cum = np.cumsum(per_group).astype(np.intp)
    lo_case = (cum - per_group.astype(np.intp))[group]
    hi_case = cum[group]
    site_codes = np.zeros(y.shape[0], dtype=np.intp) if site is None else site
    n_sites = int(site_codes.max()) + 1 if y.shape[0] else 1
    prefix_strata: list = []
    lookup_strata: list[int] = []
    lookup_members: list[np.ndarray] = []
    for k in range(n_sites):
        in_site = site_codes == k
        members_p = prefix_sorted[in_site[prefix_sorted]]
        if members_p.size == n_prefix:
            prefix_strata.append(n_prefix)  # one stratum holds the whole class: draws are the ranks themselves
        elif members_p.size:
            prefix_strata.append(rank[members_p])
        members_l = np.flatnonzero(in_site & ~prefix_mask)
        if members_l.size:
            lookup_strata.append(members_l.size)
            lookup_members.append(members_l)
    # lookup side laid out stratum after stratum: one gather per replicate instead of one per stratum
    lookup_order = np.concatenate(lookup_members) if lookup_members else np.zeros(0, dtype=np.intp)
    lookup_lo = lo_case[lookup_order]
    lookup_hi = hi_case[lookup_order] if ties else None
    n_lookup = int(lookup_order.size)
    denominator = 2.0 * n_pos * n_neg

    def one(rng: np.random.Generator) -> float:
        if len(prefix_strata) == 1 and isinstance(prefix_strata[0], int):
            draws = rng.integers(0, n_prefix, size=n_prefix)
        else:
            draws = np.empty(n_prefix, dtype=np.intp)
            off = 0
            for ranks in prefix_strata:
                np.take(ranks, rng.integers(0, ranks.size, size=ranks.size), out=draws[off:off + ranks.size])
                off += ranks.size
        prefix = np.zeros(n_prefix + 1, dtype=np.int64)
        np.cumsum(np.bincount(draws, minlength=n_prefix), out=prefix[1:])
        if len(lookup_strata) == 1:
            picks = rng.integers(0, n_lookup, size=n_lookup)
        else:
            picks = np.empty(n_lookup, dtype=np.intp)
            off = 0
            for size in lookup_strata:
                np.add(rng.integers(0, size, size=size), off, out=picks[off:off + size])
                off += size
        if lookup_hi is None:
            total = 2 * int(prefix[lookup_lo[picks]].sum())
        else:
            total = int(prefix[lookup_lo[picks]].sum()) + int(prefix[lookup_hi[picks]].sum())
        if prefix_is_neg:
            return total / denominator
        return (denominator - total) / denominator

    def fn(a: int, b: int) -> np.ndarray:
        return np.array([one(replicate_generator(root, k)) for k in range(a, b)], dtype=np.float64)

    return fn


def _bootstrap_ci(y: np.ndarray, s: np.ndarray, *, level: float, n_boot: int, seed: Any, strata: Any,
                  clusters: Any, interval: str, workers: int) -> Estimate:
    if interval not in ("percentile", "bca"):
        raise InvalidParameterError(f"interval must be 'percentile' or 'bca'; got {interval!r}.")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 2:
        raise InvalidParameterError(f"n_boot must be an int >= 2 (2000 is usual); got {n_boot!r}.")
    root = seed_sequence(seed)
    n = y.shape[0]
    n_pos = int(y.sum())
    n_neg = n - n_pos
    r = _rank(y, s)
    auc, v10, v01 = _delong_components(r)
    group = r.case_group()
    ties = bool(np.any((r.pos > 0) & (r.neg > 0)))  # some positive tied with some negative
    site = None if strata is None else _inputs.groups(strata, n=n, name="strata")

    if clusters is None:
        fn = _class_stratified_replicates(y, r, group, site, root, ties=ties)
        reps = run_chunks(fn, n_boot, chunk=64, workers=workers)

        def jackknife() -> np.ndarray:
            # leave one case out, in closed form from the placement values
            jk_pos = (n_pos * auc - v10[group[y]]) / (n_pos - 1) if n_pos > 1 else np.full(n_pos, np.nan)
            jk_neg = (n_neg * auc - v01[group[~y]]) / (n_neg - 1) if n_neg > 1 else np.full(n_neg, np.nan)
            return np.concatenate([jk_pos, jk_neg])
    else:
        # whole patients resampled within sites; class totals vary, so the kernel takes weights of both classes
        cum_neg = np.cumsum(r.neg)
        pos_cases = np.flatnonzero(y)
        neg_sorted = r.order[~y[r.order]]
        lo = (cum_neg - r.neg).astype(np.int64)[group[pos_cases]]
        hi = cum_neg.astype(np.int64)[group[pos_cases]] if ties else None
        layout = make_layout(n, strata=site, clusters=clusters)
        pos_units = layout.case_position[pos_cases]
        neg_units = layout.case_position[neg_sorted]

        def fn(a: int, b: int) -> np.ndarray:
            counts = draw_counts(layout.sizes, root, a, b)
            return _pair_kernel(counts[:, pos_units], counts[:, neg_units], lo, hi, None)

        reps = run_chunks(fn, n_boot, chunk=chunk_size(n + layout.n_units), workers=workers)

        def jackknife() -> np.ndarray:
            # leave one patient out: O(patients x cases)
            def stat(w: np.ndarray) -> np.ndarray:
                return _pair_kernel(w[:, pos_cases], w[:, neg_sorted], lo, hi, None)

            return jackknife_values(stat, n, clusters=clusters)

    low, high, note = interval_from_replicates(reps, estimate=auc, method=interval, level=level,
                                               jackknife=jackknife)
    return Estimate(estimate=auc, ci_low=low, ci_high=high, level=level, method=f"bootstrap-{interval}", n=n,
                    n_pos=n_pos, n_neg=n_neg, note=note)


def compare_auroc(y_true: Any, score_a: Any, score_b: Any, *, level: float = 0.95,
                  pos_label: Any = None) -> Comparison:
    """Paired DeLong test of two AUROCs measured on the same cases.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Reference labels.
    score_a, score_b : array-like of shape (n_samples,)
        Scores of the two models (or markers) on the same cases.
    level : float
        Confidence level of the interval of ``auroc(a) - auroc(b)``.
    pos_label : optional
        Positive label when ``y_true`` is not bool or 0/1.

    Returns
    -------
    Comparison
        ``difference = auroc(a) - auroc(b)``, Wald interval, ``z`` and two-sided ``p_value`` from the DeLong
        covariance of the two placement-value vectors.

    References
    ----------
    DeLong et al., Biometrics 1988; Sun & Xu, IEEE SPL 2014.
    """
    y = _inputs.binary_labels(y_true, pos_label=pos_label)
    a = _inputs.scores(score_a, n=y.shape[0], name="score_a")
    b = _inputs.scores(score_b, n=y.shape[0], name="score_b")
    z_crit = _inputs.level_z(level)
    n = int(y.shape[0])
    n_pos = int(y.sum())
    n_neg = n - n_pos
    if n_pos < 2 or n_neg < 2:
        nan = math.nan
        return Comparison(difference=nan, ci_low=nan, ci_high=nan, z=nan, p_value=nan, method="delong-paired",
                          level=level, n=n, n_pos=n_pos, n_neg=n_neg,
                          note=f"undefined: needs >= 2 cases of each class (n_pos={n_pos}, n_neg={n_neg})")
    v10s, v01s, aucs = [], [], []
    for score in (a, b):
        r = _rank(y, score)
        auc, v10, v01 = _delong_components(r)
        g = r.case_group()
        v10s.append(v10[g[y]])
        v01s.append(v01[g[~y]])
        aucs.append(auc)
    s10 = np.cov(np.vstack(v10s), ddof=1)
    s01 = np.cov(np.vstack(v01s), ddof=1)
    cov = s10 / n_pos + s01 / n_neg
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    diff = aucs[0] - aucs[1]
    se = math.sqrt(max(var, 0.0))
    if se > 0:
        from scipy.special import ndtr

        z = diff / se
        p = float(2.0 * ndtr(-abs(z)))
        note = ""
    else:
        z = math.nan
        p = 1.0 if diff == 0 else math.nan
        note = "zero variance of the difference; no test possible"
    return Comparison(difference=diff, ci_low=diff - z_crit * se, ci_high=diff + z_crit * se, z=z, p_value=p,
                      method="delong-paired", level=level, estimate_a=aucs[0], estimate_b=aucs[1], n=n,
                      n_pos=n_pos, n_neg=n_neg, note=note)


def _descending_counts(y: np.ndarray, s: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, ...]:
    r = _rank(y, s, w)
    tps = np.cumsum(r.pos[::-1])
    fps = np.cumsum(r.neg[::-1])
    return tps, fps, r.values[::-1].copy()


def roc_curve(y_true: Any, y_score: Any, *, sample_weight: Any = None,
              pos_label: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve: one point per distinct score, from the strictest threshold down.

    A case is called positive when ``score >= threshold``. The first point is (0, 0) at threshold ``+inf``;
    no point is dropped (like ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``).

    Returns
    -------
    fpr, tpr : ndarray of shape (n_thresholds + 1,)
        NaN if the corresponding class is absent.
    thresholds : ndarray of shape (n_thresholds + 1,)
        Decreasing; ``thresholds[0] = inf``.
    """
    y, s = _prepare(y_true, y_score, pos_label)
    w = _inputs.weights(sample_weight, n=y.shape[0])
    tps, fps, thr = _descending_counts(y, s, w)
    tps = np.concatenate(([0.0], tps))
    fps = np.concatenate(([0.0], fps))
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
        fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
    return fpr, tpr, np.concatenate(([np.inf], thr))


def pr_curve(y_true: Any, y_score: Any, *, sample_weight: Any = None,
             pos_label: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision-recall curve: one point per distinct score, from the strictest threshold down.

    Returns
    -------
    precision, recall : ndarray of shape (n_thresholds,)
        At each threshold (``score >= threshold`` is positive). Recall is NaN if there is no positive.
    thresholds : ndarray of shape (n_thresholds,)
        Decreasing distinct scores.
    """
    y, s = _prepare(y_true, y_score, pos_label)
    w = _inputs.weights(sample_weight, n=y.shape[0])
    tps, fps, thr = _descending_counts(y, s, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tps / (tps + fps)
        recall = tps / tps[-1] if tps.size and tps[-1] > 0 else np.full(tps.shape, np.nan)
    return precision, recall, thr


def average_precision(y_true: Any, y_score: Any, *, sample_weight: Any = None, pos_label: Any = None) -> float:
    """Average precision: sum over thresholds of (recall step) x precision, without interpolation.

    Same definition as ``sklearn.metrics.average_precision_score``. NaN if there is no positive.

    Examples
    --------
    >>> round(average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    """
    if sample_weight is not None:
        # Cases of weight zero (e.g. left out of a bootstrap resample) are not there: drop them, so that a threshold
        # with no weighted prediction above it does not make precision 0/0.
        w = np.asarray(sample_weight, dtype=float)
        keep = w > 0
        if not keep.all():
            y_true, y_score = np.asarray(y_true)[keep], np.asarray(y_score)[keep]
            sample_weight = w[keep]
    precision, recall, _ = pr_curve(y_true, y_score, sample_weight=sample_weight, pos_label=pos_label)
    if recall.size == 0 or not np.isfinite(recall[-1]):
        return math.nan
    steps = np.diff(np.concatenate(([0.0], recall)))
    return float(np.dot(steps, precision))


def _w_average_precision(w_desc: np.ndarray, y_desc: np.ndarray, starts: np.ndarray | None) -> np.ndarray:
    """Average precision for each row of weights given in descending score order.

    ``starts`` are the starts of the tie groups (None if all scores differ). Per group ``g`` with weighted positives
    ``P_g`` and weighted cases ``A_g``, ``AP = sum_g P_g * cumsum(P)_g / cumsum(A)_g / sum(P)``: the same sum as
    :func:`average_precision`, where a group whose weight is zero contributes nothing. NaN for a row without a
    positive of positive weight.
    """
    if starts is None:
        pos_cols = np.flatnonzero(y_desc)
        wp = w_desc[:, pos_cols]
        tps = np.cumsum(wp, axis=1)
        tot = np.cumsum(w_desc, axis=1)[:, pos_cols]
    else:
        gp = np.add.reduceat(w_desc * y_desc, starts, axis=1)
        ga = np.add.reduceat(w_desc, starts, axis=1)
        keep = np.flatnonzero(np.add.reduceat(y_desc.astype(np.float64), starts) > 0)
        tps = np.cumsum(gp, axis=1)[:, keep]
        tot = np.cumsum(ga, axis=1)[:, keep]
        wp = gp[:, keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(wp > 0, wp * tps / np.where(tot > 0, tot, 1.0), 0.0)
        total = tps[:, -1] if tps.shape[1] else np.zeros(w_desc.shape[0])
        return np.where(total > 0, terms.sum(axis=1) / np.where(total > 0, total, 1.0), np.nan)


def _w_average_precision_split(w: np.ndarray, n_pos: int, neg_above: np.ndarray) -> np.ndarray:
    """Average precision per weight row when no two scores tie.

    Columns ``0 .. n_pos-1`` are the positives by descending score, the rest the negatives by descending score;
    ``neg_above[i]`` is the number of negatives scored above positive ``i``. Same sum as
    :func:`_w_average_precision`.
    """
    wp = w[:, :n_pos]
    tps = np.cumsum(wp, axis=1)
    neg_cum = np.zeros((w.shape[0], w.shape[1] - n_pos + 1))
    np.cumsum(w[:, n_pos:], axis=1, out=neg_cum[:, 1:])
    tot = tps + neg_cum[:, neg_above]
    precision = np.divide(tps, tot, out=np.zeros_like(tps), where=tot > 0)
    total = tps[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.einsum("ij,ij->i", wp, precision) / np.where(total > 0, total, 1.0), np.nan)


def average_precision_ci(y_true: Any, y_score: Any, *, n_boot: int = 2000, seed: Any, method: str = "percentile",
                         level: float = 0.95, strata: Any = None, clusters: Any = None, workers: int = 1,
                         pos_label: Any = None) -> Estimate:
    """Average precision with a bootstrap interval.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Reference labels (bool or 0/1, or use ``pos_label``).
    y_score : array-like of shape (n_samples,)
        Finite scores, higher = positive.
    n_boot : int
        Bootstrap replicates.
    seed : int, SeedSequence or Generator
        Required; the result is identical for any ``workers``.
    method : {"percentile", "bca"}
        Interval method (BCa uses the leave-one-out jackknife, O(n^2): small samples only).
    level : float
        Confidence level.
    strata : array-like of shape (n_samples,), optional
        Resampling is stratified by class and by ``strata`` (e.g. site); with ``clusters``, whole clusters are
        resampled within ``strata`` only.
    clusters : array-like of shape (n_samples,), optional
        Patient id when a patient has several cases.
    workers : int
        Threads.
    pos_label : optional
        Positive label when ``y_true`` is not bool or 0/1.

    Returns
    -------
    Estimate
        Point estimate :func:`average_precision`; replicates are exactly those of
        ``bootstrap_ci(statistic, n, seed=seed, strata=<class x strata>, clusters=clusters)`` with ``statistic``
        the weighted average precision, computed for a whole chunk of replicates from one sort of the scores.

    Examples
    --------
    >>> e = average_precision_ci([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9], n_boot=200, seed=1)
    >>> round(e.estimate, 4), e.ci_low <= e.estimate <= e.ci_high
    (0.9167, True)
    """
    y, s = _prepare(y_true, y_score, pos_label)
    _inputs.level_z(level)
    if method not in ("percentile", "bca"):
        raise InvalidParameterError(f"method must be 'percentile' or 'bca'; got {method!r}.")
    check_n_boot(n_boot)
    n = int(y.shape[0])
    n_pos = int(y.sum())
    if n_pos == 0:
        return Estimate.undefined("undefined: no positive case", level=level, method=f"bootstrap-{method}", n=n,
                                  n_pos=0, n_neg=n)
    if clusters is None:
        key = y.astype(np.intp) if strata is None else y.astype(np.intp) + 2 * _inputs.groups(strata, n=n,
                                                                                               name="strata")
    else:
        key = strata
    root = seed_sequence(seed)
    layout = make_layout(n, strata=key, clusters=clusters)
    order, _, boundary = _sort(s)
    desc = order[::-1]
    y_desc = y[desc].astype(np.float64)
    s_desc = s[desc]
    starts = None if boundary.all() else np.flatnonzero(np.concatenate(([True], s_desc[1:] != s_desc[:-1])))
    if starts is None:
        # no ties: columns hold the positives, then the negatives, each by descending score, so that the cumulative
        # weights come from two prefix sums without a gather of the whole matrix
        columns = layout.case_position[np.concatenate([desc[y[desc]], desc[~y[desc]]])]
        neg_above = np.flatnonzero(y[desc]) - np.arange(n_pos)

        def fn(a: int, b: int) -> np.ndarray:
            return _w_average_precision_split(draw_weights(layout.sizes, root, a, b, columns), n_pos, neg_above)
    else:
        columns = layout.case_position[desc]

        def fn(a: int, b: int) -> np.ndarray:
            return _w_average_precision(draw_weights(layout.sizes, root, a, b, columns), y_desc, starts)

    reps = run_chunks(fn, n_boot, chunk=chunk_size(max(n, layout.n_units)), workers=workers)

    def jackknife() -> np.ndarray:
        def stat(w: np.ndarray) -> np.ndarray:
            return _w_average_precision(w[:, desc], y_desc, starts)

        return jackknife_values(stat, n, clusters=clusters)

    return estimate_from_replicates(reps, estimate=average_precision(y, s), method=method, level=level,
                                    jackknife=jackknife, n=n, n_pos=n_pos, n_neg=n - n_pos)
