"""Who is calling: principals, password hashing (scrypt) and API tokens (random, stored as SHA-256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import Enum

from validation.exceptions import InvalidInput

__all__ = [
    "Role",
    "OrgKind",
    "Principal",
    "SYSTEM",
    "hash_password",
    "verify_password",
    "new_token",
    "token_digest",
    "TOKEN_PREFIX",
]

TOKEN_PREFIX = "cvt_"
# scrypt parameters: N=2**14, r=8, p=1 (RFC 7914's interactive-login recommendation), 64-byte key, 16-byte salt.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _DKLEN = 2**14, 8, 1, 64
MIN_PASSWORD_LENGTH = 10


class Role(str, Enum):
    """The four roles of ARCHITECTURE.md."""

    ADMIN = "admin"
    VENDOR = "vendor"
    REVIEWER = "reviewer"
    REGULATOR = "regulator"


class OrgKind(str, Enum):
    """Kinds of organisation, and the role their users may hold."""

    VENDOR = "vendor"
    HOSPITAL = "hospital"
    REGULATOR = "regulator"
    PILOT_BASE = "pilot-base"

    @property
    def role(self) -> Role:
        """The role users of this kind of organisation have."""
        return {
            OrgKind.VENDOR: Role.VENDOR,
            OrgKind.HOSPITAL: Role.REVIEWER,
            OrgKind.REGULATOR: Role.REGULATOR,
            OrgKind.PILOT_BASE: Role.ADMIN,
        }[self]


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """An authenticated caller. Every service function takes one and asks the policy about it.

    Attributes
    ----------
    user_id : str
        Stable id (``u<N>`` for users, ``system`` for the platform itself).
    username, printed_name : str
        Login name and the name printed on e-signatures.
    role : Role
    org : str
        Organisation code (``H01`` for a hospital, the vendor's code, ``regulator``, ``pilot-base``).
    org_kind : OrgKind
    """

    user_id: str
    username: str
    printed_name: str
    role: Role
    org: str
    org_kind: OrgKind

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role(self.role))
        object.__setattr__(self, "org_kind", OrgKind(self.org_kind))


SYSTEM = Principal(
    user_id="system",
    username="system",
    printed_name="clinval platform",
    role=Role.ADMIN,
    org="pilot-base",
    org_kind=OrgKind.PILOT_BASE,
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """Hash a password with scrypt and a per-user random salt.

    Returns
    -------
    str
        ``scrypt$N$r$p$<salt b64>$<key b64>``.

    Raises
    ------
    InvalidInput
        The password is shorter than 10 characters.
    """
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password too short: at least {MIN_PASSWORD_LENGTH} characters are required",
            hint="choose a longer passphrase",
        )
    salt = secrets.token_bytes(16) if salt is None else salt
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=_DKLEN)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches the stored scrypt hash (constant-time comparison)."""
    if not stored or not isinstance(password, str):
        return False
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        got = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def new_token() -> str:
    """A fresh API token: 256 random bits, URL-safe, with a recognisable prefix."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """SHA-256 of a token, the only form in which tokens are stored."""
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()
