"""Pseudonyms: keyed, deterministic, valid, self-recognising; date shifts in range and shared."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets.deid import Pseudonymizer, SecretError

SECRET = b"pseudonym-test-secret-0123456789ab"
# PS3.5 9.1: components of digits without leading zeros, at most 64 characters
UID_GRAMMAR = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@pytest.mark.parametrize("bad", [b"", b"short", "a string secret of enough length", None])
def test_secret_must_be_long_bytes(bad):
    with pytest.raises(SecretError):
        Pseudonymizer(bad)


def test_uid_shape_and_determinism():
    p = Pseudonymizer(SECRET)
    u = p.uid("1.2.840.113619.2.55.3.604688119.968.1.1")
    assert u.startswith("2.25.") and len(u) <= 64 and UID_GRAMMAR.match(u)
    assert int(u[5:]) < 2**128  # ISO/IEC 9834-8: the 2.25 arc takes a 128-bit integer
    assert Pseudonymizer(bytes(SECRET)).uid("1.2.840.113619.2.55.3.604688119.968.1.1") == u
    assert Pseudonymizer(SECRET + b"x").uid("1.2.840.113619.2.55.3.604688119.968.1.1") != u
    assert p.uid(u) == u and p.is_pseudonym_uid(u)
    assert not Pseudonymizer(SECRET + b"x").is_pseudonym_uid(u)
    assert p.uid("1.2.3\x00") == p.uid("1.2.3 ") == p.uid("1.2.3")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.from_regex(r"[1-9][0-9]{0,5}(\.[1-9][0-9]{0,8}){1,8}", fullmatch=True), min_size=2, max_size=30,
                unique=True))
def test_uid_mapping_valid_and_injective(uids):
    p = Pseudonymizer(SECRET)
    out = [p.uid(u) for u in uids]
    assert len(set(out)) == len(uids)
    for o in out:
        assert len(o) <= 64 and UID_GRAMMAR.match(o) and p.uid(o) == o


def test_random_foreign_2_25_uids_are_not_taken_for_ours():
    p = Pseudonymizer(SECRET)
    foreign = [f"2.25.{uuid.UUID(int=i * 7919 + 13).int}" for i in range(1, 2000)]
    assert sum(p.is_pseudonym_uid(u) for u in foreign) == 0  # 2**-32 chance each


def test_patient_pseudonym_scoped_by_site_and_stable():
    p = Pseudonymizer(SECRET)
    a = p.patient_id("H01", "MRN1")
    assert a == Pseudonymizer(SECRET).patient_id("H01", "MRN1")
    assert a != p.patient_id("H02", "MRN1") and a != p.patient_id("H01", "MRN2")
    assert FHIR_ID.match(a) and len(a) == 24
    assert p.patient_id("H07", a) == a  # already a pseudonym: kept
    assert p.is_patient_id(a) and not p.is_resource_id(a)


def test_date_shift_range_and_spread():
    p = Pseudonymizer(SECRET)
    shifts = [p.date_shift_days(p.patient_id("H01", f"MRN{i}")) for i in range(3000)]
    assert min(shifts) >= -365 and max(shifts) <= -1
    assert len(set(shifts)) > 300  # all 365 values are reachable; 3000 draws hit most of them
    assert shifts == [Pseudonymizer(SECRET).date_shift_days(Pseudonymizer(SECRET).patient_id("H01", f"MRN{i}"))
                      for i in range(3000)]


def test_fhir_tokens():
    p = Pseudonymizer(SECRET)
    rid = p.resource_id("H01", "Observation", "obs-1")
    assert FHIR_ID.match(rid) and p.resource_id("H01", "Observation", rid) == rid
    assert rid != p.resource_id("H01", "Condition", "obs-1")
    v = p.identifier_value("H01", "urn:oid:1.2", "999-35-5722")
    assert v != p.identifier_value("H01", "urn:oid:1.3", "999-35-5722")
    u = p.uuid("H01", "0CE18C7D-FD78-46D9-81B5-8BED231C337A")
    assert u == p.uuid("H01", "0ce18c7d-fd78-46d9-81b5-8bed231c337a")
    parsed = uuid.UUID(u)
    assert parsed.version == 8 and parsed.variant == uuid.RFC_4122
    assert p.uuid("H01", u) == u and p.is_pseudonym_uuid(u)
    assert not p.is_pseudonym_uuid(str(uuid.UUID(int=12345, version=4)))


# Reference derivations written here from the module's documented formulas with the standard library's one-shot
# HMAC and keyed BLAKE2b: the precomputed key schedules of the implementation must give the same bytes.
def _ref_mac(secret: bytes, domain: str, *parts: str) -> bytes:
    import hmac

    return hmac.digest(secret, "\x00".join((domain, *parts)).encode("utf-8", "surrogatepass"), "sha256")


def _ref_tag(secret: bytes, domain: str, body: bytes, size: int) -> bytes:
    import hashlib
    import hmac

    tag_key = hmac.digest(secret, b"clinval pseudonym tag key", "sha256")
    return hashlib.blake2b(body, key=tag_key, person=domain.encode()[:16], digest_size=size).digest()


def _ref_uuid(secret: bytes, site: str, value: str) -> str:
    body = bytearray(_ref_mac(secret, "uuid", site, value.lower())[:12])
    body[6] = 0x80 | (body[6] & 0x0F)
    body[8] = 0x80 | (body[8] & 0x3F)
    h = (bytes(body) + _ref_tag(secret, "uuid", bytes(body), 4)).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@settings(max_examples=60, deadline=None)
@given(secret=st.binary(min_size=16, max_size=150), site=st.text(max_size=8), value=st.text(max_size=40))
def test_mac_and_tags_equal_one_shot_hmac_and_blake2b(secret, site, value):
    import base64

    p = Pseudonymizer(secret)
    uid_body = _ref_mac(secret, "uid", "1.2.3")[:12]
    assert p.uid("1.2.3") == "2.25." + str(int.from_bytes(uid_body + _ref_tag(secret, "uid", uid_body, 4), "big"))
    body = _ref_mac(secret, "patient", site, value.strip("\x00 "))[:12]
    expected = base64.b32encode(body + _ref_tag(secret, "patient", body, 3)).decode().lower()
    if not p.is_patient_id(value.strip("\x00 ")):
        assert p.patient_id(site, value) == expected
    n = int.from_bytes(_ref_mac(secret, "shift", expected)[:8], "big")
    assert p.date_shift_days(expected) == -(1 + n % 365)
    if not p.is_pseudonym_uuid(value.lower()):
        assert p.uuid(site, value) == _ref_uuid(secret, site, value)


def test_deid_errors_are_datasets_errors():
    from datasets.deid import DeidError, FhirOptions, OptionsError, ProfileError
    from datasets.exceptions import DatasetsError

    for cls in (DeidError, SecretError, ProfileError, OptionsError):
        assert issubclass(cls, DatasetsError)
    with pytest.raises(DatasetsError):  # a caller catching the package family catches a bad secret ...
        Pseudonymizer(b"short")
    with pytest.raises(DatasetsError):  # ... and a bad option
        FhirOptions(validate="sometimes")
    with pytest.raises(ValueError):  # still a ValueError, as before
        Pseudonymizer(b"short")
