"""The cheap id checks give the answers of the plain ones they stand in for.

The host refuses a case table with missing or repeated ids (repeated once written as text, so
``1`` and ``"1"`` are one id); the harness takes a model's answer fast when its ids are the
batch's own, in order. Each check here is compared, on hypothesis-generated columns of many
dtypes, with a reference written in this file: a Python loop over the values, or numpy's
element-by-element comparison of object arrays.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from validation.sandbox import CaseTableError
from validation.sandbox.cases import checked_cases
from validation.sandbox.harness import check_predictions, id_values, same_ids

SETTINGS = settings(max_examples=80, deadline=None)
DTYPES = ("str", "object", "string[python]", "string[pyarrow]", "int64", "Int64", "float64", "category")


def _is_missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _reference_counts(values: list) -> tuple[int, int]:
    """(missing, repeated) by a loop: a value repeats if its text was seen before."""
    missing = sum(_is_missing(v) for v in values)
    seen: set[str] = set()
    repeated = 0
    for v in values:
        key = str(v)
        repeated += key in seen
        seen.add(key)
    return missing, repeated


@st.composite
def id_columns(draw):
    """A case_id column: values of one kind, some repeated or missing, in one of several dtypes."""
    kind = draw(st.sampled_from(["text", "int", "float", "mixed"]))
    n = draw(st.integers(0, 30))
    if kind == "text":
        pool = draw(st.lists(st.text("ab1-", min_size=1, max_size=3), min_size=1, max_size=12))
        dtype = draw(st.sampled_from(["str", "object", "string[python]", "string[pyarrow]", "category"]))
    elif kind == "int":
        pool = draw(st.lists(st.integers(-5, 5), min_size=1, max_size=12))
        dtype = draw(st.sampled_from(["int64", "Int64", "object", "category"]))
    elif kind == "float":
        pool = draw(st.lists(st.sampled_from([0.0, -0.0, 1.0, 1.5, 2.0, 1e16]), min_size=1, max_size=6))
        dtype = draw(st.sampled_from(["float64", "object"]))
    else:  # ints and their own text side by side: the same id once written as text
        ints = draw(st.lists(st.integers(0, 4), min_size=1, max_size=6))
        pool = ints + [str(i) for i in ints]
        dtype = "object"
    values = [draw(st.sampled_from(pool)) for _ in range(n)]
    if draw(st.booleans()) and n:
        missing = None if dtype not in ("float64",) else float("nan")
        for i in draw(st.lists(st.integers(0, n - 1), max_size=3)):
            values[i] = missing
    if dtype in ("int64",) and any(v is None for v in values):
        dtype = "Int64"
    return pd.Series(values, dtype=dtype), values


@SETTINGS
@given(id_columns())
def test_checked_cases_refuses_missing_and_repeated_ids_exactly_as_a_loop_counts_them(column):
    ids, values = column
    # The values as the column holds them (its dtype may turn 1 into 1.0 or None into NaN).
    held = [None if _is_missing(v) else v for v in ids.astype(object).tolist()]
    missing, repeated = _reference_counts(held)
    cases = pd.DataFrame({"case_id": ids})
    if missing:
        with pytest.raises(CaseTableError, match=rf"^cases has {missing} missing case_id value\(s\)"):
            checked_cases(cases, [])
    elif repeated:
        with pytest.raises(CaseTableError, match=rf"^cases has {repeated} duplicate case_id value\(s\)"):
            checked_cases(cases, [])
    else:
        frame = checked_cases(cases, [])
        assert frame["case_id"].astype(object).tolist() == held
        assert list(frame.index) == list(range(len(held)))


def test_checked_cases_counts_an_int_and_its_text_as_one_id():
    with pytest.raises(CaseTableError, match="^cases has 1 duplicate"):
        checked_cases(pd.DataFrame({"case_id": pd.Series([1, "1", 2], dtype=object)}), [])
    # -0.0 == 0.0, but their texts differ: two ids, as before.
    assert len(checked_cases(pd.DataFrame({"case_id": [0.0, -0.0]}), [])) == 2


def test_checked_cases_gives_a_default_index():
    cases = pd.DataFrame({"case_id": ["a", "b"]}, index=[7, 3])
    assert list(checked_cases(cases, []).index) == [0, 1]


@st.composite
def id_pairs(draw):
    """(got, want): want unique, got the same ids, reordered, changed, in another dtype or with a gap."""
    kind = draw(st.sampled_from(["text", "int"]))
    n = draw(st.integers(1, 12))
    base = [f"c{i}" for i in range(n)] if kind == "text" else list(range(n))
    want_dtype = draw(st.sampled_from(["str", "object", "string[pyarrow]"] if kind == "text" else ["int64", "object"]))
    want = pd.Series(base, dtype=want_dtype)
    got_values = list(base)
    change = draw(st.sampled_from(["same", "swap", "replace", "missing", "shorter", "as_text"]))
    if change == "swap" and n > 1:
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        got_values[i], got_values[j] = got_values[j], got_values[i]
    elif change == "replace":
        got_values[draw(st.integers(0, n - 1))] = "x" if kind == "text" else 99
    elif change == "missing":
        got_values[draw(st.integers(0, n - 1))] = None
    elif change == "shorter":
        got_values = got_values[:-1]
    elif change == "as_text":
        got_values = [str(v) for v in got_values]
    same_dtype = draw(st.booleans())
    got_dtype = want_dtype if same_dtype and change not in ("missing", "as_text") else "object"
    if got_dtype == "int64" and any(v is None for v in got_values):
        got_dtype = "object"
    return pd.Series(got_values, dtype=got_dtype), want


@SETTINGS
@given(id_pairs())
def test_same_ids_is_numpy_array_equal_of_object_arrays(pair):
    got, want = pair
    reference = len(got) == len(want) and bool(np.array_equal(got.to_numpy(dtype=object), want.to_numpy(dtype=object)))
    assert same_ids(got, want) is reference


@SETTINGS
@given(id_pairs(), st.randoms(use_true_random=False))
def test_check_predictions_returns_the_batch_order_or_a_problem_on_either_path(pair, rng):
    got, want = pair
    scores = [rng.random() for _ in range(len(got))]
    frame, problem = check_predictions(pd.DataFrame({"case_id": got, "score": scores}), want)
    # Reference: by text, each batch id's score, if the answer has every id once and nothing else.
    got_text = [None if _is_missing(v) else str(v) for v in got.astype(object)]
    want_text = [str(v) for v in want.astype(object)]
    if sorted(t for t in got_text if t is not None) == sorted(want_text) and None not in got_text:
        assert problem is None
        by_text = dict(zip(got_text, scores))
        assert frame["score"].tolist() == [by_text[t] for t in want_text]
        assert frame["case_id"].astype(object).tolist() == want.astype(object).tolist()
    else:
        assert frame is None and problem["code"] in ("null_ids", "duplicate_ids", "id_mismatch")


@pytest.mark.parametrize("dtype", DTYPES)
def test_id_values_builds_the_same_frame_as_to_numpy(dtype):
    text = dtype in ("str", "object", "string[python]", "string[pyarrow]", "category")
    values = ["a", "b", "c"] if text else [3, 1, 2]
    ids = pd.Series(values, dtype=dtype)
    scores = np.array([0.1, 0.2, 0.3])
    fast = pd.DataFrame({"case_id": id_values(ids), "score": scores})
    plain = pd.DataFrame({"case_id": ids.to_numpy(), "score": scores})
    pd.testing.assert_frame_equal(fast, plain)


@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]", "string[python]", "object", "int64", "Int64", "float64"])
def test_same_ids_on_each_storage_tells_same_from_swapped_and_changed(dtype):
    base = ["7", "8", "9"] if dtype in ("str", "string[pyarrow]", "string[python]", "object") else [7, 8, 9]
    want = pd.Series(base, dtype=dtype)
    other = "10" if isinstance(base[0], str) else 10
    assert same_ids(pd.Series(base, dtype=dtype), want) is True
    assert same_ids(pd.Series([base[1], base[0], base[2]], dtype=dtype), want) is False
    assert same_ids(pd.Series([base[0], base[1], other], dtype=dtype), want) is False
    assert same_ids(pd.Series(base[:2], dtype=dtype), want) is False
