"""Checks on the case table and directories handed to ``run_model``, before anything runs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from validation.sandbox.exceptions import CaseTableError

__all__ = [
    "existing_dir",
    "checked_cases",
    "check_inputs_exist",
    "check_model_readable",
    "check_inputs_readable",
]


def existing_dir(value, name: str) -> Path:
    path = Path(value).resolve()
    if not path.is_dir():
        raise CaseTableError(f"{name} {value!s} is not an existing directory; create it or fix the path.")
    return path


def checked_cases(cases, path_columns: Sequence[str]):
    import pandas as pd

    if not isinstance(cases, pd.DataFrame):
        raise CaseTableError(f"cases must be a pandas DataFrame, got {type(cases).__name__}.")
    if "case_id" not in cases.columns:
        raise CaseTableError(
            f"cases has no 'case_id' column; found {sorted(map(str, cases.columns))}. Add it."
        )
    ids = cases["case_id"]
    text = _arrow_text(ids)
    n_missing = text.null_count if text is not None else int(ids.isna().sum()) if ids.hasnans else 0
    if n_missing:
        raise CaseTableError(f"cases has {n_missing} missing case_id value(s); drop or fill them.")
    n_dup = _n_duplicate_ids(ids, text)
    if n_dup:
        raise CaseTableError(f"cases has {n_dup} duplicate case_id value(s); case ids must be unique.")
    if isinstance(path_columns, str):
        raise CaseTableError("path_columns must be a sequence of column names, not one string.")
    for column in path_columns:
        if column not in cases.columns:
            raise CaseTableError(f"path column {column!r} is not in cases; found {sorted(map(str, cases.columns))}.")
        for i, value in enumerate(cases[column]):
            if not isinstance(value, str) or not value:
                raise CaseTableError(f"path column {column!r} row {i} is not a non-empty string.")
            pure = PurePosixPath(value)
            if pure.is_absolute() or ".." in pure.parts or "\\" in value:
                raise CaseTableError(
                    f"path column {column!r} row {i} is absolute or contains '..'; "
                    "give paths relative to input_root."
                )
    if cases.index.equals(pd.RangeIndex(len(cases))):
        return cases
    return cases.reset_index(drop=True)


def _arrow_text(ids):
    """The Arrow array behind a pyarrow-backed string column (missing values are its nulls), else None."""
    import pandas as pd

    dtype = ids.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return ids.array.__arrow_array__()
    return None


def _n_duplicate_ids(ids, text=None) -> int:
    """How many ids (none missing) repeat an earlier one once written as text (``1`` and ``"1"`` are one id).

    Two strings, or two integers, are the same id exactly when their texts are, so a string or
    integer column found unique by a hash table (Arrow's for ``text``, the Arrow array of a
    string column, else pandas'), without making any text, has no duplicate; any other column,
    or one with a repeat, is counted on its text as always.
    """
    import pandas as pd

    if text is not None:
        import pyarrow.compute as pc

        if len(pc.unique(text)) == len(ids):
            return 0
    else:
        dtype = ids.dtype
        if (isinstance(dtype, pd.StringDtype) or pd.api.types.is_integer_dtype(dtype)) and ids.is_unique:
            return 0
    return int(ids.astype(str).duplicated().sum())


def check_inputs_exist(input_root: Path, frame, path_columns: Sequence[str]) -> None:
    for column in path_columns:
        for i, rel in enumerate(frame[column]):
            if not (input_root / rel).is_file():
                raise CaseTableError(
                    f"path column {column!r} row {i} names no file under input_root; "
                    "fix the case table or the input_root."
                )


def check_model_readable(model_dir: Path) -> None:
    """Every directory and file of the model is readable (and searchable) by other users."""
    problems = []
    if model_dir.stat().st_mode & 0o005 != 0o005:
        problems.append(str(model_dir))
    for dirpath, dirnames, filenames in os.walk(model_dir):
        for name in dirnames:
            if os.stat(os.path.join(dirpath, name)).st_mode & 0o005 != 0o005:
                problems.append(os.path.join(dirpath, name))
        for name in filenames:
            if os.stat(os.path.join(dirpath, name)).st_mode & 0o004 != 0o004:
                problems.append(os.path.join(dirpath, name))
    _refuse(problems)


def check_inputs_readable(input_root: Path, frame, path_columns: Sequence[str]) -> None:
    """The input root and every input file named in ``frame`` are readable by other users."""
    problems = []
    if input_root.stat().st_mode & 0o005 != 0o005:
        problems.append(str(input_root))
    for column in path_columns:
        for rel in frame[column]:
            path = input_root / rel
            if path.stat().st_mode & 0o004 != 0o004:
                problems.append(f"an input file under {input_root}")
                break
    _refuse(problems)


def _refuse(problems: list[str]) -> None:
    if problems:
        raise CaseTableError(
            f"{len(problems)} path(s) are not readable by other users, e.g. {problems[0]}; the "
            "sandbox runs as an unprivileged uid. Make them readable (chmod -R o+rX) first."
        )
