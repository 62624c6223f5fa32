"""The synthetic clinical validation centre: seeded, identified DICOM and FHIR exports of 16 hospitals and DEV.

:func:`generate_export` plays each site's export (chest radiographs for ``cxr-pneumonia``, inpatient admissions for
``aki-48h``, reference standards keyed by hospital identifiers) from its profile in :mod:`datasets.sites`. The same
seed gives byte-identical files. :func:`phi_tokens` lists the PHI written, for de-identification checks.
"""

from datasets.synthetic._aki import CREATININE_UMOL_PER_MGDL, kdigo_aki
from datasets.synthetic._export import (
    EXPORT_MANIFEST,
    PHI_MANIFEST,
    ExportSummary,
    SiteTaskCount,
    burned_in_files,
    generate_export,
    phi_tokens,
)
from datasets.synthetic._identity import resident_id_check_char
from datasets.synthetic._site import REFERENCE_COLUMNS, TASKS

__all__ = [
    "generate_export",
    "ExportSummary",
    "SiteTaskCount",
    "phi_tokens",
    "burned_in_files",
    "kdigo_aki",
    "resident_id_check_char",
    "TASKS",
    "REFERENCE_COLUMNS",
    "PHI_MANIFEST",
    "EXPORT_MANIFEST",
    "CREATININE_UMOL_PER_MGDL",
]
