"""Identified chest radiograph DICOM Part 10 files as a hospital PACS would export them.

Every value (UIDs, dates, times, serial numbers) comes from the caller, who draws it from the site's seeded random
stream, so the bytes of a file depend on the seed only. The file carries the PHI a real export does: patient name
(with an ideographic component group where the character set allows), IDs, birth date, address, telephone,
physicians, institution, station, device serial, free-text comments, a vendor private block repeating the patient
ID and the nested RequestAttributesSequence and OtherPatientIDsSequence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.sites import SiteProfile
from datasets.synthetic._identity import Person, PersonName

CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_PRESENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"
# A fixed 2.25 UID (UUID-derived form) identifying this generator as the implementation that wrote the files.
IMPLEMENTATION_CLASS_UID = "2.25.184327705927131337045012945853119374281"
IMPLEMENTATION_VERSION = "CLINVAL_SYNTH_1"


@dataclass(frozen=True, slots=True, kw_only=True)
class RadiographStudy:
    """Everything about one radiograph except the patient and the pixels."""

    study_uid: str
    series_uid: str
    sop_uid: str
    accession: str
    study_id: str
    when: dt.datetime
    age_years: int
    view: str  # "PA" or "AP"
    referring: PersonName
    performing: PersonName
    operator: PersonName
    station: str
    device_serial: str
    software: str
    study_description: str
    image_comments: str
    patient_comments: str
    requested_procedure_id: str
    scheduled_step_id: str
    burned_in: bool


def _da(d: dt.date) -> str:
    return f"{d:%Y%m%d}"


def _tm(t: dt.datetime) -> str:
    return f"{t:%H%M%S}"


def private_creator(site: SiteProfile) -> str:
    """Private creator string of the site's vendor block (group 0x0029)."""
    return f"{site.imaging.manufacturer.split()[0].upper()} SYNTH PRIVATE"


def build_dataset(*, site: SiteProfile, person: Person, study: RadiographStudy, pixels: np.ndarray):
    """Assemble the pydicom Dataset (with file meta) of one radiograph."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence

    img = site.imaging
    charset = img.specific_character_set
    sop_class = CR_STORAGE if img.modality == "CR" else DX_PRESENTATION_STORAGE

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = study.sop_uid
    meta.TransferSyntaxUID = img.transfer_syntax_uid
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = charset
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = study.sop_uid
    day, time = _da(study.when), _tm(study.when)
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = day
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = time
    ds.AccessionNumber = study.accession
    ds.Modality = img.modality
    if img.modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
    ds.Manufacturer = img.manufacturer
    ds.InstitutionName = site.name_local if charset != "ISO_IR 100" else site.name
    ds.InstitutionAddress = site.address
    ds.ReferringPhysicianName = study.referring.dicom(charset)
    ds.StationName = study.station
    ds.StudyDescription = study.study_description
    ds.SeriesDescription = f"CHEST {study.view}"
    ds.InstitutionalDepartmentName = "Radiology"
    ds.PerformingPhysicianName = study.performing.dicom(charset)
    ds.OperatorsName = study.operator.dicom(charset)
    ds.ManufacturerModelName = img.model_name

    ds.PatientName = person.name.dicom(charset)
    ds.PatientID = person.mrn
    ds.IssuerOfPatientID = site.code
    ds.PatientBirthDate = _da(person.birth_date)
    ds.PatientSex = person.sex
    other = Dataset()
    if person.resident_id:
        other.PatientID = person.resident_id
        other.IssuerOfPatientID = "CN RESIDENT IDENTITY CARD"
    else:
        other.PatientID = person.passport
        other.IssuerOfPatientID = "PASSPORT"
    other.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence = Sequence([other])
    ds.PatientAge = f"{study.age_years:03d}Y"
    ds.PatientAddress = person.address if charset != "ISO_IR 100" else person.address_en
    ds.PatientTelephoneNumbers = person.mobile
    ds.PatientComments = study.patient_comments

    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = study.view
    ds.DeviceSerialNumber = study.device_serial
    ds.SoftwareVersions = study.software
    spacing = img.field_of_view_mm / pixels.shape[0]
    ds.ImagerPixelSpacing = [f"{spacing:.4f}", f"{spacing:.4f}"]
    ds.PixelSpacing = [f"{spacing:.4f}", f"{spacing:.4f}"]

    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = study.series_uid
    ds.StudyID = study.study_id
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PatientOrientation = ["P", "F"] if study.view == "AP" else ["A", "F"]
    request = Dataset()
    request.AccessionNumber = study.accession
    request.RequestedProcedureID = study.requested_procedure_id
    request.ScheduledProcedureStepID = study.scheduled_step_id
    request.RequestedProcedureDescription = study.study_description
    ds.RequestAttributesSequence = Sequence([request])
    ds.ImageComments = study.image_comments
    ds.BurnedInAnnotation = "YES" if study.burned_in else "NO"

    top = (1 << img.bits_stored) - 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = img.photometric_interpretation
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.BitsAllocated = 16
    ds.BitsStored = img.bits_stored
    ds.HighBit = img.bits_stored - 1
    ds.PixelRepresentation = 0
    ds.WindowCenter = str((top + 1) // 2)
    ds.WindowWidth = str(top + 1)
    ds.LossyImageCompression = "00"

    block = ds.private_block(0x0029, private_creator(site), create=True)
    block.add_new(0x10, "LO", person.mrn)
    block.add_new(0x11, "LO", study.station)
    block.add_new(0x12, "DA", day)

    ds.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    return ds


def write_radiograph(path: Path, *, site: SiteProfile, person: Person, study: RadiographStudy,
                     pixels: np.ndarray) -> int:
    """Write one radiograph as a DICOM Part 10 file; return the number of bytes written.

    Value validation is switched off while building and writing (it costs about a third of the time); the values
    are valid by construction, which the tests check with validation on (:func:`build_dataset` alone).
    """
    from pydicom.config import disable_value_validation
    from pydicom.filebase import DicomBytesIO

    with disable_value_validation():
        ds = build_dataset(site=site, person=person, study=study, pixels=pixels)
        buffer = DicomBytesIO()
        ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(data)
