"""The expectation suites, built in code: what each checks, on which table, and whether it is critical.

Each :class:`Spec` builds one great-expectations expectation (GX Core 1.x) for one of the frames of
:mod:`datasets.quality._frames`. Cross-table checks that GX expresses poorly (every label has an index row and vice
versa) are :class:`PandasCheck` functions reported in the same form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from datasets.quality._frames import CREATININE_CODES, LAB_UNITS, LOINC

__all__ = ["Spec", "PandasCheck", "specs", "pandas_checks", "SUITE_ORDER", "Allowed", "PHI_COLUMN_REGEX"]

SUITE_ORDER = ("index", "labels", "dicom_metadata", "clinical", "privacy")
PHI_COLUMN_REGEX = (r"(?i)(?:name|mrn|birth|dob|phone|telecom|mobile|address|street|postal|zip|email|accession|"
                    r"visit|resident|passport|ssn|national|insurance|identifier|patient_?id)")
"""Index or labels column names that look like PHI."""
CASE_ID_REGEX = r"^c_[0-9a-f]{20}$"
CREATININE_MGDL_RANGE = (0.1, 25.0)
"""Plausible serum creatinine in mg/dL (values outside are unit or transcription errors)."""
ROWS_RANGE = (32, 8192)
PIXEL_SPACING_MM = (0.02, 10.0)
"""Plausible pixel spacing in mm; the upper bound admits down-sampled radiographs (a 43 cm detector at 64 px)."""
BITS_STORED = (8, 16)


@dataclass(frozen=True, slots=True, kw_only=True)
class Allowed:
    """Allowed value sets derived from the corpus manifest and the de-identification options."""

    sites: tuple[str, ...]
    tasks: tuple[str, ...]
    site_split: tuple[tuple[str, str], ...]
    age_bands: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """One GX expectation: ``build(gxe, allowed)`` returns it."""

    id: str
    suite: str
    frame: str
    critical: bool
    description: str
    build: Callable
    id_column: str = "case_id"


@dataclass(frozen=True, slots=True, kw_only=True)
class PandasCheck:
    """A check done in pandas: ``run(frames) -> (success, element_count, unexpected ids)``."""

    id: str
    suite: str
    critical: bool
    description: str
    run: Callable


def specs() -> tuple[Spec, ...]:
    """Every GX expectation of the clinval suites."""
    S = Spec
    return (
        # -- index ---------------------------------------------------------------------------------------------
        S(id="index.case_id_not_null", suite="index", frame="index", critical=True,
          description="every index row has a case_id",
          build=lambda g, a: g.ExpectColumnValuesToNotBeNull(column="case_id")),
        S(id="index.case_id_unique", suite="index", frame="index", critical=True,
          description="case_id is unique across the corpus",
          build=lambda g, a: g.ExpectColumnValuesToBeUnique(column="case_id")),
        S(id="index.case_id_format", suite="index", frame="index", critical=True,
          description="case_id is a pseudonym c_ + 20 hex digits",
          build=lambda g, a: g.ExpectColumnValuesToMatchRegex(column="case_id", regex=CASE_ID_REGEX)),
        S(id="index.site_known", suite="index", frame="index", critical=True,
          description="site is one of the corpus's sites",
          build=lambda g, a: g.ExpectColumnValuesToBeInSet(column="site", value_set=list(a.sites))),
        S(id="index.task_known", suite="index", frame="index", critical=True,
          description="task is one of the corpus's tasks",
          build=lambda g, a: g.ExpectColumnValuesToBeInSet(column="task", value_set=list(a.tasks))),
        S(id="index.split_known", suite="index", frame="index", critical=True,
          description="split is 'dev' or 'test'",
          build=lambda g, a: g.ExpectColumnValuesToBeInSet(column="split", value_set=["dev", "test"])),
        S(id="index.split_matches_site", suite="index", frame="index", critical=True,
          description="the public dev split holds only the development site's cases",
          build=lambda g, a: g.ExpectColumnPairValuesToBeInSet(column_A="site", column_B="split",
                                                               value_pairs_set=[tuple(p) for p in a.site_split])),
        S(id="index.modality_known", suite="index", frame="index", critical=True,
          description="modality is CR, DX (radiographs) or FHIR (clinical record)",
          build=lambda g, a: g.ExpectColumnValuesToBeInSet(column="modality", value_set=["CR", "DX", "FHIR"])),
        S(id="index.sex_known", suite="index", frame="index", critical=True,
          description="sex is M, F, O or U",
          build=lambda g, a: g.ExpectColumnValuesToBeInSet(column="sex", value_set=["M", "F", "O", "U"])),
        S(id="index.age_band_known", suite="index", frame="index", critical=True,
          description="age_band is one of the de-identification age bands or 'unknown'",
          build=lambda g, a: g.ExpectColumnValuesToBeInSet(column="age_band", value_set=list(a.age_bands))),
        S(id="index.input_path_content_addressed", suite="index", frame="index", critical=True,
          description="input_path is sites/<SITE>/inputs/<aa>/<sha256>.dcm|.json",
          build=lambda g, a: g.ExpectColumnValuesToMatchRegex(
              column="input_path", regex=r"^sites/[A-Z][A-Z0-9]{1,15}/inputs/[0-9a-f]{2}/[0-9a-f]{64}\.(?:dcm|json)$")),
        S(id="index.patient_not_null", suite="index", frame="index", critical=True,
          description="every case has a patient pseudonym (for clustered statistics)",
          build=lambda g, a: g.ExpectColumnValuesToNotBeNull(column="patient")),
        S(id="index.age_band_known_mostly", suite="index", frame="index", critical=False,
          description="at least 95% of cases have a known age band",
          build=lambda g, a: g.ExpectColumnValuesToNotBeInSet(column="age_band", value_set=["unknown"],
                                                             mostly=0.95)),
        # -- labels --------------------------------------------------------------------------------------------
        S(id="labels.label_binary", suite="labels", frame="labels", critical=True,
          description="label is 0 or 1",
          build=lambda g, a: g.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1])),
        S(id="labels.label_not_null", suite="labels", frame="labels", critical=True,
          description="every case has a label",
          build=lambda g, a: g.ExpectColumnValuesToNotBeNull(column="label")),
        S(id="labels.case_id_unique", suite="labels", frame="labels", critical=True,
          description="one label per case",
          build=lambda g, a: g.ExpectColumnValuesToBeUnique(column="case_id")),
        S(id="labels.established_by_present", suite="labels", frame="labels", critical=False,
          description="how each label was established is recorded",
          build=lambda g, a: g.ExpectColumnValuesToNotBeNull(column="established_by")),
        # -- DICOM metadata (image cases) -------------------------------------------------------------------
        S(id="dicom.pixel_spacing_present", suite="dicom_metadata", frame="dicom", critical=True,
          description="pixel spacing (Pixel Spacing or Imager Pixel Spacing) is present",
          build=lambda g, a: g.ExpectColumnValuesToNotBeNull(column="pixel_spacing_row")),
        S(id="dicom.pixel_spacing_col_present", suite="dicom_metadata", frame="dicom", critical=True,
          description="pixel spacing has a column value",
          build=lambda g, a: g.ExpectColumnValuesToNotBeNull(column="pixel_spacing_col")),
        S(id="dicom.pixel_spacing_range", suite="dicom_metadata", frame="dicom", critical=True,
          description=f"pixel spacing in {PIXEL_SPACING_MM} mm",
          build=lambda g, a: g.ExpectColumnValuesToBeBetween(column="pixel_spacing_row",
                                                             min_value=PIXEL_SPACING_MM[0],
                                                             max_value=PIXEL_SPACING_MM[1])),
        S(id="dicom.rows_range", suite="dicom_metadata", frame="dicom", critical=True,
          description=f"Rows in {ROWS_RANGE}",
          build=lambda g, a: g.ExpectColumnValuesToBeBetween(column="rows", min_value=ROWS_RANGE[0],
                                                             max_value=ROWS_RANGE[1])),
        S(id="dicom.columns_range", suite="dicom_metadata", frame="dicom", critical=True,
          description=f"Columns in {ROWS_RANGE}",
          build=lambda g, a: g.ExpectColumnValuesToBeBetween(column="columns", min_value=ROWS_RANGE[0],
                                                             max_value=ROWS_RANGE[1])),
        S(id="dicom.photometric_allowed", suite="dicom_metadata", frame="dicom", critical=True,
          description="Photometric Interpretation is MONOCHROME1 or MONOCHROME2",
          build=lambda g, a: g.ExpectColumnValuesToBeInSet(column="photometric",
                                                           value_set=["MONOCHROME1", "MONOCHROME2"])),
        S(id="dicom.bits_stored_range", suite="dicom_metadata", frame="dicom", critical=True,
          description=f"Bits Stored in {BITS_STORED}",
          build=lambda g, a: g.ExpectColumnValuesToBeBetween(column="bits_stored", min_value=BITS_STORED[0],
                                                             max_value=BITS_STORED[1])),
        S(id="dicom.modality_radiograph", suite="dicom_metadata", frame="dicom", critical=True,
          description="image cases are CR or DX",
          build=lambda g, a: g.ExpectColumnValuesToBeInSet(column="modality", value_set=["CR", "DX"])),
        S(id="dicom.manufacturer_present", suite="dicom_metadata", frame="dicom", critical=False,
          description="Manufacturer is recorded (a subgroup attribute)",
          build=lambda g, a: g.ExpectColumnValuesToNotBeNull(column="manufacturer")),
        # -- clinical values ------------------------------------------------------------------------------------
        S(id="clinical.lab_units_match_loinc", suite="clinical", frame="labs_loinc", critical=True,
          description="each LOINC-coded lab value uses the unit of its code "
                      + ", ".join(f"{k} {v}" for k, v in LAB_UNITS.items()),
          build=lambda g, a: g.ExpectColumnPairValuesToBeInSet(column_A="code", column_B="unit",
                                                               value_pairs_set=list(LAB_UNITS.items()))),
        S(id="clinical.creatinine_plausible", suite="clinical", frame="creatinine", critical=True,
          description=f"serum creatinine normalised to mg/dL lies in {CREATININE_MGDL_RANGE} "
                      f"(LOINC {', '.join(CREATININE_CODES)})",
          build=lambda g, a: g.ExpectColumnValuesToBeBetween(column="value_mgdl",
                                                             min_value=CREATININE_MGDL_RANGE[0],
                                                             max_value=CREATININE_MGDL_RANGE[1])),
        S(id="clinical.creatinine_normalisable", suite="clinical", frame="creatinine", critical=True,
          description="every creatinine value can be normalised to mg/dL (known unit for its code)",
          build=lambda g, a: g.ExpectColumnValuesToNotBeNull(column="value_mgdl")),
        S(id="clinical.lab_codes_loinc", suite="clinical", frame="labs", critical=False,
          description="laboratory observations are coded with LOINC",
          build=lambda g, a: g.ExpectColumnValuesToBeInSet(column="system", value_set=[LOINC])),
        S(id="clinical.creatinine_before_index", suite="clinical", frame="aki_cases", critical=False,
          description="each aki-48h case has at least one LOINC-coded creatinine before the index time",
          build=lambda g, a: g.ExpectColumnValuesToBeBetween(column="creatinine_measurements", min_value=1)),
        # -- privacy --------------------------------------------------------------------------------------------
        S(id="privacy.no_phi_like_columns", suite="privacy", frame="columns", critical=True,
          description="no index or labels column is named like PHI (name, mrn, birth, phone, address, ...)",
          build=lambda g, a: g.ExpectColumnValuesToNotMatchRegex(column="column", regex=PHI_COLUMN_REGEX),
          id_column="column"),
    )


def _labels_in_index(fr) -> tuple[bool, int, list[str]]:
    if "case_id" not in fr.labels or "case_id" not in fr.index:
        return False, len(fr.labels), []
    missing = sorted(set(fr.labels["case_id"].dropna()) - set(fr.index["case_id"].dropna()))
    return not missing, len(fr.labels), missing


def _index_has_labels(fr) -> tuple[bool, int, list[str]]:
    if "case_id" not in fr.labels or "case_id" not in fr.index:
        return False, len(fr.index), []
    missing = sorted(set(fr.index["case_id"].dropna()) - set(fr.labels["case_id"].dropna()))
    return not missing, len(fr.index), missing


def _same_site_task(fr) -> tuple[bool, int, list[str]]:
    cols = ["case_id", "site", "task"]
    if not set(cols) <= set(fr.index.columns) or not set(cols) <= set(fr.labels.columns):
        return False, len(fr.labels), []
    m = fr.labels[cols].merge(fr.index[cols], on="case_id", suffixes=("_l", "_i"))
    bad = m[(m["site_l"] != m["site_i"]) | (m["task_l"] != m["task_i"])]["case_id"]
    return bad.empty, len(m), sorted(set(bad))


def pandas_checks() -> tuple[PandasCheck, ...]:
    """Cross-table checks of the labels suite."""
    return (
        PandasCheck(id="labels.every_label_in_index", suite="labels", critical=True,
                    description="every labelled case has an index row", run=_labels_in_index),
        PandasCheck(id="labels.every_index_case_labelled", suite="labels", critical=True,
                    description="every index case has a label", run=_index_has_labels),
        PandasCheck(id="labels.site_task_match_index", suite="labels", critical=True,
                    description="a label's site and task equal its index row's", run=_same_site_task),
    )
