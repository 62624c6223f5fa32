"""De-identification of DICOM and FHIR for clinval corpora.

DICOM follows the PS3.15 Annex E Basic Application Level Confidentiality
Profile (table-driven) with the Retain Longitudinal Temporal Information with
Modified Dates, Retain Patient Characteristics and Clean Descriptors options;
FHIR R4 resources (plain dicts, Bundles, Bulk Data NDJSON) get hashed ids,
references and identifiers, shifted dates, an age band instead of the birth
date, and no names, contact details, narrative or free-text PHI. Pseudonyms
are keyed HMAC-SHA256, stable across files, machines and modalities; the same
(site, MRN) gets the same patient pseudonym and date shift in DICOM and FHIR.
Whatever cannot be cleaned is returned as a :class:`Quarantined` record with a
reason code and a PHI-free explanation; nothing raises on bad input data.
"""

from datasets.deid._accel import Implementation, implementation
from datasets.deid._accel import install as _install_compiled_or_pure

_install_compiled_or_pure()  # before the first import of a module that may be compiled (see _accel)

from datasets.deid.dicom import METHOD_CODES, DicomResult, deidentify_dicom  # noqa: E402
from datasets.deid.errors import DeidError, OptionsError, ProfileError, SecretError  # noqa: E402
from datasets.deid.fhir import (  # noqa: E402
    AGE_BAND_EXTENSION_URL,
    FhirOptions,
    FhirPatient,
    FhirResult,
    deidentify_bundle,
    deidentify_fhir_resource,
    deidentify_ndjson,
)
from datasets.deid.profile import (  # noqa: E402
    SUPPORTED_SOP_CLASSES,
    Action,
    DeidOptions,
    ProfileRule,
    SafePrivateTag,
    load_profile,
    resolve_basic_action,
)
from datasets.deid.pseudonym import Pseudonymizer  # noqa: E402
from datasets.deid.quarantine import Quarantined, QuarantineReason  # noqa: E402

__all__ = [
    "AGE_BAND_EXTENSION_URL",
    "Action",
    "DeidError",
    "DeidOptions",
    "DicomResult",
    "FhirOptions",
    "FhirPatient",
    "FhirResult",
    "Implementation",
    "METHOD_CODES",
    "OptionsError",
    "ProfileError",
    "ProfileRule",
    "Pseudonymizer",
    "Quarantined",
    "QuarantineReason",
    "SUPPORTED_SOP_CLASSES",
    "SafePrivateTag",
    "SecretError",
    "deidentify_bundle",
    "deidentify_dicom",
    "deidentify_fhir_resource",
    "deidentify_ndjson",
    "implementation",
    "load_profile",
    "resolve_basic_action",
]
