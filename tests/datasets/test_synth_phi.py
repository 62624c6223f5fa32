"""The exports carry the PHI a real hospital export does, and phi_tokens lists it for de-identification checks."""

from __future__ import annotations

import re

import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from _synth_fixtures import SMALL_SITES, dicom_files, read_ndjson, small_export  # noqa: F401

from datasets.exceptions import ExportNotFoundError
from datasets.synthetic import burned_in_files, phi_tokens, resident_id_check_char

CLASSES = {"patient_name", "contact_name", "mrn", "resident_id", "passport_number", "phone", "address",
           "birth_date", "accession_number", "visit_number", "uid", "physician_name", "institution_name",
           "institution_address", "station_name", "device_serial", "free_text"}
# every token of these classes must be somewhere in the export (names and dates come in several spellings,
# not every spelling in every file)
EXHAUSTIVE = ("mrn", "resident_id", "passport_number", "phone", "accession_number", "visit_number", "uid",
              "station_name", "device_serial", "institution_name", "free_text")


def _check_char_bruteforce(first17: str) -> str:
    """GB 11643-1999 / ISO 7064 MOD 11-2 from its definition: weights 2^(17-i) mod 11, check value
    (12 - sum mod 11) mod 11, written as X when 10."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def _dicom_text(ds) -> list[str]:
    out = []
    for elem in ds.iterall():
        if elem.tag == 0x7FE00010:
            continue
        value = elem.value
        if isinstance(value, bytes):
            out.append(value.decode("utf-8", "ignore"))
        elif isinstance(value, (list, pydicom.multival.MultiValue)):
            out.extend(str(v) for v in value)
        elif value is not None and not isinstance(value, pydicom.sequence.Sequence):
            out.append(str(value))
    return out


@pytest.fixture(scope="module")
def export_text(small_export):
    root, _ = small_export
    chunks = []
    for site in SMALL_SITES:
        for path in dicom_files(root, site):
            chunks.extend(_dicom_text(pydicom.dcmread(path)))
        for path in sorted((root / site).rglob("*")):
            if path.suffix in (".ndjson", ".csv"):
                chunks.append(path.read_text(encoding="utf-8"))
    return "\n".join(chunks)


def test_standard_example_check_character():
    # the worked example of GB 11643-1999: 11010519491231002X
    assert resident_id_check_char("11010519491231002") == "X"
    assert _check_char_bruteforce("11010519491231002") == "X"


def test_every_phi_class_is_listed_and_found(small_export, export_text):
    root, summary = small_export
    tokens = phi_tokens(root)
    assert phi_tokens(summary) == tokens
    assert set(tokens) == CLASSES
    for kind, values in tokens.items():
        assert values, kind
        assert any(v in export_text for v in values), f"no {kind} token found in the export"
    for kind in EXHAUSTIVE:
        missing = [v for v in tokens[kind] if v not in export_text]
        assert not missing, f"{len(missing)} {kind} tokens listed but not written"
    assert any(re.search(r"[\u4e00-\u9fff]", v) for v in tokens["patient_name"])  # Chinese names
    assert any(re.fullmatch(r"[A-Za-z]+ [A-Za-z]+", v) for v in tokens["patient_name"])


def test_resident_ids_are_valid_and_match_the_patient(small_export):
    root, _ = small_export
    checked = 0
    for site in SMALL_SITES:
        for p in read_ndjson(root / site / "fhir" / "Patient.ndjson"):
            ident = [i for i in p["identifier"] if i["type"]["coding"][0]["code"] == "NI"]
            if not ident:
                assert any(i["type"]["coding"][0]["code"] == "PPN" for i in p["identifier"])
                continue
            rid = ident[0]["value"]
            assert re.fullmatch(r"\d{17}[\dX]", rid)
            assert rid[17] == _check_char_bruteforce(rid[:17])
            assert rid[6:14] == p["birthDate"].replace("-", "")
            assert int(rid[16]) % 2 == (1 if p["gender"] == "male" else 0)  # odd sequence for men
            checked += 1
    assert checked >= 50


def test_phone_numbers_look_like_chinese_mobiles(small_export):
    for phone in phi_tokens(small_export[0])["phone"]:
        assert re.fullmatch(r"1[3-9]\d{9}", phone), phone


def test_dicom_phi_is_where_a_pacs_puts_it(small_export):
    root, _ = small_export
    tokens = phi_tokens(root)
    ds = pydicom.dcmread(dicom_files(root, "DEV")[0])
    assert ds.PatientID in tokens["mrn"]
    assert ds.AccessionNumber in tokens["accession_number"]
    assert ds.PatientBirthDate in tokens["birth_date"]
    assert ds.PatientTelephoneNumbers in tokens["phone"]
    assert ds.PatientAddress in tokens["address"]
    assert ds.StationName in tokens["station_name"] and ds.DeviceSerialNumber in tokens["device_serial"]
    assert ds.InstitutionName in tokens["institution_name"]
    assert str(ds.ReferringPhysicianName).split("=")[0] in tokens["physician_name"]
    assert ds.OtherPatientIDsSequence[0].PatientID in tokens["resident_id"] + tokens["passport_number"]
    assert ds.StudyInstanceUID in tokens["uid"] and ds.SOPInstanceUID in tokens["uid"]


def test_burned_in_manifest_matches_the_files(small_export):
    root, _ = small_export
    listed = set(burned_in_files(root))
    flagged = {f"{site}/{p.relative_to(root / site).as_posix()}" for site in SMALL_SITES
               for p in dicom_files(root, site) if pydicom.dcmread(p, stop_before_pixels=True).BurnedInAnnotation == "YES"}
    assert listed == flagged and listed


def test_phi_tokens_needs_an_export(tmp_path):
    with pytest.raises(ExportNotFoundError, match="generate_export"):
        phi_tokens(tmp_path)
    with pytest.raises(ExportNotFoundError):
        burned_in_files(tmp_path)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_character_matches_its_definition(first17):
    assert resident_id_check_char(first17) == _check_char_bruteforce(first17)
