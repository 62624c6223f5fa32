"""Scoring a run outside the sandbox: join predictions to labels, compute the protocol's metrics pooled, per site
and per subgroup with intervals, site heterogeneity and gaps, and decide the acceptance criteria.

The results form one tidy table (``metric, group_kind, group, estimate, ci_low, ci_high, ci_method, n, n_pos,
n_neg, note``). Every bootstrap is seeded from the run id, so re-scoring the same predictions gives the same
numbers.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["Scored", "load_scoring_frame", "score", "RESULT_COLUMNS", "THRESHOLD_METRICS", "CALIBRATION_METRICS"]

RESULT_COLUMNS = ("metric", "group_kind", "group", "estimate", "ci_low", "ci_high", "ci_method", "n", "n_pos",
                  "n_neg", "note")
THRESHOLD_METRICS = ("sensitivity", "specificity", "ppv", "npv", "accuracy", "f1")
CALIBRATION_METRICS = ("brier", "ece", "calibration_intercept", "calibration_slope")
N_BOOT = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class Scored:
    """The outcome of scoring: the tidy results, the verdicts, and the 2x2 table at the threshold."""

    results: pd.DataFrame
    verdicts: list[dict]
    table_2x2: dict[str, int]
    n_cases: int


def load_scoring_frame(corpus_dir: str | Path, run_dir: str | Path, sites: Sequence[str], task: str,
                       case_ids: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Predictions of the given sites joined to labels and subgroup attributes.

    ``case_ids`` gives, per site, the case ids the run planned; every one must have exactly one prediction.

    Raises
    ------
    ValueError
        A planned case has no prediction, or one appears twice (never silently dropped or double counted).
    """
    corpus_dir, run_dir = Path(corpus_dir), Path(run_dir)
    frames = []
    for site in sites:
        files = sorted((run_dir / "predictions" / site).glob("batch-*.parquet"))
        preds = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else \
            pd.DataFrame({"case_id": [], "score": []})
        planned = list(case_ids[site])
        if preds["case_id"].duplicated().any():
            raise ValueError(f"site {site}: a case was predicted twice")
        if sorted(preds["case_id"]) != sorted(planned):
            raise ValueError(f"site {site}: predictions cover {len(preds)} of {len(planned)} planned cases")
        labels = pd.read_parquet(corpus_dir / "labels" / site / "labels.parquet", columns=["case_id", "task", "label"])
        labels = labels[labels["task"] == task]
        index = pd.read_parquet(corpus_dir / "sites" / site / "index.parquet")
        keep = [c for c in ("case_id", "age_band", "sex", "manufacturer", "patient") if c in index.columns]
        frame = preds.merge(labels[["case_id", "label"]], on="case_id", how="left", validate="one_to_one")
        frame = frame.merge(index[keep], on="case_id", how="left", validate="one_to_one")
        if frame["label"].isna().any():
            raise ValueError(f"site {site}: {int(frame['label'].isna().sum())} predicted case(s) have no label")
        frame["site"] = site
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out["label"] = out["label"].astype(int)
    return out


def _seed(run_id: str, what: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{run_id}/{what}".encode()).digest()[:8], "big")


def _row(metric: str, kind: str, group: str, est, method: str, note: str = "") -> dict:
    def f(x):
        return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)

    return {"metric": metric, "group_kind": kind, "group": str(group), "estimate": f(est.estimate),
            "ci_low": f(est.ci_low), "ci_high": f(est.ci_high), "ci_method": method or getattr(est, "method", ""),
            "n": int(est.n), "n_pos": int(est.n_pos), "n_neg": int(est.n_neg),
            "note": "; ".join(x for x in (getattr(est, "note", "") or "", note) if x)}


def _ap_estimate(y: np.ndarray, s: np.ndarray, seed: int):
    from evaluators import average_precision_ci

    return average_precision_ci(y, s, n_boot=N_BOOT, seed=seed, workers=_workers())


def _workers() -> int:
    """Threads for the bootstraps (the results do not depend on it)."""
    return max(1, min(4, os.cpu_count() or 1))


def _group_rows(metrics: Sequence[str], y: np.ndarray, s: np.ndarray, *, threshold: float, kind: str, group: str,
                run_id: str, min_n: int) -> list[dict]:
    from evaluators import Estimate, EvaluatorError, auroc_ci, calibration_ci, threshold_metrics

    n, n_pos = len(y), int(y.sum())
    rows: list[dict] = []
    small = "fewer cases than the protocol's minimum" if n < min_n else ""

    def undefined(metric: str, why: str) -> dict:
        est = Estimate(estimate=math.nan, ci_low=math.nan, ci_high=math.nan, level=0.95, method="none", n=n,
                       n_pos=n_pos, n_neg=n - n_pos, note=why)
        return _row(metric, kind, group, est, "none", small)

    one_class = n_pos == 0 or n_pos == n
    if "auroc" in metrics:
        if one_class or n == 0:
            rows.append(undefined("auroc", "undefined: one class only" if n else "empty group"))
        else:
            rows.append(_row("auroc", kind, group, auroc_ci(y, s, method="delong"), "delong", small))
    if "average_precision" in metrics:
        if n_pos == 0:
            rows.append(undefined("average_precision", "undefined: no positive case"))
        else:
            est = _ap_estimate(y, s, _seed(run_id, f"ap/{kind}/{group}"))
            rows.append(_row("average_precision", kind, group, est, f"bootstrap-percentile({N_BOOT})", small))
    wanted = [m for m in THRESHOLD_METRICS if m in metrics]
    if wanted and n:
        tm = threshold_metrics(y, s, threshold=threshold, ci="wilson")
        for m in wanted:
            rows.append(_row(m, kind, group, getattr(tm, m), getattr(tm, m).method, small))
    wanted = [m for m in CALIBRATION_METRICS if m in metrics]
    if wanted:
        if one_class or n < 2:
            rows.extend(undefined(m, "undefined: one class only") for m in wanted)
        else:
            try:
                cal = calibration_ci(y, s, n_boot=N_BOOT, seed=_seed(run_id, f"cal/{kind}/{group}"),
                                     workers=_workers())
                rows.extend(_row(m, kind, group, cal[m], f"bootstrap-percentile({N_BOOT})", small) for m in wanted)
            except EvaluatorError as exc:
                rows.extend(undefined(m, f"undefined: {exc}") for m in wanted)
    return rows


def score(frame: pd.DataFrame, *, metrics: Sequence[str], subgroups: Sequence[str], threshold: float,
          min_n: int, rules: Sequence[tuple[str, str]], run_id: str) -> Scored:
    """Compute the results table and the verdicts of ``rules`` (pairs of criterion id and rule text)."""
    from evaluators import Estimate, EvaluatorError, evaluate_rules, site_heterogeneity

    y = frame["label"].to_numpy(dtype=int)
    s = frame["score"].to_numpy(dtype=float)
    rows = _group_rows(metrics, y, s, threshold=threshold, kind="overall", group="all", run_id=run_id, min_n=min_n)
    by_site: dict[str, list[dict]] = {}
    for site, part in frame.groupby("site", sort=True):
        site_rows = _group_rows(metrics, part["label"].to_numpy(dtype=int), part["score"].to_numpy(dtype=float),
                                threshold=threshold, kind="site", group=str(site), run_id=run_id, min_n=min_n)
        by_site[str(site)] = site_rows
        rows.extend(site_rows)
    for attr in subgroups:
        if attr not in frame.columns:
            continue
        for value, part in frame.groupby(frame[attr].fillna("unknown"), sort=True):
            rows.extend(_group_rows(metrics, part["label"].to_numpy(dtype=int), part["score"].to_numpy(dtype=float),
                                    threshold=threshold, kind=f"subgroup:{attr}", group=str(value), run_id=run_id,
                                    min_n=min_n))
    gaps: dict[str, float] = {}
    for metric in metrics:
        values = [r["estimate"] for site_rows in by_site.values() for r in site_rows
                  if r["metric"] == metric and r["estimate"] is not None and r["n"] >= min_n]
        gap = (max(values) - min(values)) if len(values) >= 2 else math.nan
        gaps[metric] = gap
        rows.append({"metric": metric, "group_kind": "site_gap", "group": "max-min", "estimate": None
                     if math.isnan(gap) else gap, "ci_low": None, "ci_high": None, "ci_method": "none",
                     "n": int(len(frame)), "n_pos": int(y.sum()), "n_neg": int(len(y) - y.sum()),
                     "note": f"over {len(values)} sites with at least {min_n} cases"})
    if "auroc" in metrics:
        per_site = {}
        for site, site_rows in by_site.items():
            r = next((r for r in site_rows if r["metric"] == "auroc" and r["estimate"] is not None), None)
            part = frame[frame["site"] == site]
            if r is not None and r["n"] >= min_n:
                from evaluators import auroc_ci

                per_site[site] = auroc_ci(part["label"].to_numpy(dtype=int), part["score"].to_numpy(dtype=float))
        if len(per_site) >= 2:
            try:
                meta = site_heterogeneity(per_site, metric="auroc")
                back = meta.back_transformed()
                rows.append({"metric": "auroc", "group_kind": "random_effects", "group": "pooled",
                             "estimate": _finite(back["estimate"]), "ci_low": _finite(back["ci_low"]),
                             "ci_high": _finite(back["ci_high"]),
                             "ci_method": "random effects on logit(AUROC): DerSimonian-Laird, Hartung-Knapp",
                             "n": int(len(frame)), "n_pos": int(y.sum()), "n_neg": int(len(y) - y.sum()),
                             "note": f"I2={meta.i2:.3f}; tau2={meta.tau2:.4g}; Q={meta.q:.3f} (df {meta.q_df}, "
                                     f"p={meta.q_p_value:.3g}); prediction interval {_fmt(back['pred_low'])} to "
                                     f"{_fmt(back['pred_high'])}; {meta.k} sites"})
            except EvaluatorError:
                pass
    results = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    overall = {}
    for r in rows:
        if r["group_kind"] == "overall":
            overall[r["metric"]] = Estimate(
                estimate=math.nan if r["estimate"] is None else r["estimate"],
                ci_low=math.nan if r["ci_low"] is None else r["ci_low"],
                ci_high=math.nan if r["ci_high"] is None else r["ci_high"], level=0.95, method=r["ci_method"],
                n=r["n"], n_pos=r["n_pos"], n_neg=r["n_neg"], note=r["note"])
    verdicts = []
    outcome = evaluate_rules([text for _, text in rules], {**overall, "site_gap": gaps})
    for (criterion, text), verdict in zip(rules, outcome):
        verdicts.append({"criterion": criterion, "rule": text, "status": verdict.status,
                         "detail": _verdict_detail(verdict)})
    from evaluators import threshold_metrics

    tm = threshold_metrics(y, s, threshold=threshold)
    return Scored(results=results, verdicts=verdicts, table_2x2={"tp": tm.tp, "fp": tm.fp, "tn": tm.tn, "fn": tm.fn},
                  n_cases=int(len(frame)))


def _finite(x) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _fmt(x: float) -> str:
    return f"{x:.3f}" if math.isfinite(x) else "undefined"


def _verdict_detail(verdict) -> dict:
    values = {str(k): (None if isinstance(v, float) and not math.isfinite(v) else v)
              for k, v in (verdict.values or {}).items()}
    return {"values": values, "detail": verdict.detail}
