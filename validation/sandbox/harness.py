"""The harness that runs inside the sandbox: load the model, predict in batches, check, send.

This file is copied into the job directory and run as a script by the sandboxed interpreter
(``python -I -B harness.py JOB_DIR OUT_DIR``), so it imports nothing from ``validation``; the
host imports :func:`check_predictions` from it to check the same rules again on what comes back.

Protocol on the original stdout (the model's own prints go to stderr): one JSON line, then, if
the status is ``"ok"``, exactly ``nbytes`` bytes of a parquet file with columns ``case_id`` and
``score``. The JSON never carries data values: only an error class, a stage, a kind and a message
written by this harness (counts, column names and types).
"""

from __future__ import annotations

import json
import os
import sys
import traceback

__all__ = ["check_predictions", "main"]

_KIND_OF_ERROR = {
    "MemoryError": "memory",
    "_ArrayMemoryError": "memory",
    "BlockingIOError": "resources",
    "RecursionError": "exception",
}


_DISK_ERRNOS = {27, 28, 122}  # EFBIG, ENOSPC, EDQUOT on Linux


class HarnessFailure(Exception):
    """A failure of the model that the harness detected, with a message free of data."""

    def __init__(self, stage: str, kind: str, reason: str, error: str = "") -> None:
        super().__init__(reason)
        self.stage = stage
        self.kind = kind
        self.reason = reason
        self.error = error


def check_predictions(output, expected_ids):
    """Check a model's output for one batch; return ``(frame, problem)``.

    Parameters
    ----------
    output : object
        What ``predict`` returned; must be a pandas DataFrame with ``case_id`` and ``score``.
    expected_ids : pandas.Series of shape (n_cases,)
        The case ids of the batch, unique.

    Returns
    -------
    frame : pandas.DataFrame or None
        ``case_id`` (the batch's own values, in batch order) and ``score`` (float64), if valid.
    problem : str or None
        What is wrong, with counts, column names and types but no data values.
    """
    import numpy as np
    import pandas as pd

    if not isinstance(output, pd.DataFrame):
        return None, (
            f"predict returned {type(output).__name__}; expected a pandas DataFrame "
            "with columns 'case_id' and 'score'"
        )
    missing_cols = [c for c in ("case_id", "score") if c not in output.columns]
    if missing_cols:
        return None, f"predict output lacks column(s) {missing_cols}; it has {len(output.columns)} column(s)"
    got = output["case_id"]
    if got.isna().any():
        return None, f"predict output has {int(got.isna().sum())} missing case id(s)"
    got_keys = got.astype(str)
    n_dup = int(got_keys.duplicated().sum())
    if n_dup:
        return None, f"predict output has {n_dup} duplicate case id(s)"
    want_keys = expected_ids.astype(str)
    want_set = set(want_keys)
    got_set = set(got_keys)
    n_extra = len(got_set - want_set)
    n_missing = len(want_set - got_set)
    if n_extra or n_missing:
        parts = []
        if n_missing:
            parts.append(f"lacks {n_missing} of the {len(want_set)} case id(s) of the batch")
        if n_extra:
            parts.append(f"has {n_extra} case id(s) that are not in the batch")
        return None, "predict output " + " and ".join(parts)
    score = output["score"]
    if not (pd.api.types.is_numeric_dtype(score) and not pd.api.types.is_bool_dtype(score)):
        return None, f"score column has dtype {score.dtype}; expected floating-point numbers"
    values = score.to_numpy(dtype=np.float64, na_value=np.nan)
    n_nonfinite = int((~np.isfinite(values)).sum())
    if n_nonfinite:
        return None, f"{n_nonfinite} score(s) are missing, NaN or infinite; expected finite numbers"
    n_out = int(((values < 0.0) | (values > 1.0)).sum())
    if n_out:
        return None, f"{n_out} score(s) are outside [0, 1]"
    by_key = dict(zip(got_keys.tolist(), values.tolist()))
    frame = pd.DataFrame(
        {
            "case_id": expected_ids.to_numpy(),
            "score": np.array([by_key[k] for k in want_keys.tolist()], dtype=np.float64),
        }
    )
    return frame, None


def _resolve_paths(cases, input_root, path_columns):
    for column in path_columns:
        cases[column] = [os.path.join(input_root, str(p)) for p in cases[column]]
    return cases


def _run(job_dir, out_dir):
    with open(os.path.join(job_dir, "config.json"), encoding="utf-8") as fh:
        config = json.load(fh)
    stage = "read"
    import pandas as pd

    cases = pd.read_parquet(os.path.join(job_dir, "cases.parquet"))
    cases = _resolve_paths(cases, config["input_root"], config["path_columns"])
    stage = "load"
    try:
        import mlflow.pyfunc

        # suppress_warnings skips MLflow's requirement comparison (about 2 s of scanning every
        # installed distribution); the registry checks requirements before any run.
        model = mlflow.pyfunc.load_model(config["model_dir"], suppress_warnings=True)
    except BaseException as exc:  # noqa: BLE001 - any failure of vendor code is reported
        raise _as_failure(stage, exc) from exc
    batch_size = int(config["batch_size"])
    frames = []
    for start in range(0, len(cases), batch_size):
        batch = cases.iloc[start : start + batch_size].reset_index(drop=True)
        stage = "predict"
        try:
            output = model.predict(batch.copy())
        except BaseException as exc:  # noqa: BLE001
            raise _as_failure(stage, exc) from exc
        frame, problem = check_predictions(output, batch["case_id"])
        if problem is not None:
            raise HarnessFailure(
                "validate", "output", f"batch starting at row {start}: {problem}"
            )
        frames.append(frame)
    predictions = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame({"case_id": cases["case_id"].iloc[:0], "score": pd.Series([], dtype="float64")})
    )
    return _serialise(predictions, out_dir)


def _serialise(predictions, out_dir):
    import io

    if out_dir:
        path = os.path.join(out_dir, "predictions.parquet")
        try:
            predictions.to_parquet(path, index=False)
        except OSError as exc:
            raise HarnessFailure(
                "write", "output", f"writing predictions to /out failed ({type(exc).__name__})",
                type(exc).__name__,
            ) from exc
        with open(path, "rb") as fh:
            return len(predictions), fh.read()
    buffer = io.BytesIO()
    predictions.to_parquet(buffer, index=False)
    return len(predictions), buffer.getvalue()


def _as_failure(stage, exc):
    name = type(exc).__name__
    kind = _KIND_OF_ERROR.get(name, "exception")
    if isinstance(exc, SystemExit):
        kind = "exit"
    elif isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
        kind = "disk"
    what = "loading the model" if stage == "load" else "predict"
    traceback.print_exception(exc, file=sys.stderr)
    return HarnessFailure(stage, kind, f"{what} raised {name}", name)


def main(argv=None):
    """Entry point inside the sandbox: ``harness.py JOB_DIR OUT_DIR`` (OUT_DIR may be empty)."""
    argv = sys.argv[1:] if argv is None else argv
    job_dir, out_dir = argv[0], argv[1]
    data = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        n_rows, payload = _run(job_dir, out_dir)
    except HarnessFailure as failure:
        header = {
            "status": "failed",
            "stage": failure.stage,
            "kind": failure.kind,
            "error": failure.error,
            "reason": failure.reason,
        }
        payload = b""
    except BaseException as exc:  # noqa: BLE001 - harness bug or vendor code escaping a stage
        traceback.print_exception(exc, file=sys.stderr)
        failure = _as_failure("harness", exc)
        header = {
            "status": "failed",
            "stage": "harness",
            "kind": failure.kind,
            "error": failure.error,
            "reason": f"the harness stopped on {failure.error}",
        }
        payload = b""
    else:
        header = {"status": "ok", "n_rows": n_rows, "nbytes": len(payload)}
    data.write(json.dumps(header).encode("utf-8") + b"\n")
    data.write(payload)
    data.flush()
    sys.stderr.flush()
    # Leave at once: model threads or atexit hooks must not change the outcome.
    os._exit(0)


if __name__ == "__main__":
    main()
