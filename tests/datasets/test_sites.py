"""The site registry: sixteen hospitals plus DEV, profiles that differ in the ways the issue lists, cheap import."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from datasets.exceptions import DatasetsError, UnknownSiteError
from datasets.sites import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    HOSPITAL_CODES,
    IMPLICIT_VR_LITTLE_ENDIAN,
    SITE_CODES,
    SITES,
    ImagingProfile,
    ReferenceStandard,
    get_site,
)

ROOT = Path(__file__).resolve().parents[2]


def test_codes_are_h01_to_h16_and_dev():
    assert HOSPITAL_CODES == tuple(f"H{i:02d}" for i in range(1, 17))
    assert SITE_CODES == ("DEV",) + HOSPITAL_CODES
    assert set(SITES) == set(SITE_CODES)
    assert [SITES[c].index for c in SITE_CODES] == list(range(17))


def test_every_site_has_code_name_and_city():
    names = [s.name for s in SITES.values()]
    assert len(set(names)) == 17, "hospital names must be unique"
    for code, site in SITES.items():
        assert site.code == code
        assert site.name and site.name_local and site.city and site.address
        assert site.region_code.startswith("33")  # Zhejiang-like province codes
    assert get_site("DEV").public and not any(SITES[c].public for c in HOSPITAL_CODES)


def test_get_site_accepts_any_case_and_rejects_unknown():
    assert get_site(" h03 ") is SITES["H03"]
    with pytest.raises(UnknownSiteError, match="H17") as info:
        get_site("H17")
    assert isinstance(info.value, DatasetsError)
    assert "DEV" in str(info.value)  # the message lists valid codes
    with pytest.raises(UnknownSiteError):
        get_site(None)  # type: ignore[arg-type]


def test_profiles_differ_in_the_ways_a_centre_does():
    imaging = [s.imaging for s in SITES.values()]
    clinical = [s.clinical for s in SITES.values()]
    assert len({i.manufacturer for i in imaging}) >= 4
    assert {i.modality for i in imaging} == {"CR", "DX"}
    photometric = [i.photometric_interpretation for i in imaging]
    assert photometric.count("MONOCHROME1") >= 2 and photometric.count("MONOCHROME2") >= 10
    syntaxes = [i.transfer_syntax_uid for i in imaging]
    assert syntaxes.count(DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN) == 1
    assert syntaxes.count(IMPLICIT_VR_LITTLE_ENDIAN) >= 1
    assert syntaxes.count(EXPLICIT_VR_LITTLE_ENDIAN) >= 10
    charsets = [i.specific_character_set for i in imaging]
    assert charsets.count("GB18030") == 1 and charsets.count("ISO_IR 192") >= 9
    assert len({i.bits_stored for i in imaging}) >= 3
    assert len({i.field_of_view_mm for i in imaging}) >= 3
    assert any(i.burned_in_fraction > 0 for i in imaging)
    units = [c.creatinine_unit for c in clinical]
    assert "mg/dL" in units and "umol/L" in units
    assert [c.creatinine_coding for c in clinical].count("local") == 1
    local = next(c for c in clinical if c.creatinine_coding == "local")
    assert local.creatinine_unit == "umol/L"
    assert {c.temperature_unit for c in clinical} == {"Cel", "[degF]"}
    assert {c.blood_pressure_style for c in clinical} == {"panel", "separate"}
    prevalences = [c.pneumonia_prevalence for c in clinical]
    assert max(prevalences) - min(prevalences) >= 0.2
    assert len({s.reference.cxr_readers for s in SITES.values()}) >= 2
    assert all(0 < s.reference.label_noise <= 0.1 for s in SITES.values())


def test_profiles_are_frozen_and_validated():
    site = get_site("H01")
    with pytest.raises(dataclasses.FrozenInstanceError):
        site.code = "H99"  # type: ignore[misc]
    good = dataclasses.asdict(site.imaging)
    for field, bad in (("photometric_interpretation", "RGB"), ("transfer_syntax_uid", "1.2.840.10008.1.2.2"),
                       ("bits_stored", 20), ("burned_in_fraction", 1.5), ("modality", "CT")):
        with pytest.raises(ValueError, match=field):
            ImagingProfile(**{**good, field: bad})
    with pytest.raises(ValueError, match="label_noise"):
        ReferenceStandard(cxr_readers=2, cxr_adjudication="x", aki_method="y", label_noise=0.5)


def test_describe_reference_standard():
    ref = get_site("DEV").reference
    assert ref.describe("cxr-pneumonia").startswith(f"{ref.cxr_readers} radiologist")
    assert "KDIGO" in ref.describe("aki-48h")


def test_import_is_cheap():
    code = ("import sys; import datasets.sites as s; assert len(s.SITES) == 17; "
            "print(sorted(m for m in ('numpy', 'pydicom', 'pandas', 'fhir') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
