"""Canonical JSON, event hashes and the hash chain."""

from __future__ import annotations

import hashlib
import json
import math

import pytest
from audit_helpers import make_events
from hypothesis import given, settings
from hypothesis import strategies as st

from validation.audit import verify_bundle as standalone
from validation.audit.canonical import ZERO_HASH, canonical_json, check_event, event_hash, verify_chain
from validation.audit.errors import CanonicalFormError, ChainError, EventFormError


def test_canonical_bytes_worked_by_hand():
    obj = {"b": [1, 2.5, None, True], "a": {"z": "é", "y": "中"}, "c": ""}
    # keys sorted at every level, no whitespace, UTF-8 without \u escapes
    assert canonical_json(obj) == '{"a":{"y":"中","z":"é"},"b":[1,2.5,null,true],"c":""}'.encode()
    assert event_hash({"a": 1}) == hashlib.sha256(b'{"a":1}').hexdigest()


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, {"x": [math.nan]}])
def test_non_finite_numbers_refused(bad):
    with pytest.raises(CanonicalFormError, match="non-finite"):
        canonical_json(bad)


@pytest.mark.parametrize("bad", [{1: "x"}, (1, 2), {1, 2}, b"bytes", {"a": object()}])
def test_values_without_lossless_json_refused(bad):
    with pytest.raises(CanonicalFormError):
        canonical_json(bad)


def test_lone_surrogate_refused():
    with pytest.raises(CanonicalFormError, match="Unicode"):
        canonical_json({"a": "\ud800"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_canonical_round_trips_and_agrees_with_standalone_verifier(value):
    try:
        data = canonical_json(value)
    except CanonicalFormError:
        return  # text with lone surrogates
    assert json.loads(data.decode()) == value
    assert standalone._canonical(json.loads(data.decode())) == data


def test_check_event_accepts_contract_and_names_problems():
    event = make_events(1)[0]
    check_event(event)
    for change, message in [({"seq": 0}, "seq"), ({"prev_hash": "x"}, "prev_hash"), ({"details": []}, "details"),
                            ({"time": "2026-01-01T00:00:00"}, "time"), ({"object_sha256": "AB"}, "object_sha256")]:
        with pytest.raises(EventFormError, match=message):
            check_event({**event, **change})
    with pytest.raises(EventFormError, match="missing"):
        check_event({k: v for k, v in event.items() if k != "actor_id"})


def test_chain_links_verify_and_breaks_are_named():
    events = make_events(10)
    assert verify_chain(events) == event_hash(events[-1])
    assert events[0]["prev_hash"] == ZERO_HASH
    altered = [dict(e) for e in events]
    altered[3]["action"] = "run.delete"
    with pytest.raises(ChainError) as info:
        verify_chain(altered)
    assert info.value.seq == 5  # seq 4 altered: seq 5 no longer links to it
    with pytest.raises(ChainError, match="gap") as info:
        verify_chain(events[:4] + events[5:])
    assert info.value.seq == 5
    assert verify_chain(events[4:], prev_hash=event_hash(events[3]), first_seq=5) == event_hash(events[-1])
