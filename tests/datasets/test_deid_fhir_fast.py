"""The fast paths of the FHIR engine agree with the slow definitions they replace."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from datasets.deid.fhir import _is_uuid

# The definition the fast test replaces (RFC 4122 text form; ``$`` also matches before a final newline).
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

near_uuids = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.uuids().map(lambda u: str(u) + "\n"),
    st.text(alphabet="0123456789abcdefABCDEFg-\n x\u0661", min_size=34, max_size=38),
    st.uuids().map(lambda u: str(u).replace("-", "", 1) + "-"),
)


@settings(max_examples=100, deadline=None)
@given(near_uuids)
def test_is_uuid_equals_the_regex(text):
    assert _is_uuid(text) == (UUID_RE.match(text) is not None)


def test_is_uuid_examples():
    assert _is_uuid("0ce18c7d-fd78-46d9-81b5-8bed231c337a")
    assert not _is_uuid("0ce18c7d-fd78-46d9-81b5-8bed231c337g")
    assert not _is_uuid("0ce18c7d-fd78-46d9-81b5-8bed-31c337a")  # a fifth dash in the right length
    assert not _is_uuid("0ce18c7dfd78-46d9-81b5-8bed231c337a-")
