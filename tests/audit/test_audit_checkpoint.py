"""Signed notes and checkpoints: a published signed-note vector, round trips, tampering, key files."""

from __future__ import annotations

import base64
import os
import stat
from datetime import UTC, datetime, timedelta, timezone

import pytest
from audit_helpers import ORIGIN, key_from_seed
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from validation.audit import verify_bundle as standalone
from validation.audit.checkpoint import (
    Checkpoint,
    SigningKey,
    generate_signing_key,
    load_signing_key,
    open_note,
    parse_checkpoint,
    parse_public_key,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
    write_signing_key,
)
from validation.audit.errors import (
    CheckpointFormatError,
    CheckpointSignatureError,
    KeyFileError,
    KeyFormatError,
    UnknownKeyError,
)

# Reference vector of the signed-note format, from golang.org/x/mod/sumdb/note (note_test.go), reused unchanged by
# the C2SP signed-note implementations: the "PeterNeumann" key pair, a note text and its published signature.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY_B64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"  # from PRIVATE+KEY+PeterNeumann+c74f20a3+<this>
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"


def go_key() -> SigningKey:
    seed = base64.b64decode(GO_SKEY_B64)[1:]
    return SigningKey(name="PeterNeumann", private_key=Ed25519PrivateKey.from_private_bytes(seed))


def test_go_reference_note_reproduced_byte_for_byte():
    key = go_key()
    assert key.verifier.to_text() == GO_VKEY
    assert sign_note(GO_TEXT, key) == GO_NOTE  # Ed25519 is deterministic (RFC 8032)
    assert open_note(GO_NOTE, GO_VKEY) == GO_TEXT
    name, pub = standalone.parse_public_key(GO_VKEY)
    assert standalone._open_note(GO_NOTE, name, pub) == GO_TEXT


def test_go_reference_note_tampering_detected():
    with pytest.raises(CheckpointSignatureError):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), GO_VKEY)
    name, pub = standalone.parse_public_key(GO_VKEY)
    with pytest.raises(ValueError, match="does not verify"):
        standalone._open_note(GO_NOTE.replace("problem,", "problem;"), name, pub)


def test_mangled_verifier_strings_refused():
    for i in range(len(GO_VKEY)):
        mangled = GO_VKEY[:i] + chr(ord(GO_VKEY[i]) + 1) + GO_VKEY[i + 1:]
        with pytest.raises(KeyFormatError):
            parse_public_key(mangled)
        with pytest.raises(ValueError):
            standalone.parse_public_key(mangled)
    with pytest.raises(KeyFormatError):
        parse_public_key(GO_VKEY[:-4])


def make_checkpoint(key, size=12, root=b"\x07" * 32, time=None) -> str:
    time = time or datetime(2026, 11, 26, 23, 59, 1, 123456, tzinfo=UTC)
    return sign_checkpoint(origin=ORIGIN, tree_size=size, root_hash=root, time=time, key=key)


def test_checkpoint_text_format_is_exact(key):
    text = make_checkpoint(key)
    body, sig = text.split("\n\n")
    root_b64 = base64.b64encode(b"\x07" * 32).decode()
    assert body + "\n" == (f"{ORIGIN}\n12\n{root_b64}\n"
                           "time 2026-11-26T23:59:01.123456Z\n")
    assert sig.startswith(f"\u2014 {ORIGIN} ") and sig.endswith("\n")
    blob = base64.b64decode(sig.split(" ")[2])
    assert blob[:4] == key.key_id and len(blob) == 68
    # any Ed25519 library: verify the 64-byte signature over the body bytes
    key.private_key.public_key().verify(blob[4:], (body + "\n").encode())


def test_checkpoint_round_trip_and_time_normalised_to_utc(key):
    plus8 = timezone(timedelta(hours=8))
    text = make_checkpoint(key, time=datetime(2026, 11, 27, 7, 59, 1, 123456, tzinfo=plus8))
    cp = verify_checkpoint(text, key.verifier.to_text())
    assert cp == Checkpoint(origin=ORIGIN, tree_size=12, root_hash=b"\x07" * 32,
                            time=datetime(2026, 11, 26, 23, 59, 1, 123456, tzinfo=UTC))
    assert parse_checkpoint(text) == cp
    assert verify_checkpoint(text, key.verifier.to_pem().decode()) == cp  # PEM works too
    assert verify_checkpoint(text, key.private_key.public_key()) == cp


def test_checkpoint_signed_by_another_key_is_unknown(key, attacker_key):
    forged = make_checkpoint(attacker_key)
    with pytest.raises(UnknownKeyError, match="not signed by"):
        verify_checkpoint(forged, key.verifier)
    # an unrelated extra signature is ignored, as signed-note requires
    text = make_checkpoint(key)
    body = text.split("\n\n")[0] + "\n"
    cosigned = text + sign_note(body, key_from_seed("witness", "witness.example")).split("\n\n")[1]
    assert cosigned.count("\u2014 ") == 2
    assert verify_checkpoint(cosigned, key.verifier).tree_size == 12


def test_checkpoint_tampering_detected(key):
    text = make_checkpoint(key)
    with pytest.raises(CheckpointSignatureError):
        verify_checkpoint(text.replace("\n12\n", "\n13\n"), key.verifier)
    sig_line = text.split("\n\n")[1].rstrip("\n")
    blob = base64.b64decode(sig_line.split(" ")[2])
    replaced = text.replace(sig_line.split(" ")[2], base64.b64encode(blob[:4] + bytes(64)).decode())
    with pytest.raises(CheckpointSignatureError, match="does not verify"):
        verify_checkpoint(replaced, key.verifier)


@pytest.mark.parametrize("bad_body", [
    "origin\n012\nAAAA\ntime x\n",
    "origin\n12\nnotbase64!\ntime 2026-11-26T23:59:01.123456Z\n",
    "origin\n12\n" + base64.b64encode(b"\x07" * 31).decode() + "\ntime 2026-11-26T23:59:01.123456Z\n",
    "origin\n12\n" + base64.b64encode(b"\x07" * 32).decode() + "\ntime 2026-11-26 23:59:01Z\n",
    "origin\n12\n" + base64.b64encode(b"\x07" * 32).decode() + "\n",
])
def test_malformed_checkpoint_bodies_refused(key, bad_body):
    with pytest.raises(CheckpointFormatError):
        verify_checkpoint(sign_note(bad_body, key), key.verifier)


def test_note_with_windows_line_endings_refused(key):
    with pytest.raises(CheckpointFormatError, match="control"):
        parse_checkpoint(make_checkpoint(key).replace("\n", "\r\n"))


def test_key_files_written_private_and_reloaded(tmp_path):
    key = generate_signing_key(name=ORIGIN)
    keys = tmp_path / "keys"
    private = write_signing_key(key, keys)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    loaded = load_signing_key(keys)
    assert loaded.verifier.to_text() == key.verifier.to_text()
    assert (keys / "audit-public-key.txt").read_text().strip() == key.verifier.to_text()
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        write_signing_key(generate_signing_key(name=ORIGIN), keys)
    os.chmod(private, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_signing_key(keys)


@pytest.mark.parametrize("name", ["", "has space", "a+b"])
def test_bad_key_names_refused(name):
    with pytest.raises(KeyFormatError):
        generate_signing_key(name=name)
