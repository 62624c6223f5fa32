"""Bootstrap engine: exact multinomial resampling within strata and clusters, percentile and BCa intervals.

Replicate ``b`` always draws from its own generator, ``numpy.random.Generator(PCG64(SeedSequence(seed,
spawn_key=(b,))))``, so a result depends only on the data and ``seed``: not on the number of worker threads nor on
how replicates are grouped into chunks. Statistics are evaluated on a whole chunk of replicates at once from a
matrix of resampling counts (weights), never by a Python loop calling a metric per replicate.

References
----------
Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall, 1993 (ch. 14, BCa).
Davison AC, Hinkley DV. Bootstrap Methods and their Application. CUP, 1997 (stratified and cluster resampling).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from evaluators._records import Estimate
from evaluators.exceptions import InvalidInputError, InvalidParameterError

__all__ = [
    "bca_interval",
    "bootstrap_ci",
    "bootstrap_counts",
    "bootstrap_replicates",
    "jackknife_values",
    "percentile_interval",
]

Statistic = Callable[[np.ndarray], np.ndarray]

#: Upper bound on the number of matrix cells (replicates x units) held in memory per chunk.
_CELLS_PER_CHUNK = 2_000_000


@dataclass(frozen=True, slots=True)
class Layout:
    """Resampling units laid out stratum by stratum.

    ``sizes[s]`` units of stratum ``s`` occupy consecutive layout positions; ``case_position[i]`` is the layout
    position of the unit that case ``i`` belongs to.
    """

    sizes: np.ndarray
    case_position: np.ndarray

    @property
    def n_units(self) -> int:
        return int(self.sizes.sum())


def _codes(values: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InvalidInputError(f"{name} must be 1-d with one value per case ({n}); got shape {arr.shape}.")
    _, codes = np.unique(arr, return_inverse=True)
    return codes.reshape(-1).astype(np.intp)


def make_layout(n: int, *, strata: Any = None, clusters: Any = None, order: np.ndarray | None = None) -> Layout:
    """Lay out resampling units (cases, or clusters of cases) contiguously by stratum.

    Within a stratum, units keep the order in which they first appear along ``order`` (default: case order).
    A cluster must lie within one stratum.
    """
    strat = np.zeros(n, dtype=np.intp) if strata is None else _codes(strata, n, "strata")
    if order is None:
        order = np.arange(n)
    if clusters is None:
        unit = np.empty(n, dtype=np.intp)
        unit[order] = np.arange(n)
        unit_stratum = strat[order]
    else:
        cl = _codes(clusters, n, "clusters")
        n_cl = int(cl.max()) + 1 if n else 0
        first = np.full(n_cl, n, dtype=np.intp)
        np.minimum.at(first, cl[order], np.arange(n))
        smin = np.full(n_cl, np.iinfo(np.intp).max, dtype=np.intp)
        smax = np.full(n_cl, -1, dtype=np.intp)
        np.minimum.at(smin, cl, strat)
        np.maximum.at(smax, cl, strat)
        if np.any(smin != smax):
            raise InvalidInputError(
                "a cluster (patient) spans several strata; clusters must be nested in strata "
                "(e.g. stratify by site, not by class, when patients have cases of both classes)."
            )
        rank = np.empty(n_cl, dtype=np.intp)
        rank[np.argsort(first, kind="stable")] = np.arange(n_cl)
        unit = rank[cl]
        unit_stratum = np.empty(n_cl, dtype=np.intp)
        unit_stratum[rank] = smin
    perm = np.argsort(unit_stratum, kind="stable")
    pos_of_unit = np.empty(unit_stratum.shape[0], dtype=np.intp)
    pos_of_unit[perm] = np.arange(perm.shape[0])
    n_strata = int(strat.max()) + 1 if n else 0
    sizes = np.bincount(unit_stratum, minlength=n_strata).astype(np.intp)
    return Layout(sizes=sizes, case_position=pos_of_unit[unit])


def seed_sequence(seed: Any) -> np.random.SeedSequence:
    """Turn ``seed`` (int, SeedSequence or Generator) into a SeedSequence; None is refused."""
    if seed is None:
        raise InvalidParameterError(
            "resampling needs an explicit seed so that results can be reproduced; pass seed=<int>."
        )
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(0, 2**63)))
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return np.random.SeedSequence(int(seed))
    raise InvalidParameterError(f"seed must be a non-negative int, a SeedSequence or a Generator; got {seed!r}.")


def replicate_generator(root: np.random.SeedSequence, b: int) -> np.random.Generator:
    """The generator of replicate ``b``: independent of chunking and threads."""
    ss = np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (b,))
    return np.random.Generator(np.random.PCG64(ss))


def draw_counts(sizes: np.ndarray, root: np.random.SeedSequence, start: int, stop: int) -> np.ndarray:
    """Multinomial resampling counts, in layout order, for replicates ``start .. stop-1``.

    Each stratum of ``sizes[s]`` units is resampled with replacement to its own size (exact multinomial with
    equal probabilities). Returns an int64 array of shape ``(stop - start, sizes.sum())``.
    """
    n_units = int(sizes.sum())
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    strata = [(int(o), int(s)) for o, s in zip(offsets, sizes) if s > 0]
    counts = np.empty((stop - start, n_units), dtype=np.int64)
    for row, b in enumerate(range(start, stop)):
        rng = replicate_generator(root, b)
        for off, size in strata:
            counts[row, off:off + size] = np.bincount(rng.integers(0, size, size=size), minlength=size)
    return counts


def draw_weights(sizes: np.ndarray, root: np.random.SeedSequence, start: int, stop: int,
                 columns: np.ndarray) -> np.ndarray:
    """``draw_counts(sizes, root, start, stop)[:, columns]`` as float64, one replicate at a time.

    Same draws as :func:`draw_counts`; gathering each replicate's counts while they are still in cache is cheaper
    than gathering the whole matrix afterwards. ``columns`` may repeat units (several cases of one cluster).
    """
    n_units = int(sizes.sum())
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    strata = [(int(o), int(s)) for o, s in zip(offsets, sizes) if s > 0]
    out = np.empty((stop - start, columns.shape[0]), dtype=np.float64)
    counts = np.empty(n_units, dtype=np.intp)
    for row, b in enumerate(range(start, stop)):
        rng = replicate_generator(root, b)
        for off, size in strata:
            counts[off:off + size] = np.bincount(rng.integers(0, size, size=size), minlength=size)
        out[row] = counts[columns]
    return out


def chunk_size(n_units: int) -> int:
    """Replicates per chunk so that a chunk holds about ``_CELLS_PER_CHUNK`` cells."""
    return max(1, min(512, _CELLS_PER_CHUNK // max(n_units, 1)))


def run_chunks(fn: Callable[[int, int], np.ndarray], n_boot: int, *, chunk: int, workers: int) -> np.ndarray:
    """Evaluate ``fn(start, stop)`` over consecutive chunks of replicates, optionally in threads."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidParameterError(f"workers must be a positive int; got {workers!r}.")
    bounds = [(s, min(s + chunk, n_boot)) for s in range(0, n_boot, chunk)]
    if workers == 1 or len(bounds) == 1:
        parts = [fn(a, b) for a, b in bounds]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(lambda ab: fn(*ab), bounds))
    return np.concatenate(parts) if parts else np.empty(0)


def check_n_boot(n_boot: int) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 2:
        raise InvalidParameterError(f"n_boot must be an int >= 2 (2000 is usual); got {n_boot!r}.")


def bootstrap_counts(n: int, *, n_boot: int, seed: Any, strata: Any = None, clusters: Any = None,
                     start: int = 0, stop: int | None = None) -> np.ndarray:
    """Resampling counts per case for replicates ``start .. stop-1``.

    Parameters
    ----------
    n : int
        Number of cases.
    n_boot : int
        Total number of replicates of the plan (fixes nothing but the default ``stop``).
    seed : int, SeedSequence or Generator
        Root seed; replicate ``b`` depends only on it and ``b``.
    strata : array-like of shape (n,), optional
        Resample within each stratum (e.g. class, or class x site), keeping stratum sizes fixed.
    clusters : array-like of shape (n,), optional
        Resample whole clusters (e.g. patients) within strata; every case of a drawn cluster is taken.
    start, stop : int
        Replicate range.

    Returns
    -------
    counts : ndarray of shape (stop - start, n), int64
        How many times each case appears in each replicate.

    Notes
    -----
    Draw protocol: replicate ``b`` uses ``Generator(PCG64(SeedSequence(seed, spawn_key=(b,))))``; strata are
    visited in sorted order of their labels; within a stratum the units (cases, or clusters) are listed in order of
    first appearance in the data and ``integers(0, size, size)`` picks ``size`` of them with replacement.

    Examples
    --------
    >>> bootstrap_counts(4, n_boot=2, seed=0, strata=[0, 0, 1, 1]).sum(axis=1).tolist()
    [4, 4]
    """
    layout = make_layout(n, strata=strata, clusters=clusters)
    stop = n_boot if stop is None else stop
    counts = draw_counts(layout.sizes, seed_sequence(seed), start, stop)
    return counts[:, layout.case_position]


def bootstrap_replicates(statistic: Statistic, n: int, *, n_boot: int = 2000, seed: Any, strata: Any = None,
                         clusters: Any = None, workers: int = 1) -> np.ndarray:
    """Evaluate a weighted statistic on ``n_boot`` resamples.

    Parameters
    ----------
    statistic : callable
        ``statistic(weights) -> values`` where ``weights`` has shape (m, n) (resampling counts per case, as
        float64) and ``values`` shape (m,). It must treat a case of weight ``k`` as ``k`` copies.
    n : int
        Number of cases.
    n_boot, seed, strata, clusters
        See :func:`bootstrap_counts`.
    workers : int
        Threads used; the result does not depend on it.

    Returns
    -------
    replicates : ndarray of shape (n_boot,)
    """
    check_n_boot(n_boot)
    root = seed_sequence(seed)
    layout = make_layout(n, strata=strata, clusters=clusters)

    def fn(a: int, b: int) -> np.ndarray:
        counts = draw_counts(layout.sizes, root, a, b)[:, layout.case_position]
        return np.asarray(statistic(counts.astype(np.float64)), dtype=np.float64).reshape(b - a)

    return run_chunks(fn, n_boot, chunk=chunk_size(max(n, layout.n_units)), workers=workers)


def jackknife_values(statistic: Statistic, n: int, *, clusters: Any = None) -> np.ndarray:
    """Leave-one-out values of a weighted statistic (one per case, or per cluster).

    Evaluates ``statistic`` on weight rows with one unit set to zero; cost is O(units x n), so use it for small
    data or pass a closed-form jackknife to :func:`bca_interval` instead.
    """
    if clusters is None:
        unit = np.arange(n)
    else:
        unit = _codes(clusters, n, "clusters")
    n_units = int(unit.max()) + 1 if n else 0
    out = np.empty(n_units)
    step = chunk_size(n)
    for a in range(0, n_units, step):
        b = min(a + step, n_units)
        w = np.ones((b - a, n))
        w[unit[None, :] == np.arange(a, b)[:, None]] = 0.0
        out[a:b] = statistic(w)
    return out


def percentile_interval(replicates: np.ndarray, *, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval (linear interpolation between order statistics); NaN replicates ignored."""
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return math.nan, math.nan
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(r, [alpha, 1.0 - alpha])
    return float(low), float(high)


def bca_interval(replicates: np.ndarray, *, estimate: float, jackknife: np.ndarray,
                 level: float = 0.95) -> tuple[float, float]:
    """Bias-corrected and accelerated (BCa) bootstrap interval (Efron 1987).

    The bias correction uses the mid-proportion of replicates below the estimate (ties count 1/2); the
    acceleration is the skewness of the jackknife values.
    """
    from scipy.special import ndtr, ndtri

    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0 or not math.isfinite(estimate):
        return math.nan, math.nan
    prop = (np.sum(r < estimate) + 0.5 * np.sum(r == estimate)) / r.size
    if prop <= 0.0 or prop >= 1.0:
        return percentile_interval(r, level=level)
    z0 = float(ndtri(prop))
    jk = np.asarray(jackknife, dtype=np.float64)
    jk = jk[np.isfinite(jk)]
    d = jk.mean() - jk if jk.size else np.zeros(1)
    denom = 6.0 * float(np.sum(d**2)) ** 1.5
    accel = float(np.sum(d**3)) / denom if denom > 0 else 0.0
    alpha = (1.0 - level) / 2.0
    qs = []
    for z_alpha in (float(ndtri(alpha)), float(ndtri(1.0 - alpha))):
        zz = z0 + z_alpha
        qs.append(float(ndtr(z0 + zz / (1.0 - accel * zz))))
    low, high = np.quantile(r, qs)
    return float(low), float(high)


def interval_from_replicates(replicates: np.ndarray, *, estimate: float, method: str, level: float,
                             jackknife: Callable[[], np.ndarray] | None) -> tuple[float, float, str]:
    """Interval by ``method`` plus a note on dropped (undefined) replicates."""
    n_bad = int(np.sum(~np.isfinite(replicates)))
    note = f"{n_bad} of {replicates.size} bootstrap replicates undefined and dropped" if n_bad else ""
    if method == "percentile":
        low, high = percentile_interval(replicates, level=level)
    elif method == "bca":
        if jackknife is None:
            raise InvalidParameterError("method='bca' needs jackknife values; pass jackknife=...")
        low, high = bca_interval(replicates, estimate=estimate, jackknife=jackknife(), level=level)
    else:
        raise InvalidParameterError(f"method must be 'percentile' or 'bca'; got {method!r}.")
    return low, high, note


def bootstrap_ci(statistic: Statistic, n: int, *, n_boot: int = 2000, seed: Any, method: str = "percentile",
                 level: float = 0.95, strata: Any = None, clusters: Any = None, workers: int = 1,
                 jackknife: np.ndarray | None = None, n_pos: int | None = None,
                 n_neg: int | None = None) -> Estimate:
    """Point estimate and bootstrap interval of a weighted statistic.

    Parameters
    ----------
    statistic : callable
        ``statistic(weights of shape (m, n)) -> (m,)``; the point estimate is ``statistic(ones((1, n)))``.
    n : int
        Number of cases.
    n_boot : int
        Number of replicates.
    seed : int, SeedSequence or Generator
        Required; the result is reproducible from it regardless of ``workers``.
    method : {"percentile", "bca"}
        Interval method. BCa uses ``jackknife`` if given, else leave-one-unit-out (O(units x n)).
    level : float
        Confidence level.
    strata, clusters : array-like of shape (n,), optional
        See :func:`bootstrap_counts`.
    workers : int
        Threads.
    jackknife : ndarray, optional
        Leave-one-unit-out values of the statistic, if known in closed form.
    n_pos, n_neg : int, optional
        Class counts to record in the result.

    Returns
    -------
    Estimate
        ``method`` is ``"bootstrap-percentile"`` or ``"bootstrap-bca"``; undefined replicates are dropped and
        counted in ``note``.
    """
    if method not in ("percentile", "bca"):
        raise InvalidParameterError(f"method must be 'percentile' or 'bca'; got {method!r}.")
    estimate = float(np.asarray(statistic(np.ones((1, n))), dtype=np.float64).reshape(1)[0])
    reps = bootstrap_replicates(statistic, n, n_boot=n_boot, seed=seed, strata=strata, clusters=clusters,
                                workers=workers)

    def jk() -> np.ndarray:
        return jackknife if jackknife is not None else jackknife_values(statistic, n, clusters=clusters)

    return estimate_from_replicates(reps, estimate=estimate, method=method, level=level, jackknife=jk, n=n,
                                    n_pos=n_pos, n_neg=n_neg)


def estimate_from_replicates(replicates: np.ndarray, *, estimate: float, method: str, level: float,
                             jackknife: Callable[[], np.ndarray] | None, n: int, n_pos: int | None,
                             n_neg: int | None) -> Estimate:
    """The :class:`Estimate` :func:`bootstrap_ci` returns, from a point estimate and its replicates."""
    low, high, note = interval_from_replicates(replicates, estimate=estimate, method=method, level=level,
                                               jackknife=jackknife)
    if not math.isfinite(estimate):
        low = high = math.nan
        note = "statistic undefined on the full sample" + (f"; {note}" if note else "")
    return Estimate(estimate=estimate, ci_low=low, ci_high=high, level=level, method=f"bootstrap-{method}",
                    n=n, n_pos=n_pos, n_neg=n_neg, note=note)
