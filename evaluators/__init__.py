"""Statistics for clinical validation: point estimates with intervals, per site and per subgroup.

Pure functions and small frozen records over numpy arrays; numpy, scipy and pandas only, no I/O, nothing else of
clinval imported. Every interval names its method; undefined values are NaN with a note saying why.
"""

from evaluators._bootstrap import (
    bca_interval,
    bootstrap_ci,
    bootstrap_counts,
    bootstrap_replicates,
    jackknife_values,
    percentile_interval,
)
from evaluators._proportions import proportion_ci
from evaluators._ranking import auroc, auroc_ci, average_precision, compare_auroc, pr_curve, roc_curve
from evaluators._records import Comparison, Estimate
from evaluators._threshold import ThresholdMetrics, threshold_metrics
from evaluators.exceptions import (
    EvaluatorError,
    InvalidInputError,
    InvalidParameterError,
    RuleSyntaxError,
    UnknownMetricError,
)

__all__ = [
    "Comparison",
    "Estimate",
    "EvaluatorError",
    "InvalidInputError",
    "InvalidParameterError",
    "RuleSyntaxError",
    "ThresholdMetrics",
    "UnknownMetricError",
    "auroc",
    "auroc_ci",
    "average_precision",
    "bca_interval",
    "bootstrap_ci",
    "bootstrap_counts",
    "bootstrap_replicates",
    "compare_auroc",
    "jackknife_values",
    "percentile_interval",
    "pr_curve",
    "proportion_ci",
    "roc_curve",
    "threshold_metrics",
]
