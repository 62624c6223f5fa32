"""Benchmark: evaluators' AUROC with DeLong CI and the stratified AUROC bootstrap, as ratios against anchors.

Claims checked (ARCHITECTURE.md, issue 6), everything measured in this one run on this machine:

1. ``auroc_ci`` (DeLong, Sun & Xu) on 1e6 cases within 5x of ``np.argsort`` of the same scores (the sort floor),
   and compared with ``sklearn.metrics.roc_auc_score`` (point estimate only, no interval).
2. A 2000-replicate bootstrap of the AUROC stratified by class (and by 16 sites) on 1e5 cases at least 30x faster
   than a Python loop calling ``roc_auc_score`` on stratified resamples. The loop is run on fewer replicates and
   its time scaled linearly to 2000 (said in the output).

Run: ``python benchmarks/evaluators.py`` (``--quick`` for a smaller smoke run). Needs scikit-learn (bench extra).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def _best(fn, repeat: int) -> float:
    """Median wall time of ``repeat`` runs after one warm-up run."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _loop_bootstrap(y, s, site, n_rep, seed):
    """The obvious implementation: resample indices within each class x site stratum, call sklearn each time."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    strata = [np.flatnonzero((y == c) & (site == k)) for c in (False, True) for k in np.unique(site)]
    strata = [m for m in strata if m.size]
    out = np.empty(n_rep)
    for b in range(n_rep):
        idx = np.concatenate([m[rng.integers(0, m.size, m.size)] for m in strata])
        out[b] = roc_auc_score(y[idx], s[idx])
    return out


def _import_package():
    """Import the ``evaluators`` package, not this script of the same name (its folder is sys.path[0])."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(here.parent))
    sys.modules.pop("evaluators", None)
    import evaluators

    return evaluators


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()

    from sklearn.metrics import roc_auc_score

    auroc_ci = _import_package().auroc_ci

    n_big = 100_000 if args.quick else 1_000_000
    n_boot_cases = 20_000 if args.quick else 100_000
    n_boot = 2000
    loop_reps = 20 if args.quick else 50
    rounds = 1 if args.quick else 3

    rng = np.random.default_rng(2024)
    print(f"machine: {os.cpu_count()} CPUs; numpy {np.__version__}")

    # 1. DeLong on n_big cases
    y = rng.random(n_big) < 0.3
    s = rng.normal(size=n_big) + 1.2 * y
    t_sort = _best(lambda: np.argsort(s), repeat=5)
    t_delong = _best(lambda: auroc_ci(y, s), repeat=5)
    t_sklearn = _best(lambda: roc_auc_score(y, s), repeat=3)
    e = auroc_ci(y, s)
    print(f"\n[1] AUROC + DeLong 95% CI on {n_big:,} cases: {e.estimate:.4f} ({e.ci_low:.4f}-{e.ci_high:.4f})")
    print(f"    np.argsort (sort floor)          {t_sort * 1e3:8.1f} ms")
    print(f"    evaluators.auroc_ci (DeLong)      {t_delong * 1e3:8.1f} ms  = {t_delong / t_sort:5.2f}x the sort floor "
          f"(goal <= 5x)")
    print(f"    sklearn roc_auc_score (no CI)     {t_sklearn * 1e3:8.1f} ms  -> auroc_ci is "
          f"{t_sklearn / t_delong:5.2f}x faster than sklearn's point estimate")

    # 2. stratified bootstrap on n_boot_cases; loop and engine timed alternately, ratio = median over rounds
    y2 = y[:n_boot_cases]
    s2 = s[:n_boot_cases]
    site = rng.integers(0, 16, size=n_boot_cases)
    print(f"\n[2] {n_boot}-replicate stratified AUROC bootstrap on {n_boot_cases:,} cases")
    print(f"    anchor: a loop over sklearn roc_auc_score on stratified resamples, run on {loop_reps} replicates "
          f"and scaled x{n_boot // loop_reps} to {n_boot};")
    print(f"    loop and engine are timed alternately, {rounds} rounds, and the median ratio is reported")
    for label, strata in (("class", None), ("class x 16 sites", site)):
        loop_site = np.zeros_like(site) if strata is None else site
        ratios = {1: [], 2: []}
        loop_times, engine_times = [], {1: [], 2: []}
        for _ in range(rounds):
            t0 = time.perf_counter()
            _loop_bootstrap(y2, s2, loop_site, loop_reps, 1)
            t_loop = (time.perf_counter() - t0) * (n_boot / loop_reps)
            loop_times.append(t_loop)
            for workers in (1, 2):
                t0 = time.perf_counter()
                auroc_ci(y2, s2, method="bootstrap", n_boot=n_boot, seed=7, strata=strata, workers=workers)
                t = time.perf_counter() - t0
                engine_times[workers].append(t)
                ratios[workers].append(t_loop / t)
        print(f"    stratified by {label}: loop {statistics.median(loop_times):6.1f} s (scaled)")
        for workers in (1, 2):
            print(f"      evaluators, workers={workers}: {statistics.median(engine_times[workers]):5.2f} s"
                  f"  -> {statistics.median(ratios[workers]):5.1f}x faster than the loop (goal >= 30x; "
                  f"rounds: {', '.join(f'{r:.0f}x' for r in ratios[workers])})")
    a = auroc_ci(y2, s2, method="bootstrap", n_boot=n_boot, seed=7, strata=site, workers=1)
    b = auroc_ci(y2, s2, method="bootstrap", n_boot=n_boot, seed=7, strata=site, workers=2)
    print(f"    same seed, 1 vs 2 workers identical: {a == b}  (CI {a.ci_low:.5f}-{a.ci_high:.5f})")


if __name__ == "__main__":
    main()
