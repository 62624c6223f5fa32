"""Signed checkpoints of the audit log: Ed25519 keys, C2SP signed notes and tlog-checkpoint bodies.

A checkpoint is a C2SP signed note (https://c2sp.org/signed-note) whose text is a C2SP tlog-checkpoint body
(https://c2sp.org/tlog-checkpoint) with one extension line carrying the UTC time::

    <origin>
    <tree size>
    <base64 root hash>
    time <YYYY-MM-DDTHH:MM:SS.ffffffZ>

    — <key name> <base64(4-byte key ID || 64-byte Ed25519 signature)>

The key ID is ``SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]``; the signature covers the note text
(the four body lines, each ending in a newline). The public key is published as a note verifier string
``<name>+<hex key ID>+<base64(0x01 || public key)>``. The exact format is in docs/audit-formats.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from validation.audit.errors import (
    CheckpointFormatError,
    CheckpointSignatureError,
    KeyFileError,
    KeyFormatError,
    UnknownKeyError,
)

#: Signature type byte of Ed25519 in C2SP signed-note.
ED25519_TYPE = b"\x01"
#: File names inside the keys directory.
PRIVATE_KEY_FILE = "audit-signing-key.pem"
PUBLIC_KEY_FILE = "audit-public-key.txt"
PUBLIC_KEY_PEM_FILE = "audit-public-key.pem"

_SIG_PREFIX = "\u2014 "  # em dash, space
_MAX_NOTE_BYTES = 1 << 20
_MAX_SIGNATURES = 100
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def _check_key_name(name: str) -> str:
    if not isinstance(name, str) or not name or any(ch.isspace() or ch == "+" for ch in name):
        raise KeyFormatError(
            f"key name {name!r} is not a valid signed-note key name: it must be non-empty and contain neither "
            "whitespace nor '+'. Use a schema-less URL such as 'pilot.example.org/clinval-audit'."
        )
    return name


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """Return the 4-byte signed-note key ID ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519_TYPE + raw).digest()[:4]


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifierKey:
    """A trusted Ed25519 public key and, when known, its signed-note key name.

    Attributes
    ----------
    public_key : Ed25519PublicKey
    name : str or None
        Key name. ``None`` when the key was loaded from PEM, in which case a signature line is matched by
        recomputing the key ID from the line's own name.
    """

    public_key: Ed25519PublicKey
    name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.public_key, Ed25519PublicKey):
            raise KeyFormatError(f"public_key must be an Ed25519PublicKey, got {type(self.public_key).__name__}")
        if self.name is not None:
            _check_key_name(self.name)

    def key_id_for(self, name: str) -> bytes:
        """Key ID this key would have under `name`."""
        return key_id(name, self.public_key)

    def to_text(self) -> str:
        """Return the note verifier string ``<name>+<hex key ID>+<base64(0x01 || public key)>``."""
        if self.name is None:
            raise KeyFormatError("this key was loaded without a name; a verifier string needs one")
        raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return f"{self.name}+{key_id(self.name, self.public_key).hex()}+{base64.b64encode(ED25519_TYPE + raw).decode()}"

    def to_pem(self) -> bytes:
        """Return the public key as SubjectPublicKeyInfo PEM."""
        return self.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningKey:
    """The platform's Ed25519 signing key and the signed-note key name it signs under."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if not isinstance(self.private_key, Ed25519PrivateKey):
            raise KeyFormatError(f"private_key must be an Ed25519PrivateKey, got {type(self.private_key).__name__}")

    @property
    def verifier(self) -> VerifierKey:
        """The matching public :class:`VerifierKey`."""
        return VerifierKey(public_key=self.private_key.public_key(), name=self.name)

    @property
    def key_id(self) -> bytes:
        """4-byte signed-note key ID."""
        return key_id(self.name, self.private_key.public_key())


def generate_signing_key(*, name: str) -> SigningKey:
    """Generate a fresh Ed25519 signing key named `name` (in memory; see :func:`write_signing_key`)."""
    return SigningKey(name=_check_key_name(name), private_key=Ed25519PrivateKey.generate())


def write_signing_key(key: SigningKey, directory: str | os.PathLike[str]) -> Path:
    """Write `key` to `directory`: private key PEM (mode 0600), verifier string and public PEM (0644).

    Parameters
    ----------
    key : SigningKey
    directory : path
        Created with mode 0700 if absent (normally ``$CLINVAL_HOME/keys``).

    Returns
    -------
    Path
        Path of the private key file.

    Raises
    ------
    KeyFileError
        If a private key already exists there (never overwritten: the log's history is signed with it).
    """
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_path = directory / PRIVATE_KEY_FILE
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(
            f"{private_path} already exists; refusing to overwrite the audit signing key. "
            "Load it with load_signing_key() or move it away deliberately."
        ) from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.chmod(private_path, 0o600)
    (directory / PUBLIC_KEY_FILE).write_text(key.verifier.to_text() + "\n", encoding="utf-8")
    (directory / PUBLIC_KEY_PEM_FILE).write_bytes(key.verifier.to_pem())
    return private_path


def load_signing_key(directory: str | os.PathLike[str]) -> SigningKey:
    """Load the signing key written by :func:`write_signing_key`.

    Raises
    ------
    KeyFileError
        If a file is missing, or the private key file is readable by group or others.
    KeyFormatError
        If the files are not an Ed25519 key pair that match each other.
    """
    directory = Path(directory)
    private_path, public_path = directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE
    for path in (private_path, public_path):
        if not path.is_file():
            raise KeyFileError(f"{path} not found; create the key pair with write_signing_key() (clinval init)")
    mode = stat.S_IMODE(private_path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(f"{private_path} has mode {mode:04o}; it must not be readable by others. "
                           f"Run: chmod 600 {private_path}")
    try:
        private_key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"{private_path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(private_key, Ed25519PrivateKey):
        raise KeyFormatError(f"{private_path} holds a {type(private_key).__name__}, not an Ed25519 key")
    verifier = parse_public_key(public_path.read_text(encoding="utf-8"))
    if verifier.name is None:
        raise KeyFormatError(f"{public_path} must hold the note verifier string (name+keyid+key), not PEM")
    key = SigningKey(name=verifier.name, private_key=private_key)
    if key.verifier.to_text() != verifier.to_text():
        raise KeyFormatError(f"{public_path} does not match {private_path}; restore the matching pair")
    return key


def parse_public_key(text: str) -> VerifierKey:
    """Parse a public key given as a note verifier string or as Ed25519 SubjectPublicKeyInfo PEM.

    Raises
    ------
    KeyFormatError
        If `text` is neither, or the verifier string's key ID does not match its key.
    """
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise KeyFormatError(f"public key PEM could not be read: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFormatError(f"public key PEM holds a {type(key).__name__}, not an Ed25519 key")
        return VerifierKey(public_key=key)
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise KeyFormatError("public key must be a note verifier string '<name>+<8 hex>+<base64>' or PEM")
    name, hex_id, b64 = parts
    _check_key_name(name)
    try:
        raw = base64.b64decode(b64, validate=True)
        wanted_id = bytes.fromhex(hex_id)
    except (binascii.Error, ValueError):
        raise KeyFormatError("public key verifier string has a malformed key ID or base64 key") from None
    if len(wanted_id) != 4 or len(raw) != 33 or raw[:1] != ED25519_TYPE:
        raise KeyFormatError("public key verifier string is not an Ed25519 (type 0x01, 32-byte) key")
    verifier = VerifierKey(public_key=Ed25519PublicKey.from_public_bytes(raw[1:]), name=name)
    if verifier.key_id_for(name) != wanted_id:
        raise KeyFormatError(f"public key verifier string: key ID {hex_id} does not match the key; it was altered")
    return verifier


# --- signed notes -------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class NoteSignature:
    """One signature line of a signed note."""

    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedNote:
    """A signed note split into its text (ending in a newline) and its signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...]


def sign_note(text: str, key: SigningKey) -> str:
    """Sign `text` as a C2SP signed note with `key`.

    Parameters
    ----------
    text : str
        Note text: non-empty lines each ending in a newline, no other control characters.

    Returns
    -------
    str
        ``text + "\\n" + "— <name> <base64(key ID || signature)>\\n"``.
    """
    _check_note_text(text)
    sig = key.private_key.sign(text.encode("utf-8"))
    return f"{text}\n{_SIG_PREFIX}{key.name} {base64.b64encode(key.key_id + sig).decode()}\n"


def _check_note_text(text: str) -> None:
    if not text.endswith("\n"):
        raise CheckpointFormatError("note text must end with a newline")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise CheckpointFormatError("note text must not contain control characters other than newline")


def parse_note(note: str) -> SignedNote:
    """Split a signed note into text and signatures, without verifying anything.

    Raises
    ------
    CheckpointFormatError
        If the note is too large, has control characters, or has no well-formed signature block.
    """
    if not isinstance(note, str):
        raise CheckpointFormatError(f"signed note must be str, got {type(note).__name__}")
    if len(note.encode("utf-8", "surrogatepass")) > _MAX_NOTE_BYTES:
        raise CheckpointFormatError(f"signed note is larger than {_MAX_NOTE_BYTES} bytes")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise CheckpointFormatError("signed note contains control characters (only newline is allowed); "
                                    "was it saved with Windows line endings?")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise CheckpointFormatError("signed note has no blank line separating the text from the signatures")
    text, block = note[: split + 1], note[split + 2:]
    lines = block[:-1].split("\n")
    if not lines or len(lines) > _MAX_SIGNATURES:
        raise CheckpointFormatError(f"signed note must carry 1..{_MAX_SIGNATURES} signature lines")
    sigs = []
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointFormatError("signature line does not start with an em dash and a space")
        parts = line[len(_SIG_PREFIX):].split(" ")
        if len(parts) != 2:
            raise CheckpointFormatError("signature line must be '— <key name> <base64 signature>'")
        name, b64 = parts
        try:
            _check_key_name(name)
            blob = base64.b64decode(b64, validate=True)
        except (KeyFormatError, binascii.Error):
            raise CheckpointFormatError("signature line has a malformed key name or base64 signature") from None
        if len(blob) < 5:
            raise CheckpointFormatError("signature is shorter than a key ID plus one byte")
        sigs.append(NoteSignature(name=name, key_id=blob[:4], signature=blob[4:]))
    return SignedNote(text=text, signatures=tuple(sigs))


def open_note(note: str, public_key: VerifierKey | Ed25519PublicKey | str) -> str:
    """Verify a signed note against a trusted key and return its text.

    Following C2SP signed-note, signatures by other keys are ignored; a signature whose key name and ID match the
    trusted key must verify.

    Raises
    ------
    CheckpointFormatError
        If the note is malformed.
    CheckpointSignatureError
        If the trusted key's signature does not verify (the text or the signature was altered).
    UnknownKeyError
        If no signature line belongs to the trusted key (signed by another key).
    """
    verifier = _as_verifier(public_key)
    parsed = parse_note(note)
    data = parsed.text.encode("utf-8")
    matched = False
    for sig in parsed.signatures:
        if verifier.name is not None and sig.name != verifier.name:
            continue
        if sig.key_id != verifier.key_id_for(sig.name):
            continue
        matched = True
        try:
            verifier.public_key.verify(sig.signature, data)
        except InvalidSignature:
            raise CheckpointSignatureError(
                f"signature by key {sig.name} ({sig.key_id.hex()}) does not verify: the note text or the "
                "signature was altered after signing"
            ) from None
    if not matched:
        which = verifier.to_text() if verifier.name else "the given public key"
        names = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in parsed.signatures)
        raise UnknownKeyError(f"note is not signed by {which}; it carries signatures by: {names}")
    return parsed.text


def _as_verifier(public_key: VerifierKey | Ed25519PublicKey | str) -> VerifierKey:
    if isinstance(public_key, VerifierKey):
        return public_key
    if isinstance(public_key, Ed25519PublicKey):
        return VerifierKey(public_key=public_key)
    if isinstance(public_key, str):
        return parse_public_key(public_key)
    raise KeyFormatError(f"public key must be a VerifierKey, Ed25519PublicKey or str, got {type(public_key).__name__}")


# --- checkpoints --------------------------------------------------------------------------------------------------

def format_time(time: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC."""
    if time.tzinfo is None or time.utcoffset() is None:
        raise CheckpointFormatError("checkpoint time must be timezone-aware (UTC)")
    return time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str) -> datetime:
    if not _TIME_RE.match(text):
        raise CheckpointFormatError(f"checkpoint time {text!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        raise CheckpointFormatError(f"checkpoint time {text!r} is not a valid date and time") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """A checkpoint body: the log's origin, tree size, root hash and the UTC time it was signed.

    Attributes
    ----------
    origin : str
    tree_size : int
    root_hash : bytes
        32-byte RFC 9162 tree head.
    time : datetime
        Aware datetime in UTC (microsecond precision).
    """

    origin: str
    tree_size: int
    root_hash: bytes
    time: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin or any(ch.isspace() or ch == "+" for ch in self.origin):
            raise CheckpointFormatError(f"origin {self.origin!r} must be non-empty without whitespace or '+'")
        if not isinstance(self.tree_size, int) or isinstance(self.tree_size, bool) or self.tree_size < 0:
            raise CheckpointFormatError(f"tree size must be an int >= 0, got {self.tree_size!r}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != 32:
            raise CheckpointFormatError("root hash must be 32 bytes")
        if not isinstance(self.time, datetime):
            raise CheckpointFormatError(f"time must be a datetime, got {type(self.time).__name__}")
        object.__setattr__(self, "time", _parse_time(format_time(self.time)))

    @property
    def body(self) -> str:
        """The note text that is signed."""
        return (f"{self.origin}\n{self.tree_size}\n{base64.b64encode(self.root_hash).decode()}\n"
                f"time {format_time(self.time)}\n")


def sign_checkpoint(*, origin: str, tree_size: int, root_hash: bytes, time: datetime, key: SigningKey) -> str:
    """Build and sign a checkpoint.

    Parameters
    ----------
    origin : str
        Log identity, e.g. ``"pilot.example.org/clinval-audit"``; should equal the key name.
    tree_size : int
        Number of events covered.
    root_hash : bytes
        32-byte tree head of the first `tree_size` events.
    time : datetime
        Aware datetime, written in UTC with microseconds.
    key : SigningKey

    Returns
    -------
    str
        The signed checkpoint text.
    """
    cp = Checkpoint(origin=origin, tree_size=tree_size, root_hash=root_hash, time=time)
    return sign_note(cp.body, key)


def parse_checkpoint_body(text: str) -> Checkpoint:
    """Parse the note text of a checkpoint (four lines) into a :class:`Checkpoint`.

    Raises
    ------
    CheckpointFormatError
        Naming the line that is malformed.
    """
    if not text.endswith("\n"):
        raise CheckpointFormatError("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) != 4:
        raise CheckpointFormatError(
            f"checkpoint text has {len(lines)} lines; expected 4 (origin, tree size, root hash, 'time <UTC>')"
        )
    origin, size_line, root_line, time_line = lines
    if not re.fullmatch(r"0|[1-9][0-9]{0,19}", size_line):
        raise CheckpointFormatError(f"checkpoint tree size line {size_line!r} is not a decimal without leading zeros")
    try:
        root = base64.b64decode(root_line, validate=True)
    except binascii.Error:
        raise CheckpointFormatError("checkpoint root hash line is not base64") from None
    if len(root) != 32 or base64.b64encode(root).decode() != root_line:
        raise CheckpointFormatError("checkpoint root hash line is not the base64 of 32 bytes")
    if not time_line.startswith("time "):
        raise CheckpointFormatError("checkpoint fourth line must be 'time <YYYY-MM-DDTHH:MM:SS.ffffffZ>'")
    return Checkpoint(origin=origin, tree_size=int(size_line), root_hash=root, time=_parse_time(time_line[5:]))


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a signed checkpoint **without** checking its signature (use :func:`verify_checkpoint` to trust it)."""
    return parse_checkpoint_body(parse_note(text).text)


def verify_checkpoint(text: str, public_key: VerifierKey | Ed25519PublicKey | str) -> Checkpoint:
    """Verify a signed checkpoint against a trusted public key and return its contents.

    Parameters
    ----------
    text : str
        The signed checkpoint.
    public_key : VerifierKey, Ed25519PublicKey or str
        Trusted key: a :class:`VerifierKey`, a raw key object, a note verifier string or PEM text.

    Raises
    ------
    CheckpointFormatError, CheckpointSignatureError, UnknownKeyError
        See :func:`open_note` and :func:`parse_checkpoint_body`.
    """
    return parse_checkpoint_body(open_note(text, public_key))
