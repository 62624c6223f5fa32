"""Metrics at the operating threshold the vendor declared: the 2x2 table and its proportions with intervals.

A case is called positive when ``score >= threshold``. The threshold is taken as given and never re-tuned on the
evaluation data.

References
----------
Altman DG, Bland JM. Diagnostic tests 2: predictive values. BMJ 1994;309:102.
Mercaldo ND, Lau KF, Zhou XH. Confidence intervals for predictive values with an emphasis to case-control
studies. Stat Med 2007;26:2170-2183.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluators import _inputs
from evaluators._proportions import PROPORTION_METHODS, proportion_ci
from evaluators._records import Estimate
from evaluators.exceptions import InvalidParameterError

__all__ = ["ThresholdMetrics", "threshold_metrics"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdMetrics:
    """The 2x2 table at a threshold and the proportions derived from it, each with an interval.

    Attributes
    ----------
    threshold : float
        Operating threshold; ``score >= threshold`` is positive.
    tp, fp, tn, fn : int
        Cells of the 2x2 table.
    sensitivity, specificity, ppv, npv, accuracy : Estimate
        Observed proportions with intervals by ``ci_method``.
    f1 : Estimate
        F1 score (point estimate only; no closed-form interval).
    prevalence : float or None
        Intended-use prevalence used for the adjusted predictive values, if given.
    ppv_adjusted, npv_adjusted : Estimate or None
        Predictive values at ``prevalence`` by Bayes' theorem from sensitivity and specificity.
    """

    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int
    level: float
    ci_method: str
    sensitivity: Estimate
    specificity: Estimate
    ppv: Estimate
    npv: Estimate
    accuracy: Estimate
    f1: Estimate
    prevalence: float | None = None
    ppv_adjusted: Estimate | None = None
    npv_adjusted: Estimate | None = None

    @property
    def n(self) -> int:
        """Number of cases."""
        return self.tp + self.fp + self.tn + self.fn

    def table(self):
        """The 2x2 table as a DataFrame (rows: predicted, columns: reference)."""
        import pandas as pd

        return pd.DataFrame(
            [[self.tp, self.fp], [self.fn, self.tn]],
            index=pd.Index(["predicted positive", "predicted negative"], name="prediction"),
            columns=pd.Index(["reference positive", "reference negative"], name="reference"),
        )

    def estimates(self) -> dict[str, Estimate]:
        """Every metric as ``{name: Estimate}`` (names as in :data:`evaluators.KNOWN_METRICS`)."""
        out = {name: getattr(self, name) for name in ("sensitivity", "specificity", "ppv", "npv", "accuracy",
                                                         "f1")}
        if self.ppv_adjusted is not None and self.npv_adjusted is not None:
            out["ppv_adjusted"] = self.ppv_adjusted
            out["npv_adjusted"] = self.npv_adjusted
        return out

    def to_frame(self):
        """Tidy DataFrame: one row per metric with estimate, interval, method and counts."""
        import pandas as pd

        rows = []
        for name, e in self.estimates().items():
            rows.append({"metric": name, **e.to_dict()})
        return pd.DataFrame(rows)


def _predictive(sens: float, spec: float, prev: float) -> tuple[float, float]:
    ppv_den = sens * prev + (1.0 - spec) * (1.0 - prev)
    npv_den = spec * (1.0 - prev) + (1.0 - sens) * prev
    ppv = sens * prev / ppv_den if ppv_den > 0 else math.nan
    npv = spec * (1.0 - prev) / npv_den if npv_den > 0 else math.nan
    return ppv, npv


def threshold_metrics(y_true: Any, y_score: Any, *, threshold: float, level: float = 0.95,
                      ci: str = "wilson", prevalence: float | None = None,
                      pos_label: Any = None) -> ThresholdMetrics:
    """Sensitivity, specificity, PPV, NPV, accuracy and F1 at a declared threshold, with intervals.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Reference labels (bool or 0/1, or use ``pos_label``).
    y_score : array-like of shape (n_samples,)
        Finite scores.
    threshold : float
        Operating threshold declared by the vendor; ``score >= threshold`` is positive.
    level : float
        Confidence level.
    ci : {"wilson", "clopper-pearson"}
        Interval method for every proportion.
    prevalence : float in (0, 1), optional
        Intended-use prevalence; adds ``ppv_adjusted``/``npv_adjusted`` by Bayes' theorem. Their interval is
        obtained by evaluating the same formula at the sensitivity/specificity interval bounds (both are
        increasing in sensitivity and specificity), so it is approximate.
    pos_label : optional
        Positive label when ``y_true`` is not bool or 0/1.

    Returns
    -------
    ThresholdMetrics

    Examples
    --------
    >>> m = threshold_metrics([1, 1, 0, 0, 1], [0.9, 0.4, 0.6, 0.1, 0.7], threshold=0.5)
    >>> m.tp, m.fp, m.tn, m.fn
    (2, 1, 1, 1)
    """
    y = _inputs.binary_labels(y_true, pos_label=pos_label)
    s = _inputs.scores(y_score, n=y.shape[0])
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating, np.integer)) \
            or not math.isfinite(float(threshold)):
        raise InvalidParameterError(f"threshold must be a finite number (the declared operating point); "
                                    f"got {threshold!r}.")
    if ci not in PROPORTION_METHODS:
        raise InvalidParameterError(f"ci must be one of {PROPORTION_METHODS}; got {ci!r}.")
    if prevalence is not None and not (isinstance(prevalence, (int, float)) and 0.0 < prevalence < 1.0):
        raise InvalidParameterError(f"prevalence must be strictly between 0 and 1; got {prevalence!r}.")
    pred = s >= float(threshold)
    tp = int(np.sum(pred & y))
    fp = int(np.sum(pred & ~y))
    fn = int(np.sum(~pred & y))
    tn = int(np.sum(~pred & ~y))
    n_pos, n_neg = tp + fn, tn + fp
    n = n_pos + n_neg

    def prop(k: int, m: int, what: str) -> Estimate:
        e = proportion_ci(k, m, method=ci, level=level)
        note = e.note if m else f"undefined: no {what}"
        return Estimate(estimate=e.estimate, ci_low=e.ci_low, ci_high=e.ci_high, level=level, method=ci, n=m,
                        n_pos=n_pos, n_neg=n_neg, note=note)

    sens = prop(tp, n_pos, "reference-positive cases")
    spec = prop(tn, n_neg, "reference-negative cases")
    ppv = prop(tp, tp + fp, "predicted-positive cases")
    npv = prop(tn, tn + fn, "predicted-negative cases")
    acc = prop(tp + tn, n, "cases")
    f1_den = 2 * tp + fp + fn
    f1 = Estimate(estimate=2 * tp / f1_den if f1_den else math.nan, level=level, method="point", n=n,
                  n_pos=n_pos, n_neg=n_neg,
                  note="no closed-form interval; bootstrap it if needed" if f1_den else
                  "undefined: no positive reference or prediction")
    ppv_adj = npv_adj = None
    if prevalence is not None:
        p_hat, n_hat = _predictive(sens.estimate, spec.estimate, prevalence)
        p_lo, n_lo = _predictive(sens.ci_low, spec.ci_low, prevalence)
        p_hi, n_hi = _predictive(sens.ci_high, spec.ci_high, prevalence)
        method = f"bayes-{ci}-bounds"
        note = f"at intended-use prevalence {prevalence:g}; interval from sensitivity/specificity bounds"
        if math.isnan(p_hat) or math.isnan(n_hat):
            note = "undefined: sensitivity or specificity undefined"
        ppv_adj = Estimate(estimate=p_hat, ci_low=p_lo, ci_high=p_hi, level=level, method=method, n=n,
                           n_pos=n_pos, n_neg=n_neg, note=note)
        npv_adj = Estimate(estimate=n_hat, ci_low=n_lo, ci_high=n_hi, level=level, method=method, n=n,
                           n_pos=n_pos, n_neg=n_neg, note=note)
    return ThresholdMetrics(threshold=float(threshold), tp=tp, fp=fp, tn=tn, fn=fn, level=level, ci_method=ci,
                            sensitivity=sens, specificity=spec, ppv=ppv, npv=npv, accuracy=acc, f1=f1,
                            prevalence=prevalence, ppv_adjusted=ppv_adj, npv_adjusted=npv_adj)
