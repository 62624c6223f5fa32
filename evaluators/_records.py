"""Frozen result records: :class:`Estimate` and :class:`Comparison`."""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from typing import Any, Mapping

from evaluators.exceptions import InvalidParameterError

__all__ = ["Comparison", "Estimate"]


def _check_level(level: float) -> None:
    if not (isinstance(level, (int, float)) and 0.0 < float(level) < 1.0):
        raise InvalidParameterError(
            f"level must be a number strictly between 0 and 1 (e.g. 0.95); got {level!r}."
        )


def _count(name: str, value: int | None, *, optional: bool) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise InvalidParameterError(f"{name} must be a non-negative int; got {value!r}.")
    return int(value)


def _real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(f"{name} must be a real number (NaN if undefined); got {value!r}.")
    return float(value)


def _check_interval(low: float, high: float) -> None:
    if not (math.isnan(low) or math.isnan(high)) and low > high:
        raise InvalidParameterError(
            f"ci_low ({low!r}) is above ci_high ({high!r}); pass the bounds in increasing order."
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    """A point estimate with its confidence interval and the counts behind it.

    Undefined values (one class only, empty group, suppressed cell) are NaN and ``note`` says why.

    Parameters
    ----------
    estimate : float
        The point estimate.
    ci_low, ci_high : float
        Bounds of the two-sided confidence interval at ``level``; NaN if there is none.
    level : float
        Confidence level in (0, 1), e.g. 0.95.
    method : str
        Name of the interval method, e.g. ``"delong"``, ``"wilson"``, ``"bootstrap-bca"``.
    n : int
        Number of cases the estimate is computed from.
    n_pos, n_neg : int or None
        Number of reference-positive and reference-negative cases in the data the estimate came from (for PPV and
        NPV: the whole evaluated set, while ``n`` is the denominator of the proportion).
    se : float
        Standard error where the method provides one (DeLong), else NaN.
    note : str
        Why a value is undefined or anything a reader must know; empty if nothing.
    """

    estimate: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    level: float = 0.95
    method: str = ""
    n: int = 0
    n_pos: int | None = None
    n_neg: int | None = None
    se: float = math.nan
    note: str = ""

    def __post_init__(self) -> None:
        for name in ("estimate", "ci_low", "ci_high", "se"):
            object.__setattr__(self, name, _real(name, getattr(self, name)))
        _check_level(self.level)
        object.__setattr__(self, "level", float(self.level))
        object.__setattr__(self, "n", _count("n", self.n, optional=False))
        object.__setattr__(self, "n_pos", _count("n_pos", self.n_pos, optional=True))
        object.__setattr__(self, "n_neg", _count("n_neg", self.n_neg, optional=True))
        _check_interval(self.ci_low, self.ci_high)
        if not isinstance(self.method, str) or not isinstance(self.note, str):
            raise InvalidParameterError("method and note must be strings.")

    @property
    def defined(self) -> bool:
        """True if the point estimate is a finite number."""
        return math.isfinite(self.estimate)

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a plain dict of Python scalars (NaN kept as float NaN)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Estimate":
        """Build an :class:`Estimate` from :meth:`to_dict` output; unknown keys are an error."""
        return cls(**dict(data))

    @classmethod
    def undefined(cls, note: str, *, level: float = 0.95, method: str = "", n: int = 0,
                  n_pos: int | None = None, n_neg: int | None = None) -> "Estimate":
        """An estimate that cannot be computed, with the reason in ``note``."""
        return cls(estimate=math.nan, level=level, method=method, n=n, n_pos=n_pos, n_neg=n_neg, note=note)


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """A paired comparison of two estimates (``a - b``) with its interval and test.

    Parameters
    ----------
    difference : float
        ``estimate_a - estimate_b``.
    ci_low, ci_high : float
        Confidence interval of the difference at ``level``.
    z : float
        Test statistic of ``H0: difference == 0``.
    p_value : float
        Two-sided p-value of that test.
    method : str
        E.g. ``"delong-paired"``.
    level : float
        Confidence level in (0, 1).
    estimate_a, estimate_b : float
        The two estimates compared.
    n, n_pos, n_neg : int
        Counts of cases.
    note : str
        Why a value is undefined, if it is.
    """

    difference: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    method: str
    level: float = 0.95
    estimate_a: float = math.nan
    estimate_b: float = math.nan
    n: int = 0
    n_pos: int | None = None
    n_neg: int | None = None
    note: str = ""

    def __post_init__(self) -> None:
        for name in ("difference", "ci_low", "ci_high", "z", "p_value", "estimate_a", "estimate_b"):
            object.__setattr__(self, name, _real(name, getattr(self, name)))
        _check_level(self.level)
        object.__setattr__(self, "level", float(self.level))
        object.__setattr__(self, "n", _count("n", self.n, optional=False))
        object.__setattr__(self, "n_pos", _count("n_pos", self.n_pos, optional=True))
        object.__setattr__(self, "n_neg", _count("n_neg", self.n_neg, optional=True))
        if not isinstance(self.method, str) or not isinstance(self.note, str):
            raise InvalidParameterError("method and note must be strings.")
        _check_interval(self.ci_low, self.ci_high)
        if not math.isnan(self.p_value) and not 0.0 <= self.p_value <= 1.0:
            raise InvalidParameterError(f"p_value must be in [0, 1]; got {self.p_value!r}.")

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a plain dict."""
        return asdict(self)
