"""The outcome of one sandboxed model run."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SandboxResult", "BatchResult", "STATUSES", "ISOLATIONS"]

STATUSES = ("ok", "failed")
ISOLATIONS = ("bwrap", "process", "none")


def _check_outcome(kind: str, status: str, reason: str, predictions: object) -> None:
    """The invariants every result shares: a known status, predictions exactly when ok, a reason when failed."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}.")
    if (status == "ok") != (predictions is not None):
        raise ValueError("predictions must be set exactly when status is 'ok'.")
    if status == "failed" and not reason:
        raise ValueError(f"a failed {kind} needs a reason.")


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxResult:
    """What happened when a model ran in the sandbox.

    Parameters
    ----------
    status : {'ok', 'failed'}
    reason : str
        One human sentence: empty when ``ok``; otherwise what went wrong and, where it helps,
        how to fix it. Never carries case data.
    predictions : Path or None
        Host path of the checked predictions (parquet, columns ``case_id`` and ``score``,
        rows in case-table order) when ``ok``.
    n_cases : int
        Number of cases handed to the model.
    elapsed : float
        Wall-clock seconds of the run, start-up included.
    isolation : {'bwrap', 'process', 'none'}
        The isolation actually used.
    stage : str or None
        Where a failure happened: ``'load'``, ``'predict'``, ``'validate'``, ``'write'``,
        ``'read'``, ``'harness'``, ``'limits'`` (killed by a limit), ``'sandbox'`` (bubblewrap
        itself failed) or ``'host'`` (the host rejected what came back).
    error : str
        Exception class name reported by the harness, if any.
    exit_code : int or None
        Exit status of the sandbox process; None when it was killed by a signal.
    signal : int or None
        Signal that ended the sandbox (or its harness), if any.
    stderr_tail : str
        Last lines of the model's stdout and stderr, truncated and scrubbed of case ids,
        input paths and numbers. For operators; show vendors only after review.
    stderr_bytes : int
        Total bytes the model wrote to stdout and stderr.
    warnings : tuple of str
        Loud notes about the run, e.g. a weaker isolation than bubblewrap.
    uid : int or None
        The throw-away kernel uid the model ran as (bubblewrap started by root), else None.
    """

    status: str
    reason: str
    predictions: Path | None
    n_cases: int
    elapsed: float
    isolation: str
    stage: str | None = None
    error: str = ""
    exit_code: int | None = None
    signal: int | None = None
    stderr_tail: str = ""
    stderr_bytes: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)
    uid: int | None = None

    def __post_init__(self) -> None:
        _check_outcome("SandboxResult", self.status, self.reason, self.predictions)
        if self.isolation not in ISOLATIONS:
            raise ValueError(f"isolation must be one of {ISOLATIONS}, got {self.isolation!r}.")
        if self.n_cases < 0 or not math.isfinite(self.elapsed) or self.elapsed < 0:
            raise ValueError("n_cases and elapsed must be non-negative.")

    @property
    def ok(self) -> bool:
        """True when the model produced valid predictions for every case."""
        return self.status == "ok"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class BatchResult:
    """What happened to one request of a :class:`~validation.sandbox.SandboxSession`.

    Parameters
    ----------
    status : {'ok', 'failed'}
    reason : str
        Empty when ``ok``; otherwise one sentence free of case data (as in
        :class:`SandboxResult`).
    predictions : pandas.DataFrame or None
        ``case_id`` (the request's own values, in request order) and ``score`` (float64, finite,
        in [0, 1]) when ``ok``.
    n_cases : int
        Number of cases in the request.
    elapsed : float
        Wall-clock seconds of the exchange with the sandbox.
    model_seconds : float
        Seconds spent in the model's ``predict`` as the harness measured them (a statistic for
        benchmarks only: it comes from inside the sandbox).
    stage, error, exit_code, signal, stderr_tail, stderr_bytes
        As in :class:`SandboxResult`; ``stderr_*`` cover this request only.
    """

    status: str
    reason: str
    predictions: object = None
    n_cases: int = 0
    elapsed: float = 0.0
    model_seconds: float = 0.0
    stage: str | None = None
    error: str = ""
    exit_code: int | None = None
    signal: int | None = None
    stderr_tail: str = ""
    stderr_bytes: int = 0

    def __post_init__(self) -> None:
        _check_outcome("BatchResult", self.status, self.reason, self.predictions)

    @property
    def ok(self) -> bool:
        """True when the model produced valid predictions for every case of the request."""
        return self.status == "ok"
