"""Segmentation overlap and boundary metrics on binary masks, honouring voxel spacing.

Surfaces are the mask voxels with at least one face-neighbour outside the mask (a voxel on the array border counts
as on the surface). Distances go from each surface voxel of one mask to the nearest surface voxel of the other,
by an exact Euclidean distance transform with the given spacing, as MONAI's ``compute_hausdorff_distance`` does.

Empty masks (stated convention):

- both empty: perfect agreement: Dice = IoU = NSD = 1, HD = HD95 = ASSD = 0;
- exactly one empty: Dice = IoU = NSD = 0 and HD = HD95 = ASSD = inf (nothing to match: the worst value,
  so that a missed structure is never dropped from an average the way a NaN would be).

References
----------
Dice LR. Measures of the amount of ecologic association between species. Ecology 1945;26:297-302.
Nikolov S et al. Clinically applicable segmentation of head and neck anatomy for radiotherapy (surface Dice /
NSD). J Med Internet Res 2021;23:e26151.
Maier-Hein L et al. Metrics reloaded: recommendations for image analysis validation. Nat Methods 2024;21:195-212.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from evaluators.exceptions import InvalidInputError, InvalidParameterError

__all__ = ["assd", "dice", "hausdorff", "hd95", "iou", "nsd", "surface_distances"]


def _masks(pred: Any, ref: Any) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(pred)
    b = np.asarray(ref)
    if a.shape != b.shape:
        raise InvalidInputError(f"pred and ref masks must have the same shape; got {a.shape} and {b.shape}.")
    if a.ndim < 1:
        raise InvalidInputError("masks must be arrays with at least one dimension.")
    for name, m in (("pred", a), ("ref", b)):
        if m.dtype != bool and not np.all(np.isin(np.unique(m), (0, 1))):
            raise InvalidInputError(f"{name} must be a binary mask (bool or 0/1); threshold it first.")
    return a.astype(bool), b.astype(bool)


def _spacing(spacing: Sequence[float] | float | None, ndim: int) -> tuple[float, ...]:
    if spacing is None:
        return (1.0,) * ndim
    sp = np.broadcast_to(np.asarray(spacing, dtype=float), (ndim,)) if np.ndim(spacing) == 0 else \
        np.asarray(spacing, dtype=float)
    if sp.shape != (ndim,) or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise InvalidParameterError(f"spacing must be {ndim} positive numbers (one per axis); got {spacing!r}.")
    return tuple(float(s) for s in sp)


def dice(pred: Any, ref: Any) -> float:
    """Dice similarity coefficient ``2|A & B| / (|A| + |B|)``; 1 if both masks are empty.

    Examples
    --------
    >>> dice([1, 1, 0, 0], [0, 1, 1, 0])
    0.5
    """
    a, b = _masks(pred, ref)
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def iou(pred: Any, ref: Any) -> float:
    """Intersection over union (Jaccard) ``|A & B| / |A | B|``; 1 if both masks are empty."""
    a, b = _masks(pred, ref)
    union = int(np.logical_or(a, b).sum())
    return 1.0 if union == 0 else int(np.logical_and(a, b).sum()) / union


def _surface(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    eroded = ndimage.binary_erosion(mask, structure=structure, border_value=0)
    return mask & ~eroded


def surface_distances(pred: Any, ref: Any, *, spacing: Sequence[float] | float | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Distances from each surface voxel of ``pred`` to the surface of ``ref``, and the other way round.

    Returns
    -------
    pred_to_ref, ref_to_pred : ndarray
        In the units of ``spacing`` (voxels if None). Both masks must be non-empty.
    """
    from scipy import ndimage

    a, b = _masks(pred, ref)
    sp = _spacing(spacing, a.ndim)
    if not a.any() or not b.any():
        raise InvalidInputError("surface distances need two non-empty masks; see the empty-mask convention.")
    sa, sb = _surface(a), _surface(b)
    to_b = ndimage.distance_transform_edt(~sb, sampling=sp)
    to_a = ndimage.distance_transform_edt(~sa, sampling=sp)
    return to_b[sa], to_a[sb]


def _empty_case(a: np.ndarray, b: np.ndarray, *, both: float, one: float) -> float | None:
    if not a.any() and not b.any():
        return both
    if not a.any() or not b.any():
        return one
    return None


def hausdorff(pred: Any, ref: Any, *, spacing: Sequence[float] | float | None = None, percentile: float = 100.0,
              directed: bool = False) -> float:
    """Hausdorff distance between mask surfaces (or its ``percentile``-th percentile version).

    Parameters
    ----------
    pred, ref : array-like of bool, same shape
        Binary masks.
    spacing : float or sequence of float, optional
        Voxel size per axis (e.g. mm); distances are in these units.
    percentile : float
        100 for the classical Hausdorff distance, 95 for HD95 (linear interpolation between surface distances).
    directed : bool
        If True, only distances from ``pred`` to ``ref``; otherwise the maximum of both directions.
    """
    a, b = _masks(pred, ref)
    if not 0.0 <= percentile <= 100.0:
        raise InvalidParameterError(f"percentile must be in [0, 100]; got {percentile!r}.")
    empty = _empty_case(a, b, both=0.0, one=math.inf)
    if empty is not None:
        return empty
    d_ab, d_ba = surface_distances(a, b, spacing=spacing)
    forward = float(np.percentile(d_ab, percentile))
    if directed:
        return forward
    return max(forward, float(np.percentile(d_ba, percentile)))


def hd95(pred: Any, ref: Any, *, spacing: Sequence[float] | float | None = None) -> float:
    """95th-percentile Hausdorff distance (undirected): ``hausdorff(..., percentile=95)``."""
    return hausdorff(pred, ref, spacing=spacing, percentile=95.0)


def assd(pred: Any, ref: Any, *, spacing: Sequence[float] | float | None = None) -> float:
    """Average symmetric surface distance: mean of all surface distances in both directions pooled."""
    a, b = _masks(pred, ref)
    empty = _empty_case(a, b, both=0.0, one=math.inf)
    if empty is not None:
        return empty
    d_ab, d_ba = surface_distances(a, b, spacing=spacing)
    return float((d_ab.sum() + d_ba.sum()) / (d_ab.size + d_ba.size))


def nsd(pred: Any, ref: Any, *, tolerance: float, spacing: Sequence[float] | float | None = None) -> float:
    """Normalised surface distance (surface Dice) at ``tolerance``.

    Fraction of surface voxels of both masks lying within ``tolerance`` (same units as ``spacing``) of the other
    mask's surface. Surfaces are voxel sets, not meshes, so values differ slightly from mesh-based
    implementations.
    """
    a, b = _masks(pred, ref)
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise InvalidParameterError(f"tolerance must be a non-negative number; got {tolerance!r}.")
    empty = _empty_case(a, b, both=1.0, one=0.0)
    if empty is not None:
        return empty
    d_ab, d_ba = surface_distances(a, b, spacing=spacing)
    return float((np.sum(d_ab <= tolerance) + np.sum(d_ba <= tolerance)) / (d_ab.size + d_ba.size))
