"""Annex E table tests: the packaged table matches the reference, and every attribute gets its action.

Expected actions are derived here, independently of the code under test, from the reference JSON
(innolitics/dicom-standard at 7f4749d, in ../shared/reference/dicom-annex-e) and the documented
resolution rule (D if a combination contains D, else Z, X/Z/U* keeps the sequence and cleans it).
"""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

pydicom = pytest.importorskip("pydicom")
from pydicom import Dataset  # noqa: E402
from pydicom.datadict import dictionary_VR  # noqa: E402

from datasets.deid import (  # noqa: E402
    Action,
    DeidOptions,
    Pseudonymizer,
    deidentify_dicom,
    load_profile,
    resolve_basic_action,
)
from datasets.deid.errors import ProfileError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / ".." / "shared" / "reference" / "dicom-annex-e" / "confidentiality_profile_attributes.json"
PACKAGED = ROOT / "datasets" / "data" / "annex_e_basic_profile.json"
SECRET = b"table-test-secret-0123456789abcdef"
CT = "1.2.840.10008.5.1.4.1.1.2"


def _reference_rows() -> list[dict]:
    if not REFERENCE.exists():
        pytest.skip(f"reference Annex E table absent at {REFERENCE}")
    return json.loads(REFERENCE.read_text("utf-8"))


def _add_pixels(ds: Dataset) -> None:
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.BitsAllocated = 2, 2, 1, 8
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = b"\x00\x01\x02\x03"


def _tag(text: str) -> int | None:
    t = text.strip("()").replace(",", "")
    return int(t, 16) if re.fullmatch(r"[0-9A-Fa-f]{8}", t) else None


def test_packaged_table_has_the_reference_facts():
    ref = {r["tag"]: r for r in _reference_rows()}
    packaged = json.loads(PACKAGED.read_text("utf-8"))
    assert "innolitics/dicom-standard" in packaged["_source"] and "7f4749d" in packaged["_source"]
    rows = {r["tag"]: r for r in packaged["attributes"]}
    assert rows.keys() == ref.keys()
    for tag, r in ref.items():
        assert rows[tag]["basic"] == r["basicProfile"], tag
        for k, v in r.items():
            if k.endswith("Opt"):
                assert rows[tag]["options"][k] == v, (tag, k)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("X", Action.REMOVE),
        ("Z", Action.ZERO),
        ("D", Action.DUMMY),
        ("U", Action.UID),
        ("K", Action.KEEP),
        ("X/Z", Action.ZERO),
        ("X/D", Action.DUMMY),
        ("Z/D", Action.DUMMY),
        ("X/Z/D", Action.DUMMY),
        ("X/Z/U*", Action.CLEAN_ITEMS),
    ],
)
def test_combined_actions_resolve_to_the_iod_safe_branch(code, expected):
    assert resolve_basic_action(code) is expected


def test_unknown_action_code_is_a_profile_error():
    with pytest.raises(ProfileError, match="unknown Basic Profile action"):
        resolve_basic_action("Q/R")


def test_every_combined_code_of_the_reference_resolves():
    codes = {r["basicProfile"] for r in _reference_rows()}
    assert {"X/Z", "X/D", "Z/D", "X/Z/D", "X/Z/U*"} <= codes
    for c in codes:
        resolve_basic_action(c)  # no ProfileError


def test_options_select_their_columns():
    rows = _reference_rows()
    profile = load_profile()
    for r in rows:
        tag = _tag(r["tag"])
        if tag is None:
            continue
        rule = profile[tag]
        if r.get("rtnLongModifDatesOpt") == "C":
            assert rule.action is Action.SHIFT_DATE, r["name"]
        elif r.get("rtnPatCharsOpt") == "K":
            assert rule.action is Action.KEEP, r["name"]
        elif r.get("cleanDescOpt") == "C" and not r.get("rtnPatCharsOpt"):
            assert rule.action is Action.CLEAN_TEXT, r["name"]
        elif not any(k.endswith("Opt") and k not in ("rtnDevIdOpt", "rtnUIDsOpt", "rtnInstIdOpt", "rtnLongFullDatesOpt", "cleanGraphOpt", "cleanStructContOpt", "rtnSafePrivOpt") for k in r):
            assert rule.action is resolve_basic_action(r["basicProfile"]), r["name"]
    # Retain Device Identity is off: Device Serial Number (X/Z/D, rtnDevIdOpt K) is replaced
    assert profile[0x00181000].action is Action.DUMMY
    assert load_profile(retain_device_identity=True)[0x00181000].action is Action.KEEP


# ---------------------------------------------------------------------------- every attribute of the table

_TEXT_VRS = {"LO", "SH", "ST", "LT", "UT", "UC", "PN", "CS", "AE"}


def _value_for(tag: int, vr: str):
    token = f"V{tag:08X}"
    if vr in _TEXT_VRS:
        return token + ("^PHI" if vr == "PN" else "")
    return {
        "DA": "20200102",
        "DT": "20200102030405",
        "TM": "030405",
        "UI": f"1.2.840.99.{tag}",
        "AS": "045Y",
        "DS": "7",
        "IS": "7",
        "US": 7,
        "SS": 7,
        "UL": 7,
        "SL": 7,
        "FL": 7.0,
        "FD": 7.0,
        "OB": b"\x01\x02",
        "OW": b"\x01\x02",
        "UN": b"\x01\x02",
        "UR": f"http://phi.example/{token}",
        "AT": 0x00100010,
    }.get(vr)


def _expected(row: dict) -> str:
    """Brute-force expectation for one reference row under the default options."""
    if row.get("rtnLongModifDatesOpt") == "C":
        return "shift"
    pc = row.get("rtnPatCharsOpt")
    if pc == "K":
        return "K"
    if pc == "C" or row.get("cleanDescOpt") == "C":
        return "clean"
    code = row["basicProfile"]
    if code == "X/Z/U*":
        return "items"
    if "D" in code.split("/"):
        return "D"
    if "Z" in code.split("/"):
        return "Z"
    return code


@pytest.fixture(scope="module")
def table_case():
    rows = _reference_rows()
    ds = Dataset()
    used = []
    for r in rows:
        tag = _tag(r["tag"])
        if tag is None or tag >> 16 in (0x0000, 0x0002):  # command / file meta groups: see test below
            continue
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            continue
        if vr == "SQ":
            item = Dataset()
            item.PatientName = f"N{tag:08X}^PHI"
            item.ReferencedSOPInstanceUID = f"1.2.840.99.{tag}.1"
            ds.add_new(tag, "SQ", [item])
        else:
            value = _value_for(tag, vr)
            if value is None:
                continue
            ds.add_new(tag, vr, value)
        used.append((tag, vr, r))
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = "1.2.840.99.1"
    ds.PatientID = "MRN-TABLE-1"
    _add_pixels(ds)
    pseudo = Pseudonymizer(SECRET)
    result = deidentify_dicom(ds, pseudonymizer=pseudo, site="H01")
    assert result.ok, result.quarantined
    return ds, result, used, pseudo


def test_table_case_covers_every_category(table_case):
    _, _, used, _ = table_case
    cats = {_expected(r) for _, _, r in used}
    assert {"X", "Z", "D", "U", "K", "shift", "clean", "items"} <= cats
    assert len(used) > 550


def test_each_attribute_gets_its_action(table_case):
    original, result, used, pseudo = table_case
    out = pydicom.dcmread(io.BytesIO(result.data))
    shift = result.date_shift_days
    for tag, vr, row in used:
        exp = _expected(row)
        name = row["name"]
        orig = original[tag].value
        present = tag in out
        got = out[tag].value if present else None
        if tag == 0x00100020:  # Patient ID (Z/D): the patient pseudonym
            assert got == pseudo.patient_id("H01", "MRN-TABLE-1")
            continue
        if exp == "shift":
            if vr == "DA":
                want = (date(2020, 1, 2) + timedelta(days=shift)).strftime("%Y%m%d")
                assert got == want, name
            elif vr == "DT":
                want = (date(2020, 1, 2) + timedelta(days=shift)).strftime("%Y%m%d") + "030405"
                assert got == want, name
            elif vr == "TM":
                assert got == orig, name
            elif vr == "SH":  # Timezone Offset From UTC: our token is not a valid offset, so removed
                assert not present or not got, name
            else:  # OB timestamps cannot be shifted: basic action applies
                assert not present or not got, name
        elif exp == "K":
            assert got == orig, name
        elif exp == "clean":
            # our tokens are not safe-vocabulary words, so the basic action applies
            assert not present or not got or got == "ANONYMIZED" or vr == "SQ" or got != orig, name
            if present and isinstance(got, str):
                assert f"V{tag:08X}" not in got, name
        elif exp == "X":
            assert not present, name
        elif exp == "Z":
            assert present and (got in ("", None, b"", []) or str(got) == ""), name
        elif exp == "D":
            assert present, name
            if vr == "SQ":
                assert len(got) == 0, name
            elif vr == "UI":
                assert got == pseudo.uid(orig), name
            elif vr not in ("OB", "OW", "UN", "UR"):
                assert got not in ("", None) and got != orig, name
        elif exp == "U":
            assert got == pseudo.uid(orig), name
        elif exp == "items":
            assert present and len(got) == 1, name
            item = got[0]
            assert str(item.PatientName) == ""
            assert item.ReferencedSOPInstanceUID == pseudo.uid(f"1.2.840.99.{tag}.1")


def test_no_table_token_survives_in_the_bytes(table_case):
    _, result, used, _ = table_case
    data = result.data
    for tag, vr, row in used:
        exp = _expected(row)
        token = f"V{tag:08X}".encode()
        nested = f"N{tag:08X}".encode()
        assert nested not in data, row["name"]
        if exp == "K":
            continue
        assert token not in data, row["name"]


def test_method_codes_follow_cid_7050(table_case):
    _, result, _, _ = table_case
    ds = result.dataset
    assert ds.PatientIdentityRemoved == "YES"
    codes = [(i.CodeValue, i.CodingSchemeDesignator) for i in ds.DeidentificationMethodCodeSequence]
    # PS3.16 CID 7050: 113100 Basic, 113107 Modified Dates, 113108 Patient Characteristics, 113105 Clean Descriptors
    assert codes == [("113100", "DCM"), ("113107", "DCM"), ("113108", "DCM"), ("113105", "DCM")]
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    assert all(len(v) <= 64 for v in ds.DeidentificationMethod)


def test_options_off_change_the_codes_and_dates():
    ds = Dataset()
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = "1.2.3"
    ds.PatientID = "M"
    ds.StudyDate = "20200102"
    ds.StudyDescription = "CT CHEST"
    _add_pixels(ds)
    opts = DeidOptions(retain_longitudinal_modified_dates=False, clean_descriptors=False)
    r = deidentify_dicom(ds, pseudonymizer=Pseudonymizer(SECRET), site="H01", options=opts)
    assert r.ok
    assert "StudyDescription" not in r.dataset  # basic profile X
    assert r.dataset.StudyDate == ""  # basic profile Z
    codes = [i.CodeValue for i in r.dataset.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113108"]


def test_command_and_meta_group_elements_in_the_dataset_are_dropped():
    ds = Dataset()
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = "1.2.3"
    ds.add_new(0x00001000, "UI", "1.2.3.4.5")  # Affected SOP Instance UID
    ds.add_new(0x00020003, "UI", "1.2.3.4.6")  # Media Storage SOP Instance UID, misplaced
    _add_pixels(ds)
    r = deidentify_dicom(ds, pseudonymizer=Pseudonymizer(SECRET), site="H01")
    assert r.ok
    assert 0x00001000 not in r.dataset and 0x00020003 not in r.dataset
    assert b"1.2.3.4.5" not in r.data and b"1.2.3.4.6" not in r.data
