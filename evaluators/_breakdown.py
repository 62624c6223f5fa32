"""Breakdown of metrics by subgroup and site, in the manner of fairlearn's MetricFrame but stricter.

Every table is a pandas DataFrame with the counts behind each number (``n``, ``n_pos``, ``n_neg``); a cell with
fewer than ``min_n`` cases is suppressed (NaN with a note); control features (site) are split out and never
aggregated over; nothing is computed until asked for.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from evaluators import _inputs
from evaluators._records import Estimate
from evaluators.exceptions import InvalidInputError, InvalidParameterError

__all__ = ["Breakdown"]

MetricFn = Callable[[np.ndarray, np.ndarray], "float | Estimate"]

_ESTIMATE_COLUMNS = ["estimate", "ci_low", "ci_high", "level", "method", "n", "n_pos", "n_neg", "note"]
_THRESHOLD_NAMES = ("sensitivity", "specificity", "ppv", "npv", "accuracy", "f1")


def _named_metric(name: str, *, level: float, threshold: float | None) -> MetricFn:
    from evaluators._calibration import brier_score, calibration_intercept, calibration_slope, ece
    from evaluators._ranking import auroc_ci, average_precision
    from evaluators._threshold import threshold_metrics

    if name == "auroc":
        return lambda y, s: auroc_ci(y, s, level=level)
    if name == "average_precision":
        return average_precision
    if name == "brier":
        return brier_score
    if name == "ece":
        return ece
    if name == "calibration_intercept":
        return calibration_intercept
    if name == "calibration_slope":
        return calibration_slope
    if name in _THRESHOLD_NAMES:
        if threshold is None:
            raise InvalidParameterError(
                f"metric {name!r} is computed at the operating threshold; pass threshold=<declared threshold>."
            )
        return lambda y, s: getattr(threshold_metrics(y, s, threshold=threshold, level=level), name)
    known = ["auroc", "average_precision", "brier", "ece", "calibration_intercept", "calibration_slope",
             *_THRESHOLD_NAMES]
    raise InvalidParameterError(f"unknown metric name {name!r}; known names: {known}, or pass a callable.")


def _features(values: Any, *, n: int, default_name: str) -> "Any":
    import pandas as pd

    if values is None:
        return pd.DataFrame(index=range(n))
    if isinstance(values, pd.DataFrame):
        frame = values.reset_index(drop=True)
    elif isinstance(values, pd.Series):
        frame = values.reset_index(drop=True).to_frame(values.name if values.name is not None else default_name)
    elif isinstance(values, Mapping):
        frame = pd.DataFrame({str(k): np.asarray(v) for k, v in values.items()})
    else:
        arr = np.asarray(values)
        if arr.ndim == 1:
            frame = pd.DataFrame({default_name: arr})
        elif arr.ndim == 2:
            frame = pd.DataFrame({f"{default_name}{i}": arr[:, i] for i in range(arr.shape[1])})
        else:
            raise InvalidInputError(f"{default_name} must be 1-d or 2-d; got {arr.ndim} dimensions.")
    if frame.shape[0] != n:
        raise InvalidInputError(f"{default_name} has {frame.shape[0]} rows but there are {n} cases.")
    if frame.isna().any().any():
        cols = [c for c in frame.columns if frame[c].isna().any()]
        raise InvalidInputError(f"{default_name} has missing values in {cols}; label them (e.g. 'unknown').")
    frame.columns = [str(c) for c in frame.columns]
    return frame


class Breakdown:
    """Metrics overall, by group of sensitive features, within each control group (site).

    Parameters
    ----------
    metrics : str, sequence of str, or mapping of name to callable
        Metric names (``"auroc"``, ``"average_precision"``, ``"brier"``, ``"ece"``, ``"calibration_intercept"``,
        ``"calibration_slope"``, and with ``threshold``: ``"sensitivity"``, ``"specificity"``, ``"ppv"``,
        ``"npv"``, ``"accuracy"``, ``"f1"``), or ``{name: fn(y_true, y_score) -> float | Estimate}``.
    y_true : array-like of shape (n_samples,)
        Reference labels (bool or 0/1, or use ``pos_label``).
    y_score : array-like of shape (n_samples,)
        Scores.
    sensitive_features : array-like, Series, DataFrame or mapping
        Subgroup columns (e.g. sex, age band). Groups are the observed combinations.
    control_features : array-like, Series, DataFrame or mapping, optional
        Columns to split by and never aggregate over (e.g. site). Every table gets one block per control group.
    min_n : int
        Cells with fewer cases are suppressed: estimate and interval NaN, ``note`` says so. Default 10.
    level : float
        Confidence level for named metrics with intervals.
    threshold : float, optional
        Operating threshold for the threshold metrics.
    pos_label : optional
        Positive label when ``y_true`` is not bool or 0/1.

    Examples
    --------
    >>> b = Breakdown(metrics="auroc", y_true=[0, 1] * 10, y_score=[0.2, 0.7] * 10,
    ...               sensitive_features=["F", "M"] * 10, min_n=5)
    >>> b.by_group[["sensitive_feature", "metric", "estimate", "n"]].values.tolist()
    [['F', 'auroc', nan, 10], ['M', 'auroc', nan, 10]]
    """

    def __init__(self, *, metrics: str | Sequence[str] | Mapping[str, MetricFn], y_true: Any, y_score: Any,
                 sensitive_features: Any, control_features: Any = None, min_n: int = 10, level: float = 0.95,
                 threshold: float | None = None, pos_label: Any = None) -> None:
        self._y = _inputs.binary_labels(y_true, pos_label=pos_label)
        n = self._y.shape[0]
        self._s = _inputs.scores(y_score, n=n)
        _inputs.level_z(level)
        if isinstance(min_n, bool) or not isinstance(min_n, int) or min_n < 1:
            raise InvalidParameterError(f"min_n must be a positive int (default 10); got {min_n!r}.")
        if isinstance(metrics, str):
            metrics = [metrics]
        if isinstance(metrics, Mapping):
            resolved = {}
            for name, fn in metrics.items():
                resolved[str(name)] = _named_metric(fn, level=level, threshold=threshold) if isinstance(fn, str) \
                    else fn
        else:
            resolved = {str(m): _named_metric(str(m), level=level, threshold=threshold) for m in metrics}
        if not resolved:
            raise InvalidParameterError("metrics is empty; name at least one metric.")
        for name, fn in resolved.items():
            if not callable(fn):
                raise InvalidParameterError(f"metric {name!r} is not callable; pass fn(y_true, y_score).")
        self._metrics = resolved
        self._sensitive = _features(sensitive_features, n=n, default_name="sensitive_feature")
        if self._sensitive.shape[1] == 0:
            raise InvalidParameterError("sensitive_features has no columns; pass at least one.")
        self._control = _features(control_features, n=n, default_name="control_feature")
        clash = set(self._sensitive.columns) & set(self._control.columns)
        reserved = set(self._sensitive.columns) | set(self._control.columns)
        if clash or reserved & {"metric", *_ESTIMATE_COLUMNS}:
            raise InvalidParameterError(f"feature names must be distinct and not one of {_ESTIMATE_COLUMNS}; "
                                        f"got sensitive {list(self._sensitive.columns)}, "
                                        f"control {list(self._control.columns)}.")
        self.min_n = min_n
        self.level = level
        self._cache: dict[tuple[str, ...], Any] = {}

    @property
    def metric_names(self) -> list[str]:
        """Names of the metrics, in order."""
        return list(self._metrics)

    @property
    def sensitive_names(self) -> list[str]:
        return list(self._sensitive.columns)

    @property
    def control_names(self) -> list[str]:
        return list(self._control.columns)

    def _cell(self, name: str, fn: MetricFn, idx: np.ndarray) -> dict[str, Any]:
        y = self._y[idx]
        n = int(idx.shape[0])
        n_pos = int(y.sum())
        n_neg = n - n_pos
        row = {"metric": name, "estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan,
               "level": self.level, "method": "", "n": n, "n_pos": n_pos, "n_neg": n_neg, "note": ""}
        if n < self.min_n:
            row["note"] = f"suppressed: n={n} < min_n={self.min_n}"
            return row
        value = fn(y, self._s[idx])
        if isinstance(value, Estimate):
            row.update(estimate=value.estimate, ci_low=value.ci_low, ci_high=value.ci_high, level=value.level,
                       method=value.method, note=value.note)
        else:
            row.update(estimate=float(value), method="point")
            if math.isnan(row["estimate"]):
                row["note"] = "undefined for this group"
        return row

    def _table(self, by: list[str]):
        """Metrics per group of ``by`` columns; computed once, then served as a copy."""
        key = tuple(by)
        if key not in self._cache:
            self._cache[key] = self._compute(by)
        return self._cache[key].copy()

    def _compute(self, by: list[str]):
        import pandas as pd

        keys = pd.concat([self._control, self._sensitive], axis=1)[by] if by else None
        rows = []
        if keys is None or not by:
            groups = [((), np.arange(self._y.shape[0]))]
        else:
            grouped = keys.groupby(by, sort=True, observed=True).indices
            groups = [((k,) if len(by) == 1 else k, np.asarray(v)) for k, v in grouped.items()]
        for key, idx in groups:
            label = dict(zip(by, key))
            for name, fn in self._metrics.items():
                rows.append({**label, **self._cell(name, fn, idx)})
        frame = pd.DataFrame(rows, columns=[*by, "metric", *_ESTIMATE_COLUMNS])
        return frame

    @property
    def overall(self):
        """DataFrame: each metric on all cases (one block per control group if any)."""
        return self._table(self.control_names)

    @property
    def by_group(self):
        """DataFrame: each metric in each observed group (within each control group if any)."""
        return self._table(self.control_names + self.sensitive_names)

    def _extreme(self, which: str):
        import pandas as pd

        table = self.by_group
        keys = [*self.control_names, "metric"]
        out = []
        for key, block in table.groupby(keys, sort=False):
            defined = block[np.isfinite(block["estimate"])]
            key = key if isinstance(key, tuple) else (key,)
            base = dict(zip(keys, key))
            if defined.empty:
                out.append({**base, **{c: None for c in self.sensitive_names}, "estimate": math.nan, "n": 0,
                            "note": "no group with a defined, unsuppressed value"})
                continue
            pick = defined.loc[defined["estimate"].idxmin() if which == "min" else defined["estimate"].idxmax()]
            out.append({**base, **{c: pick[c] for c in self.sensitive_names}, "estimate": pick["estimate"],
                        "n": int(pick["n"]), "note": ""})
        return pd.DataFrame(out, columns=[*keys, *self.sensitive_names, "estimate", "n", "note"])

    def group_min(self):
        """DataFrame: per metric (and control group), the group with the lowest defined estimate, with its n."""
        return self._extreme("min")

    def group_max(self):
        """DataFrame: per metric (and control group), the group with the highest defined estimate, with its n."""
        return self._extreme("max")

    def _compare(self, method: str, kind: str):
        import pandas as pd

        if method not in ("between_groups", "to_overall"):
            raise InvalidParameterError(f"method must be 'between_groups' or 'to_overall'; got {method!r}.")
        table = self.by_group
        overall = self.overall
        keys = [*self.control_names, "metric"]
        out = []
        for key, block in table.groupby(keys, sort=False):
            key = key if isinstance(key, tuple) else (key,)
            base = dict(zip(keys, key))
            mask = np.ones(overall.shape[0], dtype=bool)
            for k, v in base.items():
                mask &= (overall[k] == v).to_numpy()
            ref = overall[mask].iloc[0]
            vals = block["estimate"].to_numpy(dtype=float)
            ok = np.isfinite(vals)
            n_total = int(block["n"].sum())
            note = ""
            if method == "between_groups":
                if ok.sum() < 2:
                    value, note = math.nan, "fewer than two groups with a defined, unsuppressed value"
                elif kind == "difference":
                    value = float(vals[ok].max() - vals[ok].min())
                else:
                    hi = vals[ok].max()
                    value = float(vals[ok].min() / hi) if hi != 0 else math.nan
            else:
                o = float(ref["estimate"])
                if ok.sum() < 1 or not math.isfinite(o):
                    value, note = math.nan, "no defined group value or overall value"
                elif kind == "difference":
                    value = float(np.max(np.abs(vals[ok] - o)))
                else:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        r = np.minimum(vals[ok] / o, o / vals[ok])
                    value = float(np.min(r)) if np.all(np.isfinite(r)) else math.nan
            out.append({**base, kind: value, "n_groups": int(ok.sum()), "n": n_total, "note": note})
        return pd.DataFrame(out, columns=[*keys, kind, "n_groups", "n", "note"])

    def difference(self, method: str = "between_groups"):
        """DataFrame: largest gap per metric, ``max - min`` over groups, or ``max |group - overall|``.

        Suppressed and undefined groups are left out; ``n_groups`` counts the groups compared.
        """
        return self._compare(method, "difference")

    def ratio(self, method: str = "between_groups"):
        """DataFrame: ``min / max`` over groups, or the smallest of ``group/overall`` and ``overall/group``."""
        return self._compare(method, "ratio")
