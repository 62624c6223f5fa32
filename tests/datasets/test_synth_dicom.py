"""The radiographs read as real DICOM Part 10 files and carry each site's conventions."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from _synth_fixtures import SMALL_SITES, dicom_files, small_export  # noqa: F401
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from datasets.sites import get_site
from datasets.synthetic._font import text_mask


def _read(small_export, site):
    root, _ = small_export
    return [pydicom.dcmread(p) for p in dicom_files(root, site)]


@pytest.mark.parametrize("site", SMALL_SITES)
def test_every_file_reads_with_the_site_conventions(small_export, site):
    profile = get_site(site).imaging
    for ds in _read(small_export, site):
        assert ds.preamble == b"\0" * 128  # Part 10 file with file meta
        meta = ds.file_meta
        assert meta.TransferSyntaxUID == profile.transfer_syntax_uid
        assert meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert meta.MediaStorageSOPClassUID == ds.SOPClassUID
        assert ds.Modality == profile.modality
        assert ds.SOPClassUID == ("1.2.840.10008.5.1.4.1.1.1" if profile.modality == "CR"
                                  else "1.2.840.10008.5.1.4.1.1.1.1")
        assert ds.Manufacturer == profile.manufacturer and ds.ManufacturerModelName == profile.model_name
        assert ds.SpecificCharacterSet == profile.specific_character_set
        assert ds.PhotometricInterpretation == profile.photometric_interpretation
        assert ds.BitsStored == profile.bits_stored and ds.HighBit == profile.bits_stored - 1
        px = ds.pixel_array
        assert px.shape == (64, 64) and px.dtype == np.uint16
        assert int(px.max()) <= 2 ** profile.bits_stored - 1
        assert float(ds.PixelSpacing[0]) == pytest.approx(profile.field_of_view_mm / 64, abs=1e-3)
        for uid in (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID):
            assert uid.startswith("2.25.") and len(uid) <= 64 and uid.is_valid


def test_transfer_syntaxes_differ(small_export):
    seen = {site: _read(small_export, site)[0].file_meta.TransferSyntaxUID for site in ("DEV", "H12", "H15")}
    assert seen == {"DEV": ExplicitVRLittleEndian, "H12": ImplicitVRLittleEndian,
                    "H15": DeflatedExplicitVRLittleEndian}
    root, _ = small_export
    raw = dicom_files(root, "H15")[0].read_bytes()
    assert b"DICM" == raw[128:132]
    # deflated: the patient name is not readable in the raw bytes, but is after decoding
    ds = pydicom.dcmread(dicom_files(root, "H15")[0])
    assert str(ds.PatientName).split("=")[0].encode() not in raw[132 + 300:]


def test_gb18030_site_encodes_chinese_names_with_ideographic_group(small_export):
    root, _ = small_export
    found = 0
    for path in dicom_files(root, "H09"):
        ds = pydicom.dcmread(path)
        name = ds.PatientName
        assert ds.SpecificCharacterSet == "GB18030"
        if name.ideographic:
            found += 1
            assert "^" in name.alphabetic and "^" in name.ideographic
            # the ideographic group is encoded in GB18030, not UTF-8, in the file bytes
            ideo = name.ideographic.split("^")[0]
            raw = path.read_bytes()
            assert ideo.encode("gb18030") in raw and ideo.encode("utf-8") not in raw
    assert found >= 10  # H09 has only Chinese patients
    utf8 = [pydicom.dcmread(p).PatientName for p in dicom_files(root, "DEV")]
    assert any(n.ideographic for n in utf8)
    latin = [pydicom.dcmread(p).PatientName for p in dicom_files(root, "H10")]
    assert not any(n.ideographic for n in latin)  # ISO_IR 100 site: romanised names only


def test_monochrome1_sites_store_inverted_pixels(small_export):
    # lungs are dark on a displayed chest radiograph: the lung-field boxes hold low values in MONOCHROME2 files
    # and high values in MONOCHROME1 files, relative to the (bright) abdomen below the diaphragm.
    for site, inverted in (("DEV", False), ("H04", True), ("H12", False)):
        for ds in _read(small_export, site):
            px = ds.pixel_array.astype(float)
            lung = np.concatenate([px[18:38, 14:28].ravel(), px[18:38, 36:50].ravel()]).mean()
            abdomen = px[58:63, 8:56].mean()
            assert (lung > abdomen) == inverted, site


def test_phi_attributes_private_block_and_nested_sequences(small_export):
    for site in SMALL_SITES:
        for ds in _read(small_export, site):
            assert ds.PatientID and ds.PatientBirthDate and ds.PatientAddress and ds.PatientTelephoneNumbers
            assert ds.AccessionNumber and ds.ReferringPhysicianName and ds.InstitutionName
            assert ds.InstitutionAddress and ds.StationName and ds.DeviceSerialNumber
            assert ds.ImageComments and ds.StudyDescription and ds.PatientComments
            assert ds.PerformingPhysicianName and ds.OperatorsName
            creator = f"{get_site(site).imaging.manufacturer.split()[0].upper()} SYNTH PRIVATE"
            block = ds.private_block(0x0029, creator)
            value = block[0x10].value  # UN bytes where the file is implicit VR (no VR for private tags)
            if isinstance(value, bytes):
                value = value.decode("ascii").strip()
            assert value == ds.PatientID  # the vendor block repeats the patient ID
            (request,) = ds.RequestAttributesSequence
            assert request.AccessionNumber == ds.AccessionNumber and request.RequestedProcedureID
            (other,) = ds.OtherPatientIDsSequence
            assert other.PatientID and other.PatientID != ds.PatientID
            assert other.IssuerOfPatientID in ("CN RESIDENT IDENTITY CARD", "PASSPORT")


def test_burned_in_text_is_in_the_pixels(small_export):
    root, _ = small_export
    yes = no = 0
    for site in SMALL_SITES:
        img = get_site(site).imaging
        white = 2 ** img.bits_stored - 1 if img.photometric_interpretation == "MONOCHROME2" else 0
        for path in dicom_files(root, site):
            ds = pydicom.dcmread(path)
            px = ds.pixel_array
            name = str(ds.PatientName).split("=")[0].replace("^", " ").upper()
            mask = text_mask(name)[:, : 64 - 2]
            region = px[2:2 + mask.shape[0], 2:2 + mask.shape[1]]
            drawn = bool(np.all(region[mask] == white))
            if ds.BurnedInAnnotation == "YES":
                yes += 1
                assert drawn, path.name
            else:
                no += 1
                assert not drawn
    assert yes >= 2 and no >= 2


def test_values_pass_pydicom_validation(small_export):
    # the writer switches pydicom's value validation off for speed; check every value against it here
    from pydicom import config
    from pydicom.valuerep import validate_value

    root, _ = small_export
    for site in SMALL_SITES:
        for path in dicom_files(root, site)[:3]:
            ds = pydicom.dcmread(path)
            for elem in ds.iterall():
                if elem.VR in ("SQ", "OB", "OW", "UN") or elem.value is None:
                    continue
                values = elem.value if elem.VM > 1 else [elem.value]
                for value in values:  # validate the string form, as written (numbers stay numbers)
                    raw = value if elem.VR in ("US", "UL", "SS", "SL", "FL", "FD") else str(value)
                    validate_value(elem.VR, raw, config.RAISE)
