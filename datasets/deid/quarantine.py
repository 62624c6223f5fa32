"""Quarantine records: what could not be de-identified, and why, without PHI."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["QuarantineReason", "Quarantined"]


class QuarantineReason(str, enum.Enum):
    """Machine-readable reason codes for quarantined inputs.

    The value is a stable, PHI-free code counted in ingest reports.
    """

    UNREADABLE = "unreadable"
    """The bytes are not a parseable DICOM file / JSON document."""
    TRUNCATED = "truncated"
    """The file ends before an element it announces."""
    PIXEL_DATA_LENGTH = "pixel_data_length"
    """Pixel Data length disagrees with Rows x Columns x Samples x Frames x Bits, or fragments are broken."""
    BURNED_IN_ANNOTATION = "burned_in_annotation"
    """Burned In Annotation is YES, or missing on a modality that often burns in text."""
    UNKNOWN_SOP_CLASS = "unknown_sop_class"
    """SOP Class UID missing or not in the supported allow-list."""
    NESTING_TOO_DEEP = "nesting_too_deep"
    """Sequences (DICOM) or objects/arrays (JSON) nested deeper than the limit."""
    INVALID_UID = "invalid_uid"
    """A UID contains characters other than digits and dots (e.g. path traversal)."""
    DUPLICATE_KEY = "duplicate_key"
    """A JSON object repeats a key; which value is meant is ambiguous."""
    FHIR_VALIDATION_FAILED = "fhir_validation_failed"
    """The resource does not validate against FHIR R4B (fhir.resources)."""
    FHIR_UNKNOWN_RESOURCE_TYPE = "fhir_unknown_resource_type"
    """Missing or unknown resourceType."""
    FHIR_BAD_REFERENCE = "fhir_bad_reference"
    """A reference is malformed or does not resolve inside its Bundle."""
    FHIR_UNKNOWN_MODIFIER_EXTENSION = "fhir_unknown_modifier_extension"
    """A modifierExtension this engine does not understand changes the meaning of the resource."""
    INTERNAL_ERROR = "internal_error"
    """An unexpected failure inside the engine; the input is kept out of the corpus."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Quarantined:
    """An input that cannot be cleaned and must stay out of the corpus.

    Parameters
    ----------
    reason : QuarantineReason or str
        Reason code (converted to :class:`QuarantineReason`).
    detail : str
        Human-readable explanation. It must never contain PHI: it is built from
        fixed text, DICOM keywords, counts and exception class names only.
    """

    reason: QuarantineReason
    detail: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", QuarantineReason(self.reason))
        if not isinstance(self.detail, str):
            raise TypeError(f"detail must be str, got {type(self.detail).__name__}")
