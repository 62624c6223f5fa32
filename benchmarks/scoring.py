"""Benchmark of scoring alone: ``validation.runs.scoring.score`` on 1e5 synthetic cases with every interval.

16 sites, subgroups age_band / sex / manufacturer, all metrics of the example protocols (AUROC with DeLong,
average precision with a 1000-replicate bootstrap, the 2x2 metrics with Wilson intervals, Brier, ECE, calibration
intercept and slope with a 1000-replicate bootstrap), per site, per subgroup and pooled, plus heterogeneity.

Anchors, measured in this same run on the same cases:

1. one DeLong ``auroc_ci`` on all 1e5 cases (a sort and a few passes): the whole scoring is reported as a multiple
   of it;
2. the previous method, per replicate: the recalibration refitted by Newton-Raphson over every case of each
   replicate (``_w_logistic`` on the resampling counts, as ``calibration_ci`` did before, once for the intercept
   and once for the slope) and average precision by a Python loop of ``average_precision`` calls, run on a few
   replicates of the pooled group and scaled linearly to 1000 replicates and to all groups (said in the output).
   The new replicates of those same draws are compared with the old ones (largest absolute difference printed).

Usage::

    python benchmarks/scoring.py [--cases 100000] [--old-replicates 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# This folder holds a script named evaluators.py: keep it from shadowing the evaluators package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

METRICS = ["auroc", "average_precision", "sensitivity", "specificity", "ppv", "npv", "accuracy", "brier", "ece",
           "calibration_intercept", "calibration_slope"]
SUBGROUPS = ["age_band", "sex", "manufacturer"]
N_BOOT = 1000


def make_frame(n: int, seed: int = 0):
    """Synthetic scored cases: 16 sites, three subgroup attributes, a moderately good, slightly miscalibrated model."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    sites = [f"H{k:02d}" for k in range(1, 17)]
    y = (rng.random(n) < 0.3).astype(int)
    logit = 1.8 * y - 1.2 + rng.normal(0.0, 1.1, n)
    return pd.DataFrame({"case_id": [f"c{i}" for i in range(n)], "score": 1.0 / (1.0 + np.exp(-logit)),
                         "label": y, "site": rng.choice(sites, n), "sex": rng.choice(["F", "M"], n),
                         "age_band": rng.choice(["18-39", "40-64", "65+"], n),
                         "manufacturer": rng.choice(["GE", "Siemens", "Philips", "Canon"], n)})


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    """Median wall time of ``repeat`` runs (no warm-up) and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--old-replicates", type=int, default=8,
                        help="replicates of the old per-replicate method actually run before scaling")
    args = parser.parse_args()

    import numpy as np

    from evaluators import (
        auroc_ci,
        average_precision,
        average_precision_ci,
        bootstrap_replicates,
        calibration_ci,
        percentile_interval,
        threshold_metrics,
    )
    from evaluators._calibration import _logit, _w_logistic
    from validation.runs import scoring
    from validation.runs.scoring import score

    frame = make_frame(args.cases)
    y = frame["label"].to_numpy(dtype=int)
    s = frame["score"].to_numpy(dtype=float)
    n = len(frame)
    # every group is scored with its own bootstraps: pooled + sites + each subgroup attribute's values
    cases_in_groups = n * (2 + len(SUBGROUPS))
    workers = scoring._workers()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"scoring benchmark: {n} cases, 16 sites, subgroups {', '.join(SUBGROUPS)}; {N_BOOT} bootstrap "
          f"replicates; {workers} worker thread(s); load average {load:.1f} on {os.cpu_count()} cores")

    auroc_ci(y, s)  # warm-up: imports, caches
    t_anchor, _ = timed(lambda: auroc_ci(y, s, method="delong"), repeat=5)
    print(f"anchor: one DeLong auroc_ci on {n} cases: {t_anchor * 1e3:.1f} ms")

    cpu0 = time.process_time()
    t_score, scored = timed(lambda: score(frame, metrics=METRICS, subgroups=SUBGROUPS, threshold=0.5, min_n=10,
                                          rules=[("a", "auroc.ci_low >= 0.7"),
                                                 ("b", "calibration_slope.ci_low >= 0.8")], run_id="bench"))
    cpu = time.process_time() - cpu0
    rows = len(scored.results)
    print(f"score(): {t_score:.2f} s wall ({cpu:.2f} s CPU over all threads) for {rows} result rows = "
          f"{t_score / t_anchor:.0f}x the anchor")

    print("per part, pooled group only (1 of the 26 groups; the groups together hold "
          f"{cases_in_groups // n}x the cases):")
    t_cal, _ = timed(lambda: calibration_ci(y, s, n_boot=N_BOOT, seed=1, workers=workers))
    t_ap, _ = timed(lambda: average_precision_ci(y, s, n_boot=N_BOOT, seed=2, workers=workers))
    t_tm, _ = timed(lambda: threshold_metrics(y, s, threshold=0.5), repeat=3)
    print(f"  calibration_ci (Brier, ECE, intercept, slope): {t_cal:.2f} s = {t_cal / t_anchor:.0f}x anchor")
    print(f"  average_precision_ci:                          {t_ap:.2f} s = {t_ap / t_anchor:.0f}x anchor")
    print(f"  auroc_ci (DeLong):                             {t_anchor:.3f} s = 1x anchor")
    print(f"  threshold_metrics (Wilson):                    {t_tm:.3f} s = {t_tm / t_anchor:.1f}x anchor")

    # The previous method on a few replicates of the pooled group, scaled.
    r = args.old_replicates
    yf, x = y.astype(float), _logit(s)
    yb = y.astype(bool)
    t_old_slope, old_slope = timed(lambda: bootstrap_replicates(lambda w: _w_logistic(w, yf, x, slope=True)[1], n,
                                                                n_boot=r, seed=1, strata=y))
    t_old_int, old_int = timed(lambda: bootstrap_replicates(lambda w: _w_logistic(w, yf, x, slope=False)[0], n,
                                                            n_boot=r, seed=1, strata=y))

    def ap_loop(w: np.ndarray) -> np.ndarray:
        return np.array([average_precision(yb, s, sample_weight=row) for row in w])

    t_old_ap, old_ap = timed(lambda: bootstrap_replicates(ap_loop, n, n_boot=r, seed=2, strata=y))
    new_cal = calibration_ci(y, s, n_boot=r, seed=1)
    scale = (N_BOOT / r) * (cases_in_groups / n)
    old_total = (t_old_slope + t_old_int + t_old_ap) * scale
    print(f"previous method, {r} replicates of the pooled group run, scaled x{scale:.0f} to {N_BOOT} replicates "
          f"and all groups:")
    print(f"  recalibration refits {(t_old_slope + t_old_int) * scale:.0f} s, average precision loop "
          f"{t_old_ap * scale:.0f} s: about {old_total:.0f} s = {old_total / t_anchor:.0f}x anchor")
    print(f"  speed-up of score() over the previous bootstraps alone: {old_total / t_score:.0f}x")
    new_ap = average_precision_ci(y, s, n_boot=r, seed=2)
    diffs = []
    for new, old in ((new_cal["calibration_slope"], old_slope), (new_cal["calibration_intercept"], old_int),
                     (new_ap, old_ap)):
        low, high = percentile_interval(old)
        diffs.append(max(abs(new.ci_low - low), abs(new.ci_high - high)))
    print(f"  same draws ({r} replicates), interval bounds new vs previous: slope {diffs[0]:.1e}, intercept "
          f"{diffs[1]:.1e}, average precision {diffs[2]:.1e}")

if __name__ == "__main__":
    main()
