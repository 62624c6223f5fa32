"""Password hashing and tokens."""

from __future__ import annotations

import hashlib

import pytest

from validation.exceptions import InvalidInput
from validation.identity import TOKEN_PREFIX, hash_password, new_token, token_digest, verify_password


def test_scrypt_hash_verifies_and_matches_hashlib_directly():
    stored = hash_password("correct horse battery", salt=b"0123456789abcdef")
    scheme, n, r, p, salt, key = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    import base64

    expected = hashlib.scrypt(b"correct horse battery", salt=b"0123456789abcdef", n=16384, r=8, p=1, dklen=64)
    assert base64.b64decode(key) == expected
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterx", stored)


def test_salts_differ_per_user():
    assert hash_password("same password here") != hash_password("same password here")


@pytest.mark.parametrize("stored", [None, "", "md5$abc", "scrypt$x$y$z$w$v", "scrypt$16384$8$1$!!$!!"])
def test_malformed_hashes_never_verify(stored):
    assert not verify_password("anything at all", stored)


def test_short_passwords_are_refused():
    with pytest.raises(InvalidInput, match="at least 10"):
        hash_password("short")


def test_tokens_are_random_and_stored_as_sha256():
    a, b = new_token(), new_token()
    assert a != b and a.startswith(TOKEN_PREFIX) and len(a) > 40
    assert token_digest(a) == hashlib.sha256(a.encode()).hexdigest()
