"""Keyed pseudonyms (HMAC-SHA256) that are stable across files, batches, machines and modalities.

Every pseudonym is *self-authenticating*: it carries a short tag computed with
the same secret, so :class:`Pseudonymizer` recognises its own output and maps
it to itself. That makes de-identification idempotent (running it twice gives
the same bytes) while a foreign value passes the check only with probability
2**-24 (ids) or 2**-32 (UIDs).

Derivations (``H(x) = HMAC-SHA256(secret, domain || 0x00 || x)``):

* UID -> ``2.25.<int>`` where the 128-bit integer is 96 bits of ``H(uid)`` and a
  32-bit tag; at most 44 characters, valid per PS3.5 9.1 and ISO/IEC 9834-8.
  UIDs are not scoped by site so references between sites stay resolvable.
* the tag is a keyed BLAKE2b of the body under a key derived from the secret
  (a MAC like HMAC, at half the cost); UUID pseudonyms are RFC 9562 version 8.
* (site, MRN) -> patient pseudonym, 24 lower-case base32 characters (valid as a
  DICOM LO value and as a FHIR ``id``).
* patient pseudonym -> date shift, a whole number of days in ``[-365, -1]``.
  DICOM and FHIR share it because both derive it from (site, MRN).
* (site, resource type, id) -> FHIR resource id; (site, system, value) ->
  identifier value; (site, uuid) -> ``urn:uuid`` of the same shape.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from datasets.deid.errors import SecretError

__all__ = ["Pseudonymizer", "MIN_SECRET_BYTES"]

MIN_SECRET_BYTES = 16
_UID_ROOT = "2.25."
_B32_LEN = 24  # 15 bytes -> 24 base32 characters, no padding
_B32_LOWER = b"abcdefghijklmnopqrstuvwxyz234567"  # RFC 4648 base32 alphabet, lower case


def _b32_lower(raw: bytes) -> str:
    """``base64.b32encode(raw).decode("ascii").lower()`` for ``len(raw)`` a multiple of 5 (no padding).

    Five bytes at a time as one 40-bit number, eight 5-bit digits each (RFC 4648 section 6); the generic
    codec of :mod:`base64` is pure Python and several times slower on the 15-byte tokens made here.
    """
    out = bytearray(len(raw) // 5 * 8)
    j = 0
    for i in range(0, len(raw) - 4, 5):
        chunk = int.from_bytes(raw[i:i + 5], "big")
        for shift in range(35, -1, -5):
            out[j] = _B32_LOWER[(chunk >> shift) & 31]
            j += 1
    return out.decode("ascii")


class Pseudonymizer:
    """Derive pseudonyms and date shifts from a secret key.

    Parameters
    ----------
    secret : bytes
        At least 16 random bytes, kept in the platform home (``keys/``) and never
        in a corpus. The same secret gives the same pseudonyms on every machine.

    Raises
    ------
    SecretError
        If ``secret`` is not bytes or is shorter than 16 bytes.

    Examples
    --------
    >>> p = Pseudonymizer(b"0" * 32)
    >>> u = p.uid("1.2.840.113619.2.55.3")
    >>> u.startswith("2.25.") and len(u) <= 64 and p.uid(u) == u
    True
    >>> p.patient_id("H01", "MRN42") == p.patient_id("H01", "MRN42")
    True
    >>> -365 <= p.date_shift_days(p.patient_id("H01", "MRN42")) <= -1
    True
    """

    __slots__ = ("_key", "_tag_key", "_inner", "_outer", "_tag_states", "_uid_cache", "_token_cache", "_check_cache")

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, (bytes, bytearray)):
            raise SecretError(
                f"secret must be bytes, got {type(secret).__name__}; read the pseudonymisation "
                "secret from $CLINVAL_HOME/keys as bytes"
            )
        if len(secret) < MIN_SECRET_BYTES:
            raise SecretError(
                f"secret is {len(secret)} bytes; at least {MIN_SECRET_BYTES} random bytes are "
                "required (e.g. secrets.token_bytes(32))"
            )
        self._key = bytes(secret)
        self._tag_key = hmac.digest(self._key, b"clinval pseudonym tag key", "sha256")
        # HMAC (RFC 2104) with the key schedule done once: SHA-256 states after the padded key XOR ipad / opad.
        block = (hashlib.sha256(self._key).digest() if len(self._key) > 64 else self._key).ljust(64, b"\x00")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        self._tag_states: dict[tuple[str, int], object] = {}  # keyed BLAKE2b with its key block absorbed
        self._uid_cache: dict[str, str] = {}
        self._token_cache: dict[tuple[str, ...], str] = {}
        self._check_cache: dict[tuple[str, str], bool] = {}

    def _tag(self, domain: str, body: bytes, size: int) -> bytes:
        """Keyed BLAKE2b (a MAC, cheaper than a second HMAC) over the pseudonym body."""
        state = self._tag_states.get((domain, size))
        if state is None:
            state = self._tag_states[(domain, size)] = hashlib.blake2b(
                key=self._tag_key, person=domain.encode()[:16], digest_size=size
            )
        h = state.copy()
        h.update(body)
        return h.digest()

    def _mac(self, fields: tuple[str, ...]) -> bytes:
        """``HMAC-SHA256(secret, fields joined by 0x00)`` (the domain first), equal to :func:`hmac.digest`.

        One tuple rather than ``*parts``: the compiled build then calls it as a C method."""
        inner = self._inner.copy()
        inner.update("\x00".join(fields).encode("utf-8", "surrogatepass"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    # -- generic tagged tokens -------------------------------------------------
    def _token(self, fields: tuple[str, ...]) -> str:
        """The tagged token of ``(domain, *parts)``, memoised by that tuple."""
        hit = self._token_cache.get(fields)
        if hit is not None:
            return hit
        body = self._mac(fields)[:12]
        tag = self._tag(fields[0], body, 3)
        out = _b32_lower(body + tag)
        if len(self._token_cache) < 1_000_000:
            self._token_cache[fields] = out
        return out

    def _is_token(self, domain: str, value: str) -> bool:
        if len(value) != _B32_LEN:
            return False
        hit = self._check_cache.get((domain, value))
        if hit is None:
            hit = self._check_token(domain, value)
            if len(self._check_cache) < 1_000_000:
                self._check_cache[(domain, value)] = hit
        return hit

    def _check_token(self, domain: str, value: str) -> bool:
        try:
            raw = base64.b32decode(value.upper())
        except (ValueError, TypeError):
            return False
        body, tag = raw[:12], raw[12:]
        return hmac.compare_digest(self._tag(domain, body, 3), tag)

    # -- UIDs ------------------------------------------------------------------
    def uid(self, uid: str) -> str:
        """Map a DICOM UID to ``2.25.<int>``; a UID this key produced maps to itself.

        Parameters
        ----------
        uid : str
            The original UID (trailing NUL/space padding is ignored).

        Returns
        -------
        str
            A UID of at most 44 characters under the ``2.25`` root.
        """
        uid = uid.strip("\x00 ")
        cached = self._uid_cache.get(uid)
        if cached is not None:
            return cached
        if self.is_pseudonym_uid(uid):
            out = uid
        else:
            body = self._mac(("uid", uid))[:12]
            tag = self._tag("uid", body, 4)
            out = _UID_ROOT + str(int.from_bytes(body + tag, "big"))
        if len(self._uid_cache) < 1_000_000:
            self._uid_cache[uid] = out
        return out

    def is_pseudonym_uid(self, uid: str) -> bool:
        """Whether ``uid`` is a UID produced by :meth:`uid` with this secret."""
        if not uid.startswith(_UID_ROOT):
            return False
        digits = uid[len(_UID_ROOT):]
        if not digits.isdigit() or len(digits) > 39 or (len(digits) > 1 and digits[0] == "0"):
            return False
        n = int(digits)
        if n >= 1 << 128:
            return False
        raw = n.to_bytes(16, "big")
        return hmac.compare_digest(self._tag("uid", raw[:12], 4), raw[12:])

    # -- patients ----------------------------------------------------------------
    def patient_id(self, site: str, mrn: str) -> str:
        """Patient pseudonym from (site, MRN); a pseudonym maps to itself."""
        mrn = mrn.strip("\x00 ")
        if self._is_token("patient", mrn):
            return mrn
        return self._token(("patient", site, mrn))

    def is_patient_id(self, value: str) -> bool:
        """Whether ``value`` is a patient pseudonym produced with this secret."""
        return self._is_token("patient", value)

    def date_shift_days(self, patient_pseudonym: str) -> int:
        """Whole-day date shift in ``[-365, -1]`` for a patient pseudonym."""
        n = int.from_bytes(self._mac(("shift", patient_pseudonym))[:8], "big")
        return -(1 + n % 365)

    # -- FHIR ------------------------------------------------------------------
    def resource_id(self, site: str, resource_type: str, resource_id: str) -> str:
        """FHIR logical id pseudonym (24 base32 characters); a pseudonym maps to itself."""
        if self._is_token("resource", resource_id):
            return resource_id
        return self._token(("resource", site, resource_type, resource_id))

    def is_resource_id(self, value: str) -> bool:
        """Whether ``value`` is a resource id produced with this secret."""
        return self._is_token("resource", value)

    def identifier_value(self, site: str, system: str, value: str) -> str:
        """Identifier value pseudonym scoped by (site, system); a pseudonym maps to itself."""
        if self._is_token("identifier", value):
            return value
        return self._token(("identifier", site, system, value))

    def uuid(self, site: str, value: str) -> str:
        """A UUID-shaped pseudonym for a ``urn:uuid:`` value; a pseudonym maps to itself."""
        value = value.lower()
        cache_key = ("uuid", site, value)
        hit = self._token_cache.get(cache_key)
        if hit is not None:
            return hit
        if self.is_pseudonym_uuid(value):
            out = value
        else:
            body = bytearray(self._mac(("uuid", site, value))[:12])
            body[6] = 0x80 | (body[6] & 0x0F)  # RFC 9562 version 8 (vendor-specific)
            body[8] = 0x80 | (body[8] & 0x3F)  # RFC 9562 variant
            body += self._tag("uuid", body, 4)
            h = body.hex()
            out = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        if len(self._token_cache) < 1_000_000:
            self._token_cache[cache_key] = out
        return out

    def is_pseudonym_uuid(self, value: str) -> bool:
        """Whether ``value`` is a UUID produced by :meth:`uuid` with this secret."""
        if len(value) != 36 or value[14] != "8":  # ours are version 8; skip the MAC for all others
            return False
        try:
            raw = bytes.fromhex(value.replace("-", ""))
        except ValueError:
            return False
        return len(raw) == 16 and hmac.compare_digest(self._tag("uuid", raw[:12], 4), raw[12:])
