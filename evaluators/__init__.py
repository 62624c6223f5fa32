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
from evaluators._breakdown import Breakdown
from evaluators._calibration import (
    brier_score,
    calibration_ci,
    calibration_intercept,
    calibration_slope,
    ece,
    reliability_curve,
)
from evaluators._detection import (
    FPPI_POINTS,
    FROC,
    froc,
    froc_curve,
    froc_score,
    match_marks,
    within_distance,
)
from evaluators._heterogeneity import (
    MetaAnalysis,
    logit_auroc,
    logit_proportion,
    meta_analysis,
    site_heterogeneity,
)
from evaluators._proportions import proportion_ci
from evaluators._ranking import (
    auroc,
    auroc_ci,
    average_precision,
    average_precision_ci,
    compare_auroc,
    pr_curve,
    roc_curve,
)
from evaluators._records import Comparison, Estimate
from evaluators._rules import (
    ESTIMATE_FIELDS,
    KNOWN_METRICS,
    Rule,
    Verdict,
    check_rule_names,
    evaluate_rules,
    parse_rule,
)
from evaluators._segmentation import assd, dice, hausdorff, hd95, iou, nsd, surface_distances
from evaluators._threshold import ThresholdMetrics, threshold_metrics
from evaluators.exceptions import (
    EvaluatorError,
    InvalidInputError,
    InvalidParameterError,
    RuleSyntaxError,
    UnknownMetricError,
)

__all__ = [
    "ESTIMATE_FIELDS",
    "FPPI_POINTS",
    "FROC",
    "KNOWN_METRICS",
    "Breakdown",
    "Comparison",
    "MetaAnalysis",
    "Rule",
    "Verdict",
    "assd",
    "brier_score",
    "dice",
    "froc",
    "froc_curve",
    "froc_score",
    "hausdorff",
    "hd95",
    "iou",
    "match_marks",
    "nsd",
    "surface_distances",
    "within_distance",
    "calibration_ci",
    "calibration_intercept",
    "calibration_slope",
    "check_rule_names",
    "ece",
    "evaluate_rules",
    "logit_auroc",
    "logit_proportion",
    "meta_analysis",
    "parse_rule",
    "reliability_curve",
    "site_heterogeneity",
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
    "average_precision_ci",
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
