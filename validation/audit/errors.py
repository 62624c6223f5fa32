"""Exceptions raised by the audit-trail cryptography (canonical form, Merkle log, checkpoints, bundles).

Every class derives from :class:`AuditError`, so callers can catch the whole family at once. Messages say what was
wrong, the value received (never event contents, which could carry identifiers) and what to do about it.
"""

from __future__ import annotations


class AuditError(Exception):
    """Base class of every audit-trail error."""


class CanonicalFormError(AuditError, ValueError):
    """A value cannot be written in canonical JSON (NaN/inf, non-string key, unsupported type, lone surrogate)."""


class EventFormError(AuditError, ValueError):
    """An event dict does not follow the event contract (missing key, wrong type, malformed hash)."""


class ChainError(AuditError):
    """The hash chain is broken: an event's ``prev_hash`` is not the hash of the event before it.

    Attributes
    ----------
    seq : int or None
        Sequence number of the first event whose link fails.
    """

    def __init__(self, message: str, *, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


class MerkleError(AuditError, ValueError):
    """A Merkle-tree request is out of range (index beyond the tree, size larger than the log, bad hash length)."""


class ProofError(AuditError):
    """A Merkle proof does not verify."""


class InclusionProofError(ProofError):
    """An inclusion proof does not lead from the leaf to the expected root."""


class ConsistencyProofError(ProofError):
    """A consistency proof does not show that the older tree is a prefix of the newer one."""


class KeyFormatError(AuditError, ValueError):
    """A public or private key could not be read (not a note verifier string, not Ed25519 PEM, bad name)."""


class KeyFileError(AuditError):
    """A key file is missing, already exists, or has unsafe permissions."""


class CheckpointFormatError(AuditError, ValueError):
    """A checkpoint is not a well-formed signed note with a tlog-checkpoint body."""


class CheckpointSignatureError(AuditError):
    """A checkpoint (or other signed note) carries a signature by the trusted key that does not verify."""


class UnknownKeyError(CheckpointSignatureError):
    """A signed note carries no signature by the trusted key (signed by another key, or unsigned)."""


class BundleError(AuditError, ValueError):
    """An export bundle cannot be built from the inputs given (inconsistent log, bad artifact name, ...)."""
