"""Checking and converting the arrays passed to metrics."""

from __future__ import annotations

from typing import Any

import numpy as np

from evaluators.exceptions import InvalidInputError, InvalidParameterError

__all__ = ["binary_labels", "scores", "weights", "groups", "level_z"]


def binary_labels(y_true: Any, *, pos_label: Any = None, name: str = "y_true") -> np.ndarray:
    """Return ``y_true`` as a 1-d bool array (True = positive class).

    Accepts bool, {0, 1} numbers, or any two labels when ``pos_label`` names the positive one.
    """
    arr = np.asarray(y_true)
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-d of shape (n_samples,); got shape {arr.shape}.")
    if pos_label is not None:
        return arr == pos_label
    if arr.dtype == bool:
        return arr
    if arr.size == 0:
        return arr.astype(bool)
    if arr.dtype.kind in "iuf":
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise InvalidInputError(f"{name} contains NaN or infinite values; drop or label those cases.")
        values = np.unique(arr)
        if np.all(np.isin(values, (0, 1))):
            return arr == 1
        shown = values[:5].tolist()
    else:
        shown = np.unique(arr.astype(str))[:5].tolist()
    raise InvalidInputError(
        f"{name} must be binary (bool or 0/1); found values {shown}. "
        "Pass pos_label=<the positive class> to use other labels."
    )


def scores(y_score: Any, *, n: int | None = None, name: str = "y_score") -> np.ndarray:
    """Return ``y_score`` as a finite 1-d float64 array of length ``n`` (if given)."""
    arr = np.asarray(y_score)
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-d of shape (n_samples,); got shape {arr.shape}.")
    if arr.dtype.kind not in "biuf":
        raise InvalidInputError(f"{name} must be numeric; got dtype {arr.dtype}.")
    arr = arr.astype(np.float64, copy=False)
    if n is not None and arr.shape[0] != n:
        raise InvalidInputError(
            f"{name} has {arr.shape[0]} values but y_true has {n}; pass one score per case."
        )
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(
            f"{name} contains {int(np.sum(~np.isfinite(arr)))} NaN or infinite values; "
            "every case needs a finite score."
        )
    return arr


def weights(sample_weight: Any, *, n: int) -> np.ndarray | None:
    """Return non-negative finite weights of length ``n``, or None."""
    if sample_weight is None:
        return None
    arr = np.asarray(sample_weight, dtype=np.float64)
    if arr.shape != (n,):
        raise InvalidInputError(f"sample_weight must have shape ({n},); got {arr.shape}.")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InvalidInputError("sample_weight must be finite and non-negative.")
    return arr


def groups(values: Any, *, n: int, name: str) -> np.ndarray:
    """Return integer codes (0..k-1) for a 1-d grouping array of length ``n``."""
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InvalidInputError(f"{name} must be 1-d with one value per case ({n}); got shape {arr.shape}.")
    _, codes = np.unique(arr, return_inverse=True)
    return codes.reshape(-1).astype(np.intp)


def level_z(level: float) -> float:
    """Two-sided standard-normal critical value for confidence ``level``."""
    from scipy.special import ndtri

    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.0 < level < 1.0:
        raise InvalidParameterError(f"level must be strictly between 0 and 1 (e.g. 0.95); got {level!r}.")
    return float(ndtri(0.5 + level / 2.0))
