"""``run_model``: run a vendor's MLflow pyfunc model on a case table, sealed off from the host."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from validation.sandbox.cases import check_inputs_exist, check_inputs_readable, checked_cases, existing_dir
from validation.sandbox.exceptions import CaseTableError
from validation.sandbox.limits import SandboxLimits
from validation.sandbox.outcome import death_reason, decode_status
from validation.sandbox.result import SandboxResult
from validation.sandbox.session import ISOLATION_MODES, SandboxSession

__all__ = ["run_model", "ISOLATION_MODES"]

# After the last reply the harness only has to leave; waiting longer means it lingers.
_EXIT_GRACE = 5.0
_TAIL_CHARS = 4000


def run_model(
    model_dir: str | os.PathLike[str],
    cases,
    *,
    input_root: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    limits: SandboxLimits | None = None,
    batch_size: int = 1024,
    path_columns: Sequence[str] = (),
    isolation: str = "auto",
) -> SandboxResult:
    """Run an MLflow pyfunc model on ``cases`` inside the sandbox and check its predictions.

    The model is loaded only inside the sandbox. It sees the model directory at ``/model``,
    ``input_root`` at ``/input`` (both read-only) and the case table; nothing else of the host.
    What comes back is one parquet file of predictions, checked again on the host. This is a
    :class:`SandboxSession` that serves one request; ``wall_seconds`` covers the whole run, start-up
    included. ``cpu_seconds`` bounds the harness process over the whole run (the kernel's
    ``RLIMIT_CPU``), and the sandbox's whole process tree per exchange: once while the model loads
    and once while it predicts (the host's CPU watch, one second of grace each).

    Parameters
    ----------
    model_dir : path-like
        An MLflow pyfunc model directory (with an ``MLmodel`` file).
    cases : pandas.DataFrame of shape (n_cases, 1 + n_inputs)
        ``case_id`` (unique, non-null) and the model's input columns. Values of
        ``path_columns`` are paths relative to ``input_root``; the model receives them as
        absolute paths under ``/input``. Pass only what the model may see: never labels.
    input_root : path-like
        Directory holding the input files.
    out_dir : path-like
        Host directory where ``predictions.parquet`` is written (created if missing).
    limits : SandboxLimits, optional
        Resource limits; ``SandboxLimits()`` if omitted.
    batch_size : int, default 1024
        Rows per ``predict`` call.
    path_columns : sequence of str, default ()
        Columns of ``cases`` that hold relative input paths.
    isolation : {'auto', 'bwrap', 'process', 'none'}, default 'auto'
        ``'bwrap'``: bubblewrap (file system, network, pid, ipc namespaces, unprivileged uid,
        no capabilities, a seccomp filter on x86-64, rlimits); raises if bubblewrap is missing. ``'process'``: a separate process with
        rlimits and, as root, a new network namespace; the host file system stays visible.
        ``'none'``: a separate process with rlimits only, for trusted code. ``'auto'``:
        ``'bwrap'`` if installed, else ``'process'`` with a warning in the result and the log.

    Returns
    -------
    SandboxResult
        ``status='failed'`` with a reason for any misbehaviour of the model; the host process
        is never affected.

    Raises
    ------
    CaseTableError
        If ``cases``, ``path_columns``, ``batch_size`` or a directory is unusable, an input
        file named in ``path_columns`` is missing, or (as root under bubblewrap, where the
        model runs as a throw-away uid) the model or inputs are not readable by other users.
    IsolationUnavailableError
        If ``isolation='bwrap'`` and bubblewrap is not installed.
    ValueError
        If ``isolation`` is not one of the modes.
    """
    limits = SandboxLimits() if limits is None else limits
    if isolation not in ISOLATION_MODES:
        raise ValueError(f"isolation must be one of {ISOLATION_MODES}, got {isolation!r}.")
    model_dir = existing_dir(model_dir, "model_dir")
    if not (model_dir / "MLmodel").is_file():
        raise CaseTableError(
            f"model_dir {model_dir} has no MLmodel file; pass an MLflow pyfunc model directory."
        )
    input_root = existing_dir(input_root, "input_root")
    frame = checked_cases(cases, path_columns)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise CaseTableError(f"batch_size must be a positive int, got {batch_size!r}.")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    # A stale file from an earlier run must never pass for this run's predictions.
    (out_dir / "predictions.parquet").unlink(missing_ok=True)
    check_inputs_exist(input_root, frame, path_columns)

    start = time.monotonic()
    session = SandboxSession(model_dir, input_roots={"": input_root}, limits=limits, isolation=isolation)
    if session.isolation == "bwrap" and os.geteuid() == 0:
        check_inputs_readable(input_root, frame, path_columns)
    deadline = start + limits.wall_seconds
    timeout_reason = f"the run exceeded the wall-clock limit of {limits.wall_seconds:g} s and was killed"
    try:
        loaded = result = session.start(deadline=deadline, timeout_reason=timeout_reason)
        if loaded.ok:
            result = session.predict(frame, path_columns=path_columns, batch_size=batch_size, deadline=deadline,
                                     timeout_reason=timeout_reason)
            # What the model printed while loading belongs to the run's captured output too.
            result = _replace(result, stderr_tail=(loaded.stderr_tail + result.stderr_tail)[-_TAIL_CHARS:],
                              stderr_bytes=loaded.stderr_bytes + result.stderr_bytes)
        exit_code = result.exit_code
        sig = result.signal
        if result.ok:
            code = session.finish(timeout=max(0.0, min(_EXIT_GRACE, deadline - time.monotonic())))
            exit_code, sig = decode_status(code)
            if code is None:
                result = _replace(result, status="failed", predictions=None, stage="limits", reason=timeout_reason)
            elif code != 0:
                result = _replace(result, status="failed", predictions=None, stage="limits",
                                  reason=death_reason(exit_code, sig, limits))
    finally:
        session.close()
    predictions_path = None
    if result.ok:
        predictions_path = out_dir / "predictions.parquet"
        partial = out_dir / ".predictions.parquet.partial"
        result.predictions.to_parquet(partial, index=False)
        os.replace(partial, predictions_path)
    return SandboxResult(
        status=result.status,
        reason=result.reason,
        predictions=predictions_path,
        n_cases=len(frame),
        elapsed=time.monotonic() - start,
        isolation=session.isolation,
        stage=result.stage,
        error=result.error,
        exit_code=exit_code,
        signal=sig,
        stderr_tail=result.stderr_tail,
        stderr_bytes=result.stderr_bytes,
        warnings=tuple(session.warnings),
        uid=session.uid,
    )


def _replace(result, **changes):
    import dataclasses

    return dataclasses.replace(result, **changes)
