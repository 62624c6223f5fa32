"""The fast paths of the FHIR engine agree with the slow definitions they replace."""

from __future__ import annotations

import re
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from datasets.deid import FhirOptions, Pseudonymizer
from datasets.deid.fhir import _Engine, _is_uuid, _Stop

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


# -- the validation sample -------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["Observation", "Patient", "Encounter", "ü", ""]),
    st.one_of(st.none(), st.text(max_size=40), st.integers()),
    st.integers(1, 70),
)
def test_the_validation_sample_is_crc32_of_type_and_id(rtype, rid, rate):
    """Sampled validation picks a resource when crc32 of "<type>/<id>" (UTF-8) is a multiple of the rate."""
    engine = _Engine(Pseudonymizer(b"s" * 32), "H01", FhirOptions(validation_sample=rate))
    out = {"resourceType": rtype} if rid is None else {"resourceType": rtype, "id": rid}
    expected = zlib.crc32(f"{rtype}/{'' if rid is None else rid}".encode()) % rate == 0
    assert engine.should_validate(out) is expected
    assert engine.should_validate(out) is expected  # again, with the per-type prefix remembered
    assert _Engine(Pseudonymizer(b"s" * 32), "H01", FhirOptions(validate="all")).should_validate(out) is True
    assert _Engine(Pseudonymizer(b"s" * 32), "H01", FhirOptions(validate="none")).should_validate(out) is False


# -- relative references ---------------------------------------------------------------------------------------

RELATIVE_RE = re.compile(r"^([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$")
KNOWN = {"Observation", "Encounter", "Practitioner", "Organization"}

references = st.builds(
    lambda t, i, tail: f"{t}/{i}{tail}",
    st.sampled_from([*KNOWN, "Foo", "observation", "Observation ", "Observationx"]),
    st.one_of(st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()), st.uuids().map(lambda u: str(u)[1:]),
              st.text(alphabet="0123456789abcdef-./_xh", min_size=0, max_size=40)),
    st.sampled_from(["", "", "\n", "/", "/_history/1", "x"]),
)


def _definition(pseudo: Pseudonymizer, ref: str) -> str | None:
    """Type/id references as the regex defines them: known type, then the UUID or hashed id (no Patient here)."""
    m = RELATIVE_RE.match(ref)
    if not m or m.group(1) not in KNOWN:
        return None
    rtype, rid = m.group(1), m.group(2)
    mapped = pseudo.uuid("H01", rid) if len(rid) == 36 and UUID_RE.match(rid) else pseudo.resource_id("H01", rtype, rid)
    return f"{rtype}/{mapped}"


@settings(max_examples=100, deadline=None)
@given(st.lists(references, min_size=1, max_size=6))
def test_relative_references_map_as_the_regex_defines(refs):
    pseudo = Pseudonymizer(b"r" * 32)
    engine = _Engine(pseudo, "H01", FhirOptions())
    for ref in refs * 2:  # the second time, the known-type memo is warm
        try:
            got = engine.reference(ref, {})
        except _Stop:
            got = None
        assert got == _definition(pseudo, ref)  # None: quarantined (unknown type, or not a reference at all)


def test_relative_reference_examples():
    pseudo = Pseudonymizer(b"r" * 32)
    engine = _Engine(pseudo, "H01", FhirOptions())
    u = "0ce18c7d-fd78-46d9-81b5-8bed231c337a"
    for ref in (f"Observation/{u}", f"Observation/{u.upper()}", f"Observation/{u}\n", f"Observation/{u}/_history/2"):
        assert engine.reference(ref, {}) == f"Observation/{pseudo.uuid('H01', u)}"
    assert engine.reference("Observation/abc", {}) == f"Observation/{pseudo.resource_id('H01', 'Observation', 'abc')}"
