"""Strict JSON (``datasets.deid.fhir_json.loads_strict``) behaves exactly like ``json.loads`` with a duplicate-key hook.

``loads_strict`` reuses one scanner instead of calling ``json.loads(data, object_pairs_hook=...)`` per document;
the reference below is that plain call, written here, and every outcome (value with its key order, or the
quarantine reason and detail) must be the same, on str, bytes in every encoding ``json`` detects, BOMs, JSON and
non-JSON whitespace, trailing data, duplicate keys before a syntax error, deep nesting and wrong types.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from datasets.deid.fhir_json import StrictJsonError, loads_strict


class _Duplicate(Exception):
    pass


def _hook(pairs):
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Duplicate
    return out


def reference(data) -> tuple:
    """What ``json.loads`` with a duplicate-refusing hook says, in the terms of :class:`StrictJsonError`."""
    try:
        return ("ok", repr(json.loads(data, object_pairs_hook=_hook)))
    except _Duplicate:
        return ("raised", "duplicate_key", "a JSON object repeats a key")
    except RecursionError:
        return ("raised", "nesting_too_deep", "JSON nested too deeply to parse")
    except (ValueError, TypeError) as exc:
        return ("raised", "unreadable", f"not valid JSON ({type(exc).__name__})")


def strict(data) -> tuple:
    try:
        return ("ok", repr(loads_strict(data)))  # repr keeps key order (and shows NaN alike)
    except StrictJsonError as exc:
        return ("raised", exc.reason.value, exc.detail)


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.tuples(st.sampled_from(["a", "b", "id", "ü", "\"q"]), inner), max_size=4),  # may repeat keys
    ),
    max_leaves=12,
)
_space = st.sampled_from(["", " ", "\n", "\t", "\r\n ", "\x0b", "\u00a0", "\ufeff"])


def _dump(v, sp: str) -> str:
    if isinstance(v, list) and v and all(isinstance(x, tuple) for x in v):
        return "{" + ",".join(f"{sp}{json.dumps(k)}{sp}:{sp}{_dump(x, sp)}" for k, x in v) + sp + "}"
    if isinstance(v, list):
        return "[" + ",".join(sp + _dump(x, sp) for x in v) + sp + "]"
    return json.dumps(v)


@st.composite
def documents(draw):
    text = _dump(draw(_values), draw(st.sampled_from(["", " ", "\n  "])))
    text = draw(_space) + text + draw(_space) + draw(st.sampled_from(["", "", "x", "}", "{}", "nul", "NaN"]))
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.sampled_from(["", "\\", "\"", ",", "\x00", "\ud800"])) + text[cut:]
    form = draw(st.sampled_from(["str", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32-be", "bytearray"]))
    if form == "str":
        return text
    raw = text.encode("utf-8" if form == "bytearray" else form, "surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        raw += b"\xff"  # not valid in any encoding json detects
    return bytearray(raw) if form == "bytearray" else raw


@settings(max_examples=100, deadline=None)
@given(documents())
def test_strict_loading_equals_json_loads_with_a_duplicate_hook(data):
    assert strict(data) == reference(data)


def test_examples_of_each_outcome():
    cases = [
        '{"a": 1}', ' \n{"a": {"b": [1, 2]}}\r\n', '{"a": 1, "a": 2}', '{"a": {"b": 1, "b": 1}}',
        '{"a": 1, "a": 2, ', '[{"x": 1}, {"x": 1, "x": 2}] trailing', "", "   ", "\ufeff{}", b"\xef\xbb\xbf{}",
        '{} {}', "{}\x0b", "\x0b{}", '"\\ud800"', b'{"a": "\xff"}', "[" * 100_000 + "]" * 100_000,
        '{"a": NaN}', 12, None, ["{}"], "{}".encode("utf-16"), bytearray(b'{"k": [true, false, null]}'),
    ]
    for data in cases:
        assert strict(data) == reference(data), data if not isinstance(data, str) or len(data) < 50 else "deep"
    assert strict('{"a": 1, "a": 2}')[1] == "duplicate_key"
    assert strict("[" * 100_000 + "]" * 100_000)[1] == "nesting_too_deep"
    assert strict(12) == ("raised", "unreadable", "not valid JSON (TypeError)")


def test_a_str_subclass_is_read_like_a_str():
    class Text(str):
        pass

    assert strict(Text('{"a": [1]}')) == reference(Text('{"a": [1]}')) == ("ok", "{'a': [1]}")
