"""The harness that runs inside the sandbox: load the model once, then predict request after request.

This file is copied into the job directory and run as a script by the sandboxed interpreter
(``python -I -B harness.py JOB_DIR``), so it imports nothing from ``validation``; the host
imports :func:`describe_problem` and :func:`error_name` from it to render what comes back.

Requests arrive on the original stdin, replies leave on the original stdout (the model's own
prints go to stderr; its stdin is ``/dev/null``). Every reply is one JSON line, then, if the
status is ``"ok"``, exactly ``nbytes`` bytes of little-endian float64 scores in the request's
case order. The JSON carries codes and counts, never text: the host renders the sentence itself
(:func:`describe_problem`, :func:`error_name`) from fixed templates, because a model could write
its own JSON line and must not be able to smuggle data out through a failure reason.
"""

from __future__ import annotations

import json
import os
import re
import sys
import traceback

__all__ = ["check_predictions", "checked_scores", "describe_problem", "error_name", "id_values", "main", "same_ids"]

_KIND_OF_ERROR = {
    "MemoryError": "memory",
    "_ArrayMemoryError": "memory",
    "BlockingIOError": "resources",
    "RecursionError": "exception",
}


_DISK_ERRNOS = {27, 28, 122}  # EFBIG, ENOSPC, EDQUOT on Linux


class HarnessFailure(Exception):
    """A failure of the model that the harness detected, with a message free of data."""

    def __init__(self, stage: str, kind: str, error: str = "", problem=None, row=None) -> None:
        super().__init__(stage, kind, error)
        self.stage = stage
        self.kind = kind
        self.error = error
        self.problem = problem
        self.row = row


_EXTRA_TYPES = {"ndarray", "Series", "list", "tuple", "dict", "NoneType", "str", "int", "float", "bool"}
_DTYPE_NAME = re.compile(r"(object|str|string|bool|boolean|category|u?int(8|16|32|64)|U?Int(8|16|32|64)"
                         r"|float(16|32|64)|Float(32|64)|complex(64|128)|(datetime|timedelta)64\[\w{1,3}\])")


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
    problem : dict or None
        What is wrong, as a code and counts (see :func:`describe_problem`); never data values.
    """
    import pandas as pd

    scores, problem = checked_scores(output, expected_ids)
    if problem is not None:
        return None, problem
    return pd.DataFrame({"case_id": id_values(expected_ids), "score": scores}), None


def checked_scores(output, expected_ids):
    """:func:`check_predictions` without the frame: ``(scores, problem)``.

    ``scores`` is a float64 array of shape (n_cases,) in the batch's order, or None with the
    problem.
    """
    import pandas as pd

    if not isinstance(output, pd.DataFrame):
        return None, {"code": "not_dataframe", "type": type(output).__name__}
    missing_cols = [c for c in ("case_id", "score") if c not in output.columns]
    if missing_cols:
        return None, {"code": "missing_columns", "columns": missing_cols, "n_columns": len(output.columns)}
    got = output["case_id"]
    if same_ids(got, expected_ids):
        # The usual answer: the batch's own ids, in order (so none null, duplicated, missing or extra).
        return _checked_scores(output["score"], None)
    if got.isna().any():
        return None, {"code": "null_ids", "n": int(got.isna().sum())}
    got_keys = got.astype(str)
    n_dup = int(got_keys.duplicated().sum())
    if n_dup:
        return None, {"code": "duplicate_ids", "n": n_dup}
    want_keys = expected_ids.astype(str)
    want_set = set(want_keys)
    got_set = set(got_keys)
    n_extra = len(got_set - want_set)
    n_missing = len(want_set - got_set)
    if n_extra or n_missing:
        return None, {"code": "id_mismatch", "n_missing": n_missing, "n_extra": n_extra, "n_batch": len(want_set)}
    return _checked_scores(output["score"], (got_keys.tolist(), want_keys.tolist()))


def same_ids(got, want):
    """True if ``got`` holds ``want``'s values in ``want``'s order, element by element (``==``).

    Exactly ``numpy.array_equal`` of the two columns as object arrays. When both columns have
    the same string dtype (Arrow or Python storage) or the same numeric numpy dtype, and ``want``
    has no missing value, a comparison on the columns' own storage is tried first: if it finds
    them equal, so would the object arrays, and no Python object per value is made; if not, the
    object arrays decide.

    Parameters
    ----------
    got, want : pandas.Series of shape (n_cases,)

    Returns
    -------
    bool
    """
    import numpy as np
    import pandas as pd

    if len(got) != len(want):
        return False
    dtype = want.dtype
    # Shortcuts that can only say "equal"; anything else is decided by the comparison of object arrays.
    if isinstance(got, pd.Series) and got.dtype == dtype:
        if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
            # Arrow's own comparison; want has no null, so neither has got if they are equal.
            want_arrow = want.array.__arrow_array__()
            if want_arrow.null_count == 0 and want_arrow.equals(got.array.__arrow_array__()):
                return True
        elif not want.hasnans:
            if isinstance(dtype, pd.StringDtype) and got.array.equals(want.array):
                return True
            if isinstance(dtype, np.dtype) and dtype.kind in "biuf" and np.array_equal(got.to_numpy(), want.to_numpy()):
                return True
    return bool(np.array_equal(got.to_numpy(dtype=object), want.to_numpy(dtype=object)))


def id_values(ids):
    """``ids.to_numpy()`` for a new frame's ``case_id`` column, or the column's own array when that
    gives the frame the very same column (a string column of the dtype pandas infers for text).

    Parameters
    ----------
    ids : pandas.Series
        Case ids without missing values.
    """
    import pandas as pd

    if ids.dtype == _inferred_text_dtype():
        return ids.array
    return ids.to_numpy()


_TEXT_DTYPE = []


def _inferred_text_dtype():
    """The dtype pandas gives a new frame's column made from an object array of strings."""
    if not _TEXT_DTYPE:
        import numpy as np
        import pandas as pd

        _TEXT_DTYPE.append(pd.DataFrame({"c": np.array(["x"], dtype=object)})["c"].dtype)
    return _TEXT_DTYPE[0]


def _checked_scores(score, keys):
    """The score column copied, checked (numeric, finite, in [0, 1]) and put in the batch's order; ``keys`` is
    ``(got, wanted)`` id lists when the output's order may differ, None when it is the batch's own."""
    import numpy as np
    import pandas as pd

    dtype = score.dtype
    # numpy integers and floats (NaN is their only missing value) need no conversion of missing values.
    plain = isinstance(dtype, np.dtype) and dtype.kind in "iuf"
    if not plain and not (pd.api.types.is_numeric_dtype(score) and not pd.api.types.is_bool_dtype(score)):
        return None, {"code": "bad_dtype", "dtype": str(dtype)}
    # A copy, so that what is checked is what is sent (a model's thread cannot change it after the check).
    raw = score.to_numpy() if plain else score.to_numpy(dtype=np.float64, na_value=np.nan)
    values = np.array(raw, dtype=np.float64, copy=True)
    if not ((values >= 0.0) & (values <= 1.0)).all():  # NaN and infinities fail too
        n_nonfinite = int((~np.isfinite(values)).sum())
        if n_nonfinite:
            return None, {"code": "nonfinite", "n": n_nonfinite}
        n_out = int(((values < 0.0) | (values > 1.0)).sum())
        return None, {"code": "out_of_range", "n": n_out}
    got_list, want_list = keys if keys is not None else (None, None)
    if keys is None or got_list == want_list:
        ordered = values
    else:
        by_key = dict(zip(got_list, values.tolist()))
        ordered = np.array([by_key[k] for k in want_list], dtype=np.float64)
    return ordered, None


def _count(problem, key):
    value = problem.get(key)
    return value if type(value) is int and 0 <= value < 10**12 else "?"


def describe_problem(problem):
    """One sentence for a problem of :func:`check_predictions`, safe on untrusted input.

    The problem may come from inside the sandbox, i.e. from the model: only known codes, whole
    counts and names from fixed lists are rendered, so the sentence cannot carry data.
    """
    if not isinstance(problem, dict):
        return "the output failed a check the host does not recognise"
    code = problem.get("code")
    if code == "not_dataframe":
        kind = problem.get("type")
        kind = kind if kind in _EXTRA_TYPES else "another type"
        return f"predict returned {kind}; expected a pandas DataFrame with columns 'case_id' and 'score'"
    if code == "missing_columns":
        cols = problem.get("columns")
        cols = [c for c in ("case_id", "score") if isinstance(cols, list) and c in cols]
        return f"predict output lacks column(s) {cols}; it has {_count(problem, 'n_columns')} column(s)"
    if code == "null_ids":
        return f"predict output has {_count(problem, 'n')} missing case id(s)"
    if code == "duplicate_ids":
        return f"predict output has {_count(problem, 'n')} duplicate case id(s)"
    if code == "id_mismatch":
        parts = []
        if problem.get("n_missing"):
            parts.append(
                f"lacks {_count(problem, 'n_missing')} of the {_count(problem, 'n_batch')} case id(s) of the batch"
            )
        if problem.get("n_extra"):
            parts.append(f"has {_count(problem, 'n_extra')} case id(s) that are not in the batch")
        return "predict output " + (" and ".join(parts) or "does not match the batch's case ids")
    if code == "bad_dtype":
        dtype = problem.get("dtype")
        dtype = dtype if isinstance(dtype, str) and _DTYPE_NAME.fullmatch(dtype) else "another dtype"
        return f"score column has dtype {dtype}; expected floating-point numbers"
    if code == "nonfinite":
        return f"{_count(problem, 'n')} score(s) are missing, NaN or infinite; expected finite numbers"
    if code == "out_of_range":
        return f"{_count(problem, 'n')} score(s) are outside [0, 1]"
    return "the output failed a check the host does not recognise"


def error_name(name):
    """``name`` if it is a built-in exception class name, else ``'a vendor-defined exception'``.

    Exception class names can be made at run time from data, so only built-in ones pass.
    """
    import builtins

    if isinstance(name, str) and name.isidentifier():
        obj = getattr(builtins, name, None)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            return name
        if name == "_ArrayMemoryError":  # numpy's MemoryError
            return "MemoryError"
    return "a vendor-defined exception"


def _resolve_paths(cases, input_root, path_columns):
    for column in path_columns:
        cases[column] = [os.path.join(input_root, str(p)) for p in cases[column]]
    return cases


def _start(job_dir):
    """Read the session's configuration and load the model once; ``(config, model)``."""
    try:
        with open(os.path.join(job_dir, "config.json"), encoding="utf-8") as fh:
            config = json.load(fh)
        import numpy  # noqa: F401 - imported before vendor code, as the data path needs it
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - no vendor code has run yet
        traceback.print_exception(exc, file=sys.stderr)
        raise HarnessFailure("read", "exception", type(exc).__name__) from exc
    try:
        import mlflow.pyfunc

        # suppress_warnings skips MLflow's requirement comparison (about 2 s of scanning every
        # installed distribution); the registry checks requirements before any run.
        model = mlflow.pyfunc.load_model(config["model_dir"], suppress_warnings=True)
    except BaseException as exc:  # noqa: BLE001 - any failure of vendor code is reported
        raise _as_failure("load", exc) from exc
    return config, model


def _read_cases(request, body, config):
    """The request's case table (Arrow IPC stream) with its path columns made absolute."""
    try:
        import pyarrow as pa

        with pa.ipc.open_stream(body) as reader:
            # One thread: a case table of a few text columns gains nothing from waking Arrow's pool.
            cases = reader.read_all().to_pandas(use_threads=False)
        root = config["inputs"][request["input"]]
        return _resolve_paths(cases, root, request["path_columns"]), int(request["batch_size"])
    except Exception as exc:  # noqa: BLE001 - the host's own bytes; no vendor code runs here
        traceback.print_exception(exc, file=sys.stderr)
        raise HarnessFailure("read", "exception", type(exc).__name__) from exc


def _serve(model, request, body, config):
    """Predict one request's cases in chunks of its batch size; ``(header, scores bytes)``."""
    import time

    import numpy as np
    import pandas as pd

    cases, batch_size = _read_cases(request, body, config)
    # One batch of the whole request (the usual case) is the table itself, as it has the index
    # iloc + reset_index would give it.
    whole = len(cases) <= batch_size and cases.index.equals(pd.RangeIndex(len(cases)))
    scores = []
    spent = 0.0
    for start in range(0, len(cases), batch_size):
        batch = cases if whole else cases.iloc[start : start + batch_size].reset_index(drop=True)
        began = time.perf_counter()
        try:
            output = model.predict(batch.copy())
        except BaseException as exc:  # noqa: BLE001
            raise _as_failure("predict", exc) from exc
        spent += time.perf_counter() - began
        values, problem = checked_scores(output, batch["case_id"])
        if problem is not None:
            raise HarnessFailure("validate", "output", problem=problem, row=start)
        scores.append(values)
    values = scores[0] if len(scores) == 1 else np.concatenate(scores) if scores else np.empty(0, dtype=np.float64)
    payload = values.astype("<f8").tobytes()
    header = {"status": "ok", "seq": request.get("seq"), "n_rows": len(values), "nbytes": len(payload),
              "predict_seconds": spent}
    return header, payload


def _as_failure(stage, exc):
    name = type(exc).__name__
    kind = _KIND_OF_ERROR.get(name, "exception")
    if isinstance(exc, SystemExit):
        kind = "exit"
    elif isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
        kind = "disk"
    traceback.print_exception(exc, file=sys.stderr)
    return HarnessFailure(stage, kind, name)


def _failure_header(failure):
    return {
        "status": "failed",
        "stage": failure.stage,
        "kind": failure.kind,
        "error": failure.error,
        "problem": failure.problem,
        "row": failure.row,
    }


def _reply(data, header, payload=b""):
    # One write, so that the host wakes once for the whole reply.
    data.write(json.dumps(header).encode("utf-8") + b"\n" + payload)
    data.flush()


def _fail(data, exc):
    """Report a failure and leave at once: model threads or atexit hooks must not change the outcome."""
    if not isinstance(exc, HarnessFailure):  # harness bug or vendor code escaping a stage
        exc = _as_failure("harness", exc)
    _reply(data, _failure_header(exc))
    sys.stderr.flush()
    os._exit(0)


def main(argv=None):
    """Entry point inside the sandbox: ``harness.py JOB_DIR``.

    Answers ``{"status": "ready"}`` once the model is loaded, then one reply per request read
    from the original stdin: a JSON line (``seq``, ``nbytes``, ``input``, ``path_columns``,
    ``batch_size``) followed by ``nbytes`` of an Arrow IPC stream holding the cases. An ``ok``
    reply carries ``nbytes`` of little-endian float64 scores, one per case in request order.
    The harness leaves after its first failure and at the end of its stdin.
    """
    argv = sys.argv[1:] if argv is None else argv
    job_dir = argv[0]
    data = os.fdopen(os.dup(1), "wb")
    requests = os.fdopen(os.dup(0), "rb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        config, model = _start(job_dir)
    except BaseException as exc:  # noqa: BLE001
        _fail(data, exc)
    _reply(data, {"status": "ready"})
    while True:
        line = requests.readline(65536)
        if not line.endswith(b"\n"):
            sys.stderr.flush()
            os._exit(0)
        try:
            try:
                request = json.loads(line)
                body = requests.read(int(request["nbytes"]))
            except Exception as exc:  # noqa: BLE001 - a malformed request from the host
                raise HarnessFailure("read", "exception", type(exc).__name__) from exc
            header, payload = _serve(model, request, body, config)
        except BaseException as exc:  # noqa: BLE001
            _fail(data, exc)
        _reply(data, header, payload)


if __name__ == "__main__":
    main()
