"""Exceptions raised by :mod:`evaluators`.

Every message says what was wrong, the value received (never case-level data) and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "EvaluatorError",
    "InvalidInputError",
    "InvalidParameterError",
    "RuleSyntaxError",
    "UnknownMetricError",
]


class EvaluatorError(ValueError):
    """Base class of every error raised by :mod:`evaluators`."""


class InvalidInputError(EvaluatorError):
    """Data passed to a metric are unusable (wrong shape, non-finite, not binary, ...)."""


class InvalidParameterError(EvaluatorError):
    """An option passed to a metric is out of range or of the wrong kind."""


class RuleSyntaxError(EvaluatorError):
    """An acceptance rule cannot be parsed or is ill-typed.

    Attributes
    ----------
    position : int
        Zero-based character offset in the rule text where the problem was found.
    """

    def __init__(self, message: str, *, position: int = 0) -> None:
        super().__init__(message)
        self.position = position


class UnknownMetricError(EvaluatorError):
    """An acceptance rule names a metric or field that is not known."""
