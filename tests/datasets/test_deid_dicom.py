"""DICOM de-identification on real files (reference samples, pydicom's test files) and built objects.

PHI tokens are harvested here, independently of the code under test, from the input's raw element
bytes (names and their components in the file's own encoding, IDs, UIDs, dates of birth, ...), and the
de-identified file is scanned byte by byte for each of them.
"""

from __future__ import annotations

import io
import struct
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pydicom = pytest.importorskip("pydicom")
from pydicom import Dataset  # noqa: E402
from pydicom.dataset import FileMetaDataset  # noqa: E402
from pydicom.sequence import Sequence  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian  # noqa: E402

from datasets.deid import (  # noqa: E402
    DeidOptions,
    Pseudonymizer,
    QuarantineReason,
    SafePrivateTag,
    deidentify_dicom,
)

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / ".." / "shared" / "reference" / "dicom-samples"
PYDICOM_DATA = Path(pydicom.data.__file__).parent
SECRET = b"dicom-test-secret-0123456789abcdef"
CT = "1.2.840.10008.5.1.4.1.1.2"
SC = "1.2.840.10008.5.1.4.1.1.7"
VOUCH = DeidOptions(pixels_clean=lambda ds: True)
# the inputs here are deliberately odd (invalid UIDs, truncated files): pydicom warns about them
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

PHI_KEYWORDS = (
    "PatientName", "PatientID", "OtherPatientIDs", "PatientBirthDate", "PatientAddress",
    "PatientTelephoneNumbers", "PatientMotherBirthName", "AccessionNumber", "InstitutionName",
    "InstitutionAddress", "InstitutionalDepartmentName", "ReferringPhysicianName",
    "PerformingPhysicianName", "OperatorsName", "NameOfPhysiciansReadingStudy", "RequestingPhysician",
    "StationName", "DeviceSerialNumber", "StudyID", "StudyInstanceUID", "SeriesInstanceUID",
    "SOPInstanceUID", "FrameOfReferenceUID", "MilitaryRank", "EthnicGroup", "Occupation",
    "PatientComments", "AdditionalPatientHistory", "MedicalRecordLocator",
)


def _files(folder: Path, pattern: str = "*.dcm") -> list[Path]:
    return sorted(folder.glob(pattern)) if folder.exists() else []


ALL_FILES = (
    _files(REFERENCE)
    + _files(PYDICOM_DATA / "test_files")
    + _files(PYDICOM_DATA / "charset_files")
)


def harvest(path_or_bytes) -> set[bytes]:
    """PHI byte tokens of a DICOM input: raw values of identifying elements, at any depth."""
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    try:
        ds = pydicom.dcmread(src, force=True)
    except Exception:
        return set()
    tokens: set[bytes] = set()

    def visit(d: Dataset, depth: int) -> None:
        if depth > 20:
            return
        for kw in PHI_KEYWORDS:
            tag = pydicom.datadict.tag_for_keyword(kw)
            try:
                if tag not in d:
                    continue
                raw = d.get_item(tag)
                value = raw.value
            except Exception:
                continue
            if isinstance(value, bytes):
                parts = [value.strip(b"\x00 ")]
            else:
                elem = d[tag]
                text = str(elem.value) if elem.value is not None else ""
                encodings = [c for c in (getattr(d, "_character_set", None) or ["iso8859"])]
                parts = []
                try:
                    parts.append(
                        pydicom.charset.encode_string(text, encodings) if text else b""
                    )
                except Exception:
                    parts.append(text.encode("utf-8", "ignore"))
            for p in parts:
                tokens.add(p)
                if kw.endswith("Name") or kw == "PatientName":
                    for sep in (b"^", b"="):
                        tokens.update(x.strip() for x in p.split(sep))
        for elem in list(d):
            try:
                if elem.VR == "SQ":
                    for item in elem.value:
                        visit(item, depth + 1)
            except Exception:
                continue

    try:
        visit(ds, 0)
    except Exception:
        pass
    return {t for t in tokens if len(t) >= 5 and not t.isspace()}


def _leaks(tokens: set[bytes], data: bytes) -> list[bytes]:
    return sorted(t for t in tokens if t in data)


# ---------------------------------------------------------------------------- real files


@pytest.mark.parametrize("path", ALL_FILES, ids=[p.name for p in ALL_FILES])
def test_real_files_deidentified_without_phi_or_quarantined(path):
    pseudo = Pseudonymizer(SECRET)
    for options in (DeidOptions(), VOUCH):
        result = deidentify_dicom(path, pseudonymizer=pseudo, site="H01", options=options)
        if not result.ok:
            q = result.quarantined
            assert isinstance(q.reason, QuarantineReason)
            assert q.detail and q.reason is not QuarantineReason.INTERNAL_ERROR, q.detail
            continue
        data = result.data
        # Manufacturer is kept by Annex E; an institution named like its scanner vendor is not a leak
        manufacturer = str(pydicom.dcmread(path, force=True).get("Manufacturer", "")).encode("latin-1", "ignore")
        assert [t for t in _leaks(harvest(path), data) if t not in manufacturer] == []
        out = pydicom.dcmread(io.BytesIO(data))
        assert out.PatientIdentityRemoved == "YES"
        assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
        assert out.SOPInstanceUID.startswith("2.25.") and len(out.SOPInstanceUID) <= 64
        assert not any(elem.tag.is_private for elem in out.iterall())
        assert not any(elem.tag.group & 0xFF00 in (0x5000, 0x6000) for elem in out.iterall())


def test_reference_samples_are_deidentified():
    files = _files(REFERENCE)
    if not files:
        pytest.skip(f"reference DICOM samples absent at {REFERENCE}")
    for path in files:
        before = pydicom.dcmread(path)
        r = deidentify_dicom(path, pseudonymizer=Pseudonymizer(SECRET), site="H01")
        assert r.ok, (path.name, r.quarantined)
        out = pydicom.dcmread(io.BytesIO(r.data))
        assert out.file_meta.TransferSyntaxUID == before.file_meta.TransferSyntaxUID
        assert out.PixelData == before.PixelData
        if before.get("StudyDate"):
            want = (date(int(before.StudyDate[:4]), int(before.StudyDate[4:6]), int(before.StudyDate[6:]))
                    + timedelta(days=r.date_shift_days)).strftime("%Y%m%d")
            assert out.StudyDate == want


def test_quarantine_counts_on_pydicom_files_have_reasons():
    files = _files(PYDICOM_DATA / "test_files")
    if not files:
        pytest.skip("pydicom test files not installed")
    reasons = {}
    for path in files:
        r = deidentify_dicom(path, pseudonymizer=Pseudonymizer(SECRET), site="H01")
        if not r.ok:
            reasons[path.name] = r.quarantined.reason
    # facts of these files (pydicom test_files/README.txt): truncated pixel data, RT/SR classes, SC without burn-in flag
    assert reasons["MR_truncated.dcm"] is QuarantineReason.PIXEL_DATA_LENGTH
    assert reasons["rtplan.dcm"] is QuarantineReason.UNKNOWN_SOP_CLASS
    assert reasons["test-SR.dcm"] is QuarantineReason.UNKNOWN_SOP_CLASS
    assert reasons["SC_rgb_rle.dcm"] is QuarantineReason.BURNED_IN_ANNOTATION
    assert "CT_small.dcm" not in reasons and "MR_small.dcm" not in reasons


# ---------------------------------------------------------------------------- character sets


@pytest.mark.parametrize(
    ("charset", "name", "institution"),
    [
        ("GB18030", "王^小明", "北京协和医院"),
        ("ISO_IR 192", "Müller^Jürgen=王^小明", "Universitätsklinikum Köln"),
        ("ISO_IR 100", "Müller^Jürgen", "Hôpital Européen"),
        (["ISO 2022 IR 6", "ISO 2022 IR 87"], "Yamada^Tarou=山田^太郎", "Tokyo Daigaku"),
    ],
)
def test_character_sets_names_removed_descriptors_cleaned(charset, name, institution):
    ds = _ct(SpecificCharacterSet=charset, PatientName=name, InstitutionName=institution)
    ds.StudyDescription = "胸部 CT CHEST " + name.split("^")[0]
    ds.SeriesDescription = "AXIAL 5MM"
    ds.Manufacturer = "ACME"
    raw_in = _bytes(ds)
    tokens = {t for t in harvest(raw_in) if len(t) >= 3}
    assert any(len(t) >= 4 for t in tokens)
    r = deidentify_dicom(raw_in, pseudonymizer=Pseudonymizer(SECRET), site="H02")
    assert r.ok, r.quarantined
    assert _leaks(tokens, r.data) == []
    out = pydicom.dcmread(io.BytesIO(r.data))
    assert out.SpecificCharacterSet == charset
    assert out.StudyDescription == "CT CHEST"
    assert out.SeriesDescription == "AXIAL 5MM"
    assert out.Manufacturer == "ACME"  # not in Table E.1-1: kept
    for enc in ("utf-8", "gb18030"):
        try:
            assert name.split("^")[0].encode(enc) not in r.data
        except UnicodeEncodeError:
            pass


def test_pydicom_charset_files_keep_their_encoding():
    files = _files(PYDICOM_DATA / "charset_files")
    if not files:
        pytest.skip("pydicom charset files not installed")
    done = 0
    for path in files:
        r = deidentify_dicom(path, pseudonymizer=Pseudonymizer(SECRET), site="H01", options=VOUCH)
        if not r.ok:
            continue
        done += 1
        before = pydicom.dcmread(path, force=True)
        out = pydicom.dcmread(io.BytesIO(r.data))
        assert out.get("SpecificCharacterSet") == before.get("SpecificCharacterSet")
        assert str(out.PatientName) == ""
        for elem in out.iterall():  # every text value still decodes
            str(elem.value)
    assert done >= 12


# ---------------------------------------------------------------------------- UIDs, references, dates, meta


def _ct(**kw) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.2.1125.1.1"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.2.1125.2"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.2.1125.3"
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.2.1125.4"
    ds.PatientID = "MRN-00042"
    ds.PatientName = "Doe^Jane"
    ds.PatientBirthDate = "19700304"
    ds.PatientSex = "F"
    ds.PatientAge = "053Y"
    ds.StudyDate = "20230415"
    ds.SeriesDate = "20230415"
    ds.AcquisitionDateTime = "20230415101112.5+0800"
    ds.StudyTime = "101112"
    ds.AccessionNumber = "ACC998877"
    ds.Modality = "CT"
    _add_pixels(ds)
    for k, v in kw.items():
        setattr(ds, k, v)
    return ds


def _add_pixels(ds: Dataset, rows: int = 2, cols: int = 2, pixels: bytes | None = None) -> None:
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 16, 12, 11
    ds.PixelRepresentation = 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = pixels if pixels is not None else b"\x00\x01" * rows * cols


def _bytes(ds: Dataset, ts=ExplicitVRLittleEndian) -> bytes:
    ds = ds.copy()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True, implicit_vr=ts == ImplicitVRLittleEndian)
    return buf.getvalue()


def test_uids_remapped_consistently_and_references_resolve():
    pseudo = Pseudonymizer(SECRET)
    image = _ct()
    ref_item = Dataset()
    ref_item.ReferencedSOPClassUID = CT
    ref_item.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.2.1125.1.1"
    second = _ct(SOPInstanceUID="1.2.826.0.1.3680043.2.1125.1.2")
    second.ReferencedImageSequence = Sequence([ref_item])
    second.SourceImageSequence = Sequence([ref_item.copy()])
    a = deidentify_dicom(image, pseudonymizer=pseudo, site="H01").dataset
    b = deidentify_dicom(second, pseudonymizer=pseudo, site="H01").dataset
    assert a.StudyInstanceUID == b.StudyInstanceUID == pseudo.uid(image.StudyInstanceUID)
    assert a.FrameOfReferenceUID == b.FrameOfReferenceUID
    assert b.ReferencedImageSequence[0].ReferencedSOPInstanceUID == a.SOPInstanceUID
    assert b.SourceImageSequence[0].ReferencedSOPInstanceUID == a.SOPInstanceUID
    assert b.ReferencedImageSequence[0].ReferencedSOPClassUID == CT  # class UIDs are not identifying
    assert a.SOPInstanceUID != b.SOPInstanceUID


def test_same_uids_from_another_machine_with_the_same_secret():
    one = deidentify_dicom(_ct(), pseudonymizer=Pseudonymizer(SECRET), site="H01")
    two = deidentify_dicom(_ct(), pseudonymizer=Pseudonymizer(bytes(SECRET)), site="H01")
    other_key = deidentify_dicom(_ct(), pseudonymizer=Pseudonymizer(b"another-secret-0123456789"), site="H01")
    assert one.data == two.data
    assert one.dataset.SOPInstanceUID != other_key.dataset.SOPInstanceUID
    assert one.dataset.PatientID != other_key.dataset.PatientID


def test_dates_shift_by_the_patient_offset_keeping_time_and_zone():
    pseudo = Pseudonymizer(SECRET)
    r = deidentify_dicom(_ct(), pseudonymizer=pseudo, site="H01")
    shift = pseudo.date_shift_days(pseudo.patient_id("H01", "MRN-00042"))
    assert r.date_shift_days == shift and -365 <= shift <= -1
    d = (date(2023, 4, 15) + timedelta(days=shift)).strftime("%Y%m%d")
    out = r.dataset
    assert out.StudyDate == d and out.SeriesDate == d
    assert out.AcquisitionDateTime == d + "101112.5+0800"
    assert out.StudyTime == "101112"
    assert out.PatientBirthDate == ""  # Z: not kept, even shifted
    assert out.PatientAge == "053Y" and out.PatientSex == "F"  # Retain Patient Characteristics
    assert r.age_band == "50-59" and r.sex == "F"
    assert out.AccessionNumber == ""
    assert out.PatientID == pseudo.patient_id("H01", "MRN-00042")


def test_file_meta_consistent_and_transfer_syntax_kept():
    for ts in (ExplicitVRLittleEndian, ImplicitVRLittleEndian):
        src = _ct()
        src.file_meta = FileMetaDataset()
        src.file_meta.SourceApplicationEntityTitle = "HOSPITAL_PACS"
        r = deidentify_dicom(_bytes(src, ts), pseudonymizer=Pseudonymizer(SECRET), site="H01")
        out = pydicom.dcmread(io.BytesIO(r.data))
        assert out.file_meta.TransferSyntaxUID == ts
        assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
        assert out.file_meta.MediaStorageSOPClassUID == CT
        assert b"HOSPITAL_PACS" not in r.data


def test_private_tags_removed_unless_allow_listed_and_overlays_curves_removed():
    ds = _ct()
    block = ds.private_block(0x0029, "ACME_SAFE", create=True)
    block.add_new(0x10, "LO", "kept value")
    block.add_new(0x11, "LO", "SECRET-PRIVATE-PHI")
    other = ds.private_block(0x0031, "ACME_PHI", create=True)
    other.add_new(0x01, "LO", "OTHER-PRIVATE-PHI")
    ds.add_new(0x60000010, "US", 8)
    ds.add_new(0x60004000, "LT", "OVERLAY-COMMENT-PHI")
    ds.add_new(0x50000005, "US", 1)
    item = Dataset()
    item.PatientName = "Nested^PHI"
    item.add_new(0x00090010, "LO", "NESTED_CREATOR")
    item.add_new(0x00091001, "LO", "NESTED-PRIVATE-PHI")
    ds.ReferencedStudySequence = Sequence([item])
    ds.add_new(0x00400275, "SQ", Sequence([item.copy()]))  # Request Attributes Sequence (X)
    ds.add_new(0x00081250, "SQ", Sequence([item.copy()]))  # Related Series Sequence: not in table, recursed
    pseudo = Pseudonymizer(SECRET)
    r = deidentify_dicom(ds, pseudonymizer=pseudo, site="H01")
    for phi in (b"SECRET-PRIVATE-PHI", b"OTHER-PRIVATE-PHI", b"OVERLAY-COMMENT-PHI", b"NESTED-PRIVATE-PHI",
                b"Nested^PHI", b"kept value"):
        assert phi not in r.data
    assert not any(e.tag.group in (0x6000, 0x5000) for e in r.dataset.iterall())
    safe = DeidOptions(safe_private=frozenset({SafePrivateTag(group=0x0029, creator="ACME_SAFE", offset=0x10)}))
    r2 = deidentify_dicom(ds, pseudonymizer=pseudo, site="H01", options=safe)
    assert b"kept value" in r2.data and b"SECRET-PRIVATE-PHI" not in r2.data and b"OTHER-PRIVATE-PHI" not in r2.data
    assert "113111" in [i.CodeValue for i in r2.dataset.DeidentificationMethodCodeSequence]


def test_output_is_idempotent_and_deterministic():
    pseudo = Pseudonymizer(SECRET)
    once = deidentify_dicom(_bytes(_ct()), pseudonymizer=pseudo, site="H01")
    again = deidentify_dicom(once.data, pseudonymizer=pseudo, site="H01")
    assert again.ok and again.data == once.data
    assert again.date_shift_days == 0
    assert deidentify_dicom(_bytes(_ct()), pseudonymizer=Pseudonymizer(SECRET), site="H01").data == once.data


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mrn=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=16),
    name=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20),
    day=st.dates(min_value=date(1950, 1, 1), max_value=date(2030, 12, 31)),
    site=st.sampled_from(["H01", "H07", "H16"]),
)
def test_property_deterministic_idempotent_no_name_left(mrn, name, day, site):
    name = name.replace("\\", "").replace("^", "").replace("=", "").strip() or "X"
    ds = _ct(SpecificCharacterSet="ISO_IR 192", PatientName=name, PatientID=mrn, StudyDate=day.strftime("%Y%m%d"))
    pseudo = Pseudonymizer(SECRET)
    one = deidentify_dicom(_bytes(ds), pseudonymizer=pseudo, site=site)
    assert one.ok
    assert deidentify_dicom(_bytes(ds), pseudonymizer=Pseudonymizer(SECRET), site=site).data == one.data
    assert deidentify_dicom(one.data, pseudonymizer=pseudo, site=site).data == one.data
    assert one.dataset.StudyDate == (day + timedelta(days=one.date_shift_days)).strftime("%Y%m%d")
    if len(name.encode()) >= 4:
        assert str(one.dataset.PatientName) == ""
        assert name.encode("utf-8") not in one.data


# ---------------------------------------------------------------------------- corrupted input


def _reason(source, options=None) -> QuarantineReason:
    r = deidentify_dicom(source, pseudonymizer=Pseudonymizer(SECRET), site="H01", options=options)
    assert not r.ok
    assert "Doe" not in r.quarantined.detail and "MRN" not in r.quarantined.detail
    return r.quarantined.reason


def _image(rows=4, cols=4, pixels: bytes | None = None, **kw) -> Dataset:
    ds = _ct(**kw)
    _add_pixels(ds, rows, cols, pixels)
    return ds


def test_truncated_files_are_quarantined():
    data = _bytes(_image())
    assert deidentify_dicom(data, pseudonymizer=Pseudonymizer(SECRET), site="H01").ok
    for cut in (len(data) - 7, len(data) // 2, 200, 140, 10):
        assert _reason(data[:cut]) in {
            QuarantineReason.TRUNCATED,
            QuarantineReason.UNREADABLE,
            QuarantineReason.PIXEL_DATA_LENGTH,
            QuarantineReason.UNKNOWN_SOP_CLASS,
        }
    assert _reason(b"") is QuarantineReason.UNREADABLE
    no_pixels = _ct()
    del no_pixels.PixelData
    assert _reason(_bytes(no_pixels)) is QuarantineReason.TRUNCATED
    assert _reason(b"not a dicom file at all" * 10) in {QuarantineReason.UNREADABLE, QuarantineReason.UNKNOWN_SOP_CLASS}


def test_wrong_pixel_length_is_quarantined():
    assert _reason(_bytes(_image(pixels=b"\x00" * 30))) is QuarantineReason.PIXEL_DATA_LENGTH
    assert _reason(_bytes(_image(pixels=b"\x00" * 64))) is QuarantineReason.PIXEL_DATA_LENGTH


def _deep_sequence_file(depth: int) -> bytes:
    """Explicit VR little endian body: Content Sequence items nested ``depth`` deep (undefined lengths)."""
    ds = _ct()
    del ds.PixelData
    head = _bytes(ds)
    pixels = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, 8) + b"\x00\x01" * 4
    seq_open = struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, 0xFFFFFFFF)
    item_open = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    item_close = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
    seq_close = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    body = (seq_open + item_open) * depth + (item_close + seq_close) * depth
    return head + body + pixels


def test_300_deep_sequences_are_quarantined():
    assert _reason(_deep_sequence_file(300)) is QuarantineReason.NESTING_TOO_DEEP
    assert deidentify_dicom(_deep_sequence_file(3), pseudonymizer=Pseudonymizer(SECRET), site="H01").ok


def test_built_deep_dataset_is_quarantined():
    top = _ct()
    cur = top
    for _ in range(40):
        item = Dataset()
        cur.ReferencedStudySequence = Sequence([item])  # X/Z -> Z would drop it; use a kept sequence
        cur.add_new(0x00081250, "SQ", Sequence([item]))
        del cur.ReferencedStudySequence
        cur = item
    assert _reason(top) is QuarantineReason.NESTING_TOO_DEEP


@pytest.mark.parametrize("uid", ["../../etc/passwd", "1.2.3/../../x", "1.2.3\\..\\x", "1.2.3.4a"])
def test_uid_with_path_traversal_is_quarantined(uid):
    assert _reason(_ct(StudyInstanceUID=uid)) is QuarantineReason.INVALID_UID
    assert _reason(_ct(SOPClassUID=uid)) is QuarantineReason.INVALID_UID


def test_burned_in_annotation_gate():
    assert _reason(_ct(BurnedInAnnotation="YES")) is QuarantineReason.BURNED_IN_ANNOTATION
    for modality, cls in (("US", "1.2.840.10008.5.1.4.1.1.6.1"), ("OT", SC), ("CR", "1.2.840.10008.5.1.4.1.1.1"),
                          ("DX", "1.2.840.10008.5.1.4.1.1.1.1")):
        ds = _ct(Modality=modality, SOPClassUID=cls)
        assert _reason(ds) is QuarantineReason.BURNED_IN_ANNOTATION
        assert deidentify_dicom(ds, pseudonymizer=Pseudonymizer(SECRET), site="H01", options=VOUCH).ok
        ds.BurnedInAnnotation = "NO"
        assert deidentify_dicom(ds, pseudonymizer=Pseudonymizer(SECRET), site="H01").ok
    checked = DeidOptions(pixels_clean=lambda ds: False)
    assert _reason(_ct(Modality="US", SOPClassUID="1.2.840.10008.5.1.4.1.1.6.1"), checked) is QuarantineReason.BURNED_IN_ANNOTATION


def test_unknown_and_missing_sop_class():
    assert _reason(_ct(SOPClassUID="1.2.840.10008.5.1.4.1.1.88.11")) is QuarantineReason.UNKNOWN_SOP_CLASS
    ds = _ct()
    del ds.SOPClassUID
    assert _reason(ds) is QuarantineReason.UNKNOWN_SOP_CLASS


def test_wrong_argument_type_is_a_caller_error_reported_as_quarantine_without_crash():
    r = deidentify_dicom(12345, pseudonymizer=Pseudonymizer(SECRET), site="H01")
    assert not r.ok and r.quarantined.reason is QuarantineReason.INTERNAL_ERROR


def test_mutated_bytes_never_crash_and_never_leak():
    import random

    base = _bytes(_image(PatientName="Fuzzname^Leaky"))
    rng = random.Random(20261126)
    seen = set()
    for _ in range(300):
        b = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            b[rng.randrange(128, len(b))] = rng.randrange(256)
        r = deidentify_dicom(bytes(b), pseudonymizer=Pseudonymizer(SECRET), site="H01")
        if r.ok:
            assert b"Fuzzname" not in r.data and b"Leaky" not in r.data
            seen.add("ok")
        else:
            assert r.quarantined.reason is not QuarantineReason.INTERNAL_ERROR, r.quarantined.detail
            seen.add(r.quarantined.reason)
    assert "ok" in seen and len(seen) >= 4


def test_undefined_public_tags_are_removed():
    ds = _ct()
    ds.add_new(0x00100047, "PN", "Hidden^Name")  # not in the data dictionary
    ds.add_new(0x00080000, "UL", 100)  # group length
    r = deidentify_dicom(ds, pseudonymizer=Pseudonymizer(SECRET), site="H01")
    assert r.ok and b"Hidden" not in r.data and 0x00080000 not in r.dataset
