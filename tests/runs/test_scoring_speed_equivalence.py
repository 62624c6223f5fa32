"""Scoring's fast bootstraps give the intervals of a brute-force loop over the same seeded replicates.

``score`` seeds every group's bootstrap from the run id (``cal/<kind>/<group>`` for calibration, ``ap/<kind>/<group>``
for average precision) and resamples within class. The reference draws each replicate's counts from
:func:`evaluators.bootstrap_counts` with those seeds and computes the statistics directly (per-replicate Newton fits
from tests/evaluators/evaluators_reference.py, ``average_precision`` with the counts as weights), so a change of
draws, of statistic or of interval in the fast path would show here.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluators import average_precision, bootstrap_counts, percentile_interval

REFERENCE = Path(__file__).resolve().parents[1] / "evaluators" / "evaluators_reference.py"


def _reference_module():
    spec = importlib.util.spec_from_file_location("clinval_evaluators_reference", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _frame(n: int = 260, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(int)
    logit = 1.6 * y - 1.0 + rng.normal(0.0, 1.0, n)
    return pd.DataFrame({"case_id": [f"c{i}" for i in range(n)], "score": 1 / (1 + np.exp(-logit)), "label": y,
                         "site": rng.choice(["H01", "H02", "H03", "H04"], n), "sex": rng.choice(["F", "M"], n)})


def _row(results: pd.DataFrame, metric: str, kind: str, group: str) -> pd.Series:
    sel = results[(results["metric"] == metric) & (results["group_kind"] == kind) & (results["group"] == group)]
    assert len(sel) == 1
    return sel.iloc[0]


def test_scored_bootstrap_intervals_equal_a_replicate_loop():
    from validation.runs import scoring

    ref = _reference_module()
    frame = _frame()
    metrics = ["average_precision", "brier", "ece", "calibration_intercept", "calibration_slope"]
    scored = scoring.score(frame, metrics=metrics, subgroups=["sex"], threshold=0.5, min_n=10, rules=[],
                           run_id="run-eq")
    part = frame[frame["site"] == "H02"]
    y, p = part["label"].to_numpy(), part["score"].to_numpy()
    n_boot = scoring.N_BOOT
    yf, x = y.astype(float), ref.clipped_logit(p)
    bins = np.minimum(np.floor(p * 10).astype(int), 9)
    cal_seed = scoring._seed("run-eq", "cal/site/H02")
    ap_seed = scoring._seed("run-eq", "ap/site/H02")
    reps = {m: np.empty(n_boot) for m in metrics}
    for b in range(n_boot):
        w = bootstrap_counts(len(y), n_boot=n_boot, seed=cal_seed, strata=y, start=b, stop=b + 1)[0].astype(float)
        reps["brier"][b] = np.sum(w * (p - yf) ** 2) / w.sum()
        reps["ece"][b] = sum(abs(np.sum(w[bins == k] * (yf[bins == k] - p[bins == k]))) for k in range(10)) / w.sum()
        reps["calibration_intercept"][b] = ref.recalibration_fit(w, yf, x, slope=False)
        reps["calibration_slope"][b] = ref.recalibration_fit(w, yf, x, slope=True)
        w = bootstrap_counts(len(y), n_boot=n_boot, seed=ap_seed, strata=y, start=b, stop=b + 1)[0]
        reps["average_precision"][b] = average_precision(y, p, sample_weight=w)
    for metric in metrics:
        row = _row(scored.results, metric, "site", "H02")
        low, high = percentile_interval(reps[metric])
        assert row["ci_low"] == pytest.approx(low, abs=1e-10), metric
        assert row["ci_high"] == pytest.approx(high, abs=1e-10), metric
        assert row["ci_method"] == f"bootstrap-percentile({n_boot})"
        assert row["n"] == len(y) and row["n_pos"] == int(y.sum())
        assert math.isfinite(row["estimate"])


def test_scoring_does_not_depend_on_threads(monkeypatch):
    from validation.runs import scoring

    frame = _frame(n=200, seed=4)
    args = dict(metrics=["auroc", "average_precision", "sensitivity", "brier", "ece", "calibration_slope"],
                subgroups=["sex"], threshold=0.5, min_n=10, rules=[("a", "auroc.ci_low >= 0.5")], run_id="run-t")
    monkeypatch.setattr(scoring, "_workers", lambda: 1)
    one = scoring.score(frame, **args)
    monkeypatch.setattr(scoring, "_workers", lambda: 3)
    three = scoring.score(frame, **args)
    pd.testing.assert_frame_equal(one.results, three.results)
    assert one.verdicts == three.verdicts
