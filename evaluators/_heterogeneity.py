"""Heterogeneity across sites: random-effects meta-analysis of per-site estimates on the logit scale.

References
----------
DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials 1986;7:177-188.
Paule RC, Mandel J. Consensus values and weighting factors. J Res Natl Bur Stand 1982;87:377-385.
Hartung J, Knapp G. A refined method for the meta-analysis of controlled clinical trials with binary outcome.
Stat Med 2001;20:3875-3889.
Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis. Stat Med 2002;21:1539-1558.
Riley RD, Higgins JPT, Deeks JJ. Interpretation of random effects meta-analyses. BMJ 2011;342:d549
(prediction interval with k - 2 degrees of freedom).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from evaluators._inputs import level_z
from evaluators._records import Estimate
from evaluators.exceptions import InvalidInputError, InvalidParameterError

__all__ = ["MetaAnalysis", "logit_auroc", "logit_proportion", "meta_analysis", "site_heterogeneity"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MetaAnalysis:
    """Result of a random-effects meta-analysis (all effects on the analysis scale, e.g. logit).

    Attributes
    ----------
    k : int
        Number of sites (studies) pooled.
    estimate, ci_low, ci_high : float
        Random-effects pooled estimate and its interval (normal, or Hartung-Knapp with ``hartung_knapp``).
    se : float
        Standard error of the pooled estimate used for the interval.
    fixed_estimate, fixed_se : float
        Inverse-variance fixed-effect estimate and its standard error.
    tau2 : float
        Between-site variance by ``tau2_method``.
    q, q_df, q_p_value : float
        Cochran's Q, its degrees of freedom (k - 1) and chi-square p-value.
    i2 : float
        Higgins' I^2 = max(0, (Q - df) / Q), in [0, 1].
    pred_low, pred_high : float
        Prediction interval for a new site's true effect (t with k - 2 df; NaN if k < 3).
    level : float
    tau2_method : str
        ``"dl"`` (DerSimonian-Laird) or ``"pm"`` (Paule-Mandel).
    hartung_knapp : bool
    scale : str
        ``"logit"`` or ``"identity"``; :meth:`back_transformed` maps logit results to probabilities.
    """

    k: int
    estimate: float
    ci_low: float
    ci_high: float
    se: float
    fixed_estimate: float
    fixed_se: float
    tau2: float
    q: float
    q_df: int
    q_p_value: float
    i2: float
    pred_low: float
    pred_high: float
    level: float
    tau2_method: str
    hartung_knapp: bool
    scale: str = "identity"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def back_transformed(self) -> dict[str, float]:
        """Pooled estimate, CI and prediction interval on the probability scale (for ``scale="logit"``)."""
        from scipy.special import expit

        f = expit if self.scale == "logit" else (lambda v: v)
        return {name: float(f(getattr(self, name)))
                for name in ("estimate", "ci_low", "ci_high", "pred_low", "pred_high", "fixed_estimate")}


def _tau2_dl(y: np.ndarray, v: np.ndarray) -> float:
    w = 1.0 / v
    mu = np.sum(w * y) / np.sum(w)
    q = float(np.sum(w * (y - mu) ** 2))
    c = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    return max(0.0, (q - (y.size - 1)) / c) if c > 0 else 0.0


def _tau2_pm(y: np.ndarray, v: np.ndarray, *, tol: float = 1e-12, max_iter: int = 200) -> float:
    """Paule-Mandel: tau^2 solving generalised Q(tau^2) = k - 1 (0 if Q(0) <= k - 1), by bisection."""
    k = y.size

    def excess(t2: float) -> float:
        w = 1.0 / (v + t2)
        mu = np.sum(w * y) / np.sum(w)
        return float(np.sum(w * (y - mu) ** 2)) - (k - 1)

    if excess(0.0) <= 0:
        return 0.0
    hi = max(1.0, float(np.var(y)) * 10)
    while excess(hi) > 0:
        hi *= 2.0
    lo = 0.0
    for _ in range(max_iter):
        mid = 0.5 * (lo + hi)
        if excess(mid) > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < tol * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def meta_analysis(effects: Any, variances: Any, *, tau2_method: str = "dl", hartung_knapp: bool = True,
                  level: float = 0.95, scale: str = "identity") -> MetaAnalysis:
    """Random-effects meta-analysis of independent estimates with known within-site variances.

    Parameters
    ----------
    effects : array-like of shape (k,)
        Per-site estimates on the analysis scale (e.g. logit AUROC).
    variances : array-like of shape (k,)
        Their within-site sampling variances (positive).
    tau2_method : {"dl", "pm"}
        DerSimonian-Laird moment estimator or Paule-Mandel (generalised Q) estimator of tau^2.
    hartung_knapp : bool
        Hartung-Knapp(-Sidik-Jonkman) interval: t with k - 1 df and the weighted residual variance, without the
        ad hoc max(1, .) truncation (as ``statsmodels.stats.meta_analysis.combine_effects``). Otherwise a normal
        (Wald) interval.
    level : float
        Confidence level of the interval and the prediction interval.
    scale : {"identity", "logit"}
        Recorded in the result, used by :meth:`MetaAnalysis.back_transformed`.

    Returns
    -------
    MetaAnalysis
    """
    from scipy import stats

    y = np.asarray(effects, dtype=float)
    v = np.asarray(variances, dtype=float)
    if y.ndim != 1 or v.shape != y.shape:
        raise InvalidInputError(f"effects and variances must be 1-d of equal length; got {y.shape} and {v.shape}.")
    if y.size < 2:
        raise InvalidInputError(f"a meta-analysis needs at least 2 sites; got {y.size}.")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(v)) and np.all(v > 0)):
        raise InvalidInputError("effects must be finite and variances finite and > 0; drop undefined sites first.")
    if tau2_method not in ("dl", "pm"):
        raise InvalidParameterError(f"tau2_method must be 'dl' or 'pm'; got {tau2_method!r}.")
    if scale not in ("identity", "logit"):
        raise InvalidParameterError(f"scale must be 'identity' or 'logit'; got {scale!r}.")
    z = level_z(level)
    k = y.size
    w_fe = 1.0 / v
    mu_fe = float(np.sum(w_fe * y) / np.sum(w_fe))
    se_fe = float(math.sqrt(1.0 / np.sum(w_fe)))
    q = float(np.sum(w_fe * (y - mu_fe) ** 2))
    df = k - 1
    q_p = float(stats.chi2.sf(q, df))
    i2 = max(0.0, (q - df) / q) if q > 0 else 0.0
    tau2 = _tau2_dl(y, v) if tau2_method == "dl" else _tau2_pm(y, v)
    w = 1.0 / (v + tau2)
    mu = float(np.sum(w * y) / np.sum(w))
    se_re = float(math.sqrt(1.0 / np.sum(w)))
    if hartung_knapp:
        se = float(math.sqrt(np.sum(w * (y - mu) ** 2) / (df * np.sum(w))))
        crit = float(stats.t.ppf(0.5 + level / 2.0, df))
    else:
        se = se_re
        crit = z
    if k >= 3:
        t_pred = float(stats.t.ppf(0.5 + level / 2.0, k - 2))
        half = t_pred * math.sqrt(tau2 + se_re**2)
        pred = (mu - half, mu + half)
    else:
        pred = (math.nan, math.nan)
    return MetaAnalysis(k=k, estimate=mu, ci_low=mu - crit * se, ci_high=mu + crit * se, se=se,
                        fixed_estimate=mu_fe, fixed_se=se_fe, tau2=tau2, q=q, q_df=df, q_p_value=q_p, i2=i2,
                        pred_low=pred[0], pred_high=pred[1], level=level, tau2_method=tau2_method,
                        hartung_knapp=hartung_knapp, scale=scale)


def logit_auroc(estimate: Estimate) -> tuple[float, float]:
    """Logit of an AUROC and its delta-method variance ``se^2 / (A (1 - A))^2`` (needs a DeLong ``se``)."""
    a = estimate.estimate
    if not (math.isfinite(a) and 0.0 < a < 1.0 and math.isfinite(estimate.se) and estimate.se > 0):
        return math.nan, math.nan
    return math.log(a / (1.0 - a)), estimate.se**2 / (a * (1.0 - a)) ** 2


def logit_proportion(k: int, n: int, *, correction: float = 0.5) -> tuple[float, float]:
    """Logit of ``k / n`` and its variance ``1/k + 1/(n - k)``; adds ``correction`` to both cells if k is 0 or n."""
    if n <= 0:
        return math.nan, math.nan
    a, b = float(k), float(n - k)
    if k == 0 or k == n:
        a += correction
        b += correction
    return math.log(a / b), 1.0 / a + 1.0 / b


def site_heterogeneity(per_site: Mapping[Any, Estimate] | Sequence[Estimate], *, metric: str = "auroc",
                       tau2_method: str = "dl", hartung_knapp: bool = True,
                       level: float = 0.95) -> MetaAnalysis:
    """Random-effects meta-analysis of per-site AUROCs (DeLong) or proportions, on the logit scale.

    Parameters
    ----------
    per_site : mapping of site to Estimate, or sequence of Estimate
        For ``metric="auroc"`` each must carry DeLong's ``se``; for a proportion (e.g. ``"sensitivity"``) the
        estimate times ``n`` must be the success count.
    metric : str
        ``"auroc"`` uses :func:`logit_auroc`; anything else is treated as a proportion
        (:func:`logit_proportion`).
    tau2_method, hartung_knapp, level
        See :func:`meta_analysis`.

    Sites whose estimate is undefined (NaN, suppressed, AUROC of 0 or 1) are left out; at least two must remain.
    """
    items = list(per_site.values()) if isinstance(per_site, Mapping) else list(per_site)
    effects, variances = [], []
    for e in items:
        if metric == "auroc":
            y, var = logit_auroc(e)
        else:
            if not math.isfinite(e.estimate):
                continue
            y, var = logit_proportion(int(round(e.estimate * e.n)), e.n)
        if math.isfinite(y) and math.isfinite(var):
            effects.append(y)
            variances.append(var)
    return meta_analysis(effects, variances, tau2_method=tau2_method, hartung_knapp=hartung_knapp, level=level,
                         scale="logit")
