"""Detection: matching marks to targets and the FROC curve (sensitivity against false positives per image).

Matching rule: a target is detected by the highest-scoring mark that hits it (the hit rule is a parameter); a mark
that hits no target is a false positive; a mark that hits an already detected target is neither (as in the
CAMELYON16 and LUNA16 evaluations).

References
----------
Bunch PC et al. A free-response approach to the measurement and characterization of radiographic-observer
performance. J Appl Photogr Eng 1978;4:166-171.
Setio AAA et al. Validation, comparison, and combination of algorithms for automatic detection of pulmonary
nodules in computed tomography images: the LUNA16 challenge. Med Image Anal 2017;42:1-13.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from evaluators.exceptions import InvalidInputError, InvalidParameterError

__all__ = ["FROC", "FPPI_POINTS", "froc", "froc_curve", "froc_score", "match_marks", "within_distance"]

#: False positives per image at which sensitivity is read off: 1/8 to 8 (doubling).
FPPI_POINTS: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)

HitRule = Callable[[np.ndarray, np.ndarray], np.ndarray]


def within_distance(radius: float, *, spacing: Sequence[float] | None = None) -> HitRule:
    """Hit rule: a mark hits a target if their (spacing-scaled) Euclidean distance is ``<= radius``.

    Returns ``hit(marks (k, d), target (d,)) -> bool array (k,)``.
    """
    if not (isinstance(radius, (int, float)) and math.isfinite(radius) and radius >= 0):
        raise InvalidParameterError(f"radius must be a non-negative number; got {radius!r}.")
    scale = None if spacing is None else np.asarray(spacing, dtype=float)

    def hit(marks: np.ndarray, target: np.ndarray) -> np.ndarray:
        diff = marks - target[None, :]
        if scale is not None:
            diff = diff * scale[None, :]
        return np.sqrt(np.sum(diff * diff, axis=1)) <= radius

    return hit


def match_marks(marks: Any, scores: Any, targets: Any, *, hit: HitRule) -> tuple[np.ndarray, np.ndarray]:
    """Match one image's marks to its targets.

    Parameters
    ----------
    marks : array-like of shape (k, d)
        Mark coordinates.
    scores : array-like of shape (k,)
        Mark confidences.
    targets : array-like of shape (t, d)
        Target coordinates (or anything ``hit`` understands per row).
    hit : callable
        ``hit(marks, target) -> bool array (k,)``, e.g. :func:`within_distance`.

    Returns
    -------
    tp_scores : ndarray of shape (t,)
        Score of each target's best hitting mark, NaN if missed.
    fp_scores : ndarray
        Scores of the marks that hit no target.
    """
    s = np.asarray(scores, dtype=float).reshape(-1)
    m = np.asarray(marks, dtype=float).reshape(s.size, -1) if s.size else np.zeros((0, 0))
    t = np.asarray(targets, dtype=float)
    t = t.reshape(t.shape[0], -1) if t.size else np.zeros((0, 0))
    if not np.all(np.isfinite(s)):
        raise InvalidInputError("mark scores must be finite.")
    tp = np.full(t.shape[0], np.nan)
    hits_any = np.zeros(s.size, dtype=bool)
    for j in range(t.shape[0]):
        h = np.asarray(hit(m, t[j]), dtype=bool) if s.size else np.zeros(0, dtype=bool)
        hits_any |= h
        if h.any():
            tp[j] = s[h].max()
    return tp, s[~hits_any]


def froc_curve(fp_scores: Any, tp_scores: Any, *, n_targets: int, n_images: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FROC curve from pooled mark scores.

    Parameters
    ----------
    fp_scores : array-like
        Scores of all false-positive marks over all images.
    tp_scores : array-like
        Score of each detected target (NaN entries, for missed targets, are ignored).
    n_targets : int
        Total number of targets, detected or not.
    n_images : int
        Number of images.

    Returns
    -------
    fppi, sensitivity : ndarray
        Starting at (0, 0) (threshold +inf), one point per distinct score in decreasing order; a mark is kept when
        ``score >= threshold``.
    thresholds : ndarray
    """
    if n_targets <= 0 or n_images <= 0:
        raise InvalidParameterError(f"n_targets and n_images must be positive; got {n_targets}, {n_images}.")
    fp = np.asarray(fp_scores, dtype=float).reshape(-1)
    tp = np.asarray(tp_scores, dtype=float).reshape(-1)
    tp = tp[np.isfinite(tp)]
    if tp.size > n_targets:
        raise InvalidInputError(f"{tp.size} detected targets but n_targets={n_targets}.")
    thresholds = np.unique(np.concatenate([fp, tp]))[::-1]
    fp_sorted = np.sort(fp)
    tp_sorted = np.sort(tp)
    n_fp = fp.size - np.searchsorted(fp_sorted, thresholds, side="left")
    n_tp = tp.size - np.searchsorted(tp_sorted, thresholds, side="left")
    fppi = np.concatenate([[0.0], n_fp / n_images])
    sens = np.concatenate([[0.0], n_tp / n_targets])
    return fppi, sens, np.concatenate([[np.inf], thresholds])


def froc_score(fp_scores: Any, tp_scores: Any, *, n_targets: int, n_images: int,
               fppi_points: Iterable[float] = FPPI_POINTS) -> float:
    """Mean sensitivity at ``fppi_points`` false positives per image, interpolating the FROC curve linearly.

    Beyond the largest false-positive rate reached, the final sensitivity is carried forward.
    """
    fppi, sens, _ = froc_curve(fp_scores, tp_scores, n_targets=n_targets, n_images=n_images)
    pts = np.asarray(list(fppi_points), dtype=float)
    return float(np.mean(np.interp(pts, fppi, sens)))


@dataclass(frozen=True, slots=True, kw_only=True)
class FROC:
    """FROC analysis over a set of images.

    Attributes
    ----------
    fppi, sensitivity, thresholds : ndarray
        The curve (see :func:`froc_curve`).
    points : dict
        Sensitivity at each requested false-positives-per-image value.
    score : float
        Mean of ``points``.
    n_targets, n_images, n_marks : int
    """

    fppi: np.ndarray
    sensitivity: np.ndarray
    thresholds: np.ndarray
    points: dict
    score: float
    n_targets: int
    n_images: int
    n_marks: int


def froc(images: Iterable[tuple[Any, Any, Any]], *, hit: HitRule,
         fppi_points: Iterable[float] = FPPI_POINTS) -> FROC:
    """Match marks to targets image by image, then compute the FROC curve and score.

    Parameters
    ----------
    images : iterable of (marks, scores, targets)
        Per image: mark coordinates (k, d), mark scores (k,), target coordinates (t, d).
    hit : callable
        Hit rule, e.g. ``within_distance(5.0, spacing=(0.7, 0.7, 1.25))``.
    fppi_points : iterable of float
        Where to read sensitivity; default 0.125 to 8.
    """
    tps, fps = [], []
    n_images = n_marks = 0
    for marks, scores, targets in images:
        tp, fp = match_marks(marks, scores, targets, hit=hit)
        tps.append(tp)
        fps.append(fp)
        n_images += 1
        n_marks += int(np.asarray(scores).size)
    tp_all = np.concatenate(tps) if tps else np.zeros(0)
    fp_all = np.concatenate(fps) if fps else np.zeros(0)
    n_targets = int(tp_all.size)
    fppi, sens, thr = froc_curve(fp_all, tp_all, n_targets=n_targets, n_images=n_images)
    pts = [float(p) for p in fppi_points]
    values = np.interp(pts, fppi, sens)
    return FROC(fppi=fppi, sensitivity=sens, thresholds=thr, points=dict(zip(pts, values.tolist())),
                score=float(np.mean(values)), n_targets=n_targets, n_images=n_images, n_marks=n_marks)
