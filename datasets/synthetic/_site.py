"""One hospital's export: its patients, its chest radiographs, its admissions, written as the hospital hands them over.

:func:`generate_site` is the unit of work of :func:`datasets.synthetic.generate_export` (one call per site, possibly
in a worker process). All randomness comes from :func:`site_streams`, seeded from ``(seed, site index)``, so a site's
files do not depend on which other sites are generated, in which order, or by how many workers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.sites import SiteProfile, get_site
from datasets.synthetic import _fhir
from datasets.synthetic._aki import simulate_admission
from datasets.synthetic._dicom import CR_STORAGE, DX_PRESENTATION_STORAGE, RadiographStudy, write_radiograph
from datasets.synthetic._font import burn_text
from datasets.synthetic._identity import Person, PersonName, chinese_name, make_person, mobile_number, western_name
from datasets.synthetic._radiograph import acquire, render_attenuation

TASKS = ("cxr-pneumonia", "aki-48h")
REFERENCE_COLUMNS = ("mrn", "accession_number", "visit_number", "index_time", "label", "established_by")
_EPOCH = dt.datetime(2024, 1, 1, 0, 0, 0)
_OVERLAP = 0.25  # share of admissions whose patient also had a chest radiograph


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteResult:
    """What one site's generation wrote (returned from the worker; carries PHI tokens, never log it)."""

    code: str
    counts: tuple[tuple[str, int, int], ...]  # (task, cases, positive reference labels)
    files: int
    bytes: int
    phi: dict  # class -> sorted list of tokens
    burned_in_files: tuple[str, ...]


def site_streams(seed: int, site: SiteProfile) -> dict[str, np.random.Generator]:
    """Independent random streams of one site: ``people``, ``staff``, ``cxr-pneumonia`` and ``aki-48h``."""
    names = ("people", "staff", "cxr-pneumonia", "aki-48h")
    return {
        name: np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(site.index, k))))
        for k, name in enumerate(names)
    }


def _uid(rng: np.random.Generator) -> str:
    return "2.25." + str(int.from_bytes(rng.bytes(16), "big"))


class _Tokens:
    def __init__(self) -> None:
        self.by_class: dict[str, set[str]] = {}

    def add(self, kind: str, *values: str) -> None:
        bucket = self.by_class.setdefault(kind, set())
        bucket.update(v for v in values if v)

    def add_name(self, kind: str, name: PersonName) -> None:
        self.add(kind, *name.tokens())

    def as_dict(self) -> dict:
        return {k: sorted(v) for k, v in sorted(self.by_class.items())}


@dataclass(frozen=True, slots=True)
class _Staff:
    name: PersonName
    phone: str


def _staff(rng: np.random.Generator, site: SiteProfile, n: int) -> list[_Staff]:
    out = []
    for _ in range(n):
        sex = "M" if rng.random() < 0.5 else "F"
        western = rng.random() < site.clinical.western_name_fraction * 0.5
        out.append(_Staff(western_name(rng, sex) if western else chinese_name(rng, sex), mobile_number(rng)))
    return out


def _people(rng: np.random.Generator, site: SiteProfile, n_cxr: int, n_aki: int) -> tuple[list[Person], int]:
    """Patient pool; chest radiograph cases use ``[0, n_cxr)``, admissions ``[start, start + n_aki)``."""
    overlap = min(n_cxr, int(round(_OVERLAP * n_aki)))
    start = n_cxr - overlap
    n = start + n_aki
    clin = site.clinical
    digits = rng.choice(10**7, size=n, replace=False)
    people = []
    for i in range(n):
        sex = "F" if rng.random() < clin.female_fraction else "M"
        older = 6.0 if i >= start else 0.0
        age = int(np.clip(round(rng.normal(clin.age_mean + older, clin.age_sd)), 18, 96))
        birth = (_EPOCH - dt.timedelta(days=int(365.25 * age) + int(rng.integers(0, 365)))).date()
        mrn = f"{site.index:02d}{int(digits[i]):07d}" if site.index % 3 else f"ZY{site.index:02d}{int(digits[i]):07d}"
        people.append(make_person(rng, sex=sex, birth_date=birth, western=rng.random() < clin.western_name_fraction,
                                  mrn=mrn, city=site.city, city_local=site.city_local, region=site.region_code))
    return people, start


def _age(person: Person, when: dt.datetime) -> int:
    b = person.birth_date
    return when.year - b.year - ((when.month, when.day) < (b.month, b.day))


def _ascii_ok(site: SiteProfile, text: str, fallback: str) -> str:
    return fallback if site.imaging.specific_character_set == "ISO_IR 100" else text


class _Ids:
    prefixes = {"Patient": "pat", "Encounter": "enc", "ServiceRequest": "sr", "ImagingStudy": "img",
                "DiagnosticReport": "dr", "Condition": "cond", "Observation": "obs", "MedicationRequest": "medrx"}

    def __init__(self) -> None:
        self.n: dict[str, int] = {}

    def __call__(self, kind: str) -> str:
        self.n[kind] = self.n.get(kind, 0) + 1
        return f"{self.prefixes[kind]}-{self.n[kind]:06d}"


def generate_site(out_dir: str, code: str, cases: int, tasks: tuple[str, ...], seed: int,
                  image_size: int) -> SiteResult:
    """Write ``out_dir/CODE/{dicom,fhir,reference}`` for one site and return what was written."""
    site = get_site(code)
    root = Path(out_dir) / site.code
    streams = site_streams(seed, site)
    people, aki_start = _people(streams["people"], site, cases, cases)
    srng = streams["staff"]
    referrers, radiologists, operators = _staff(srng, site, 8), _staff(srng, site, 4), _staff(srng, site, 5)
    attendings, nurses = _staff(srng, site, 6), _staff(srng, site, 6)
    devices = [(f"{site.code}-XR{k + 1:02d}" if k < 2 else f"{site.code}-PORTABLE{k - 1}",
                f"SN{int(srng.integers(10**8, 10**9))}{site.code}", f"VE{int(srng.integers(1, 9))}.{k}")
               for k in range(3)]

    tokens = _Tokens()
    tokens.add("institution_name", site.name, site.name_local)
    tokens.add("institution_address", site.address)
    resources: dict[str, list[dict]] = {}
    ids = _Ids()
    patient_ids: dict[int, str] = {}
    rows: dict[str, list[tuple]] = {}
    counts = []
    files = 0
    nbytes = 0
    burned: list[str] = []
    noise = site.reference.label_noise

    def emit(res: dict) -> None:
        resources.setdefault(res["resourceType"], []).append(res)

    def patient_id(i: int) -> str:
        if i not in patient_ids:
            patient_ids[i] = ids("Patient")
            p = people[i]
            emit(_fhir.patient(site, p, patient_ids[i]))
            tokens.add_name("patient_name", p.name)
            tokens.add_name("contact_name", p.contact)
            tokens.add("mrn", p.mrn)
            tokens.add("resident_id", p.resident_id)
            tokens.add("passport_number", p.passport)
            tokens.add("phone", p.mobile, p.contact_mobile)
            tokens.add("address", p.address_local, p.address_en)
            tokens.add("birth_date", f"{p.birth_date:%Y%m%d}", p.birth_date.isoformat())
        return patient_ids[i]

    if "cxr-pneumonia" in tasks:
        rng = streams["cxr-pneumonia"]
        img = site.imaging
        sop_class = CR_STORAGE if img.modality == "CR" else DX_PRESENTATION_STORAGE
        positives = 0
        table = []
        for i in range(cases):
            person = people[i]
            when = _EPOCH + dt.timedelta(days=int(rng.integers(0, 600)), seconds=int(rng.integers(7 * 3600, 22 * 3600)))
            truth = bool(rng.random() < site.clinical.pneumonia_prevalence)
            label = truth != bool(rng.random() < noise)
            positives += label
            ap = bool(rng.random() < img.ap_fraction)
            att, finding = render_attenuation(rng, size=image_size, fov_mm=img.field_of_view_mm, pneumonia=truth,
                                              ap_view=ap)
            pixels = acquire(att, rng, img)
            burned_in = bool(rng.random() < img.burned_in_fraction)
            if burned_in:
                scale = max(1, image_size // 200)
                value = (1 << img.bits_stored) - 1 if img.photometric_interpretation == "MONOCHROME2" else 0
                burn_text(pixels, f"{person.name.family} {person.name.given}".upper(), row=2 * scale,
                          col=2 * scale, value=value, scale=scale)
                burn_text(pixels, f"ID {person.mrn} {when:%Y-%m-%d}", row=11 * scale, col=2 * scale,
                          value=value, scale=scale)
            accession = f"{img.modality}{when:%y%m%d}{i + 1:05d}"
            referrer = referrers[int(rng.integers(len(referrers)))]
            operator = operators[int(rng.integers(len(operators)))]
            radiologist = radiologists[int(rng.integers(len(radiologists)))]
            station, serial, software = devices[2 if ap else int(rng.integers(2))]
            pname = person.name
            r = rng.random()
            image_comments = (f"{pname.text} unable to hold breath" if r < 0.3 else
                              f"Repeat requested by {referrer.name.text}" if r < 0.5 else
                              "Portable exam at bedside" if ap else "Good inspiration")
            r = rng.random()
            patient_comments = (f"Emergency contact {person.contact.text} {person.contact_mobile}" if r < 0.4 else
                                f"Allergy: penicillin. Mobile {person.mobile}" if r < 0.7 else "No known allergy")
            plain = f"CHEST {'AP' if ap else 'PA'}"
            description = (_ascii_ok(site, f"胸部正位片 {plain}", plain) +
                           (f" {pname.family.upper()} {pname.given.upper()}" if rng.random() < 0.2 else ""))
            study = RadiographStudy(
                study_uid=_uid(rng), series_uid=_uid(rng), sop_uid=_uid(rng), accession=accession,
                study_id=f"{i + 1:06d}", when=when, age_years=_age(person, when), view="AP" if ap else "PA",
                referring=referrer.name, performing=radiologist.name, operator=operator.name, station=station,
                device_serial=serial, software=software, study_description=description,
                image_comments=image_comments, patient_comments=patient_comments,
                requested_procedure_id=f"RP{i + 1:06d}", scheduled_step_id=f"SPS{i + 1:06d}", burned_in=burned_in,
            )
            rel = Path("dicom") / f"ST{i + 1:06d}" / "SE000001" / "IM000001.dcm"
            nbytes += write_radiograph(root / rel, site=site, person=person, study=study, pixels=pixels)
            files += 1
            if burned_in:
                burned.append(f"{site.code}/{rel.as_posix()}")
            for staff in (referrer, operator, radiologist):
                tokens.add_name("physician_name", staff.name)
            tokens.add("phone", referrer.phone)
            tokens.add("accession_number", accession)
            tokens.add("uid", study.study_uid, study.series_uid, study.sop_uid)
            tokens.add("station_name", station)
            tokens.add("device_serial", serial)
            identifying = (pname.text, f"{pname.family.upper()} {pname.given.upper()}", referrer.name.text,
                           person.mobile, person.contact_mobile)
            tokens.add("free_text", *(t for t in (image_comments, patient_comments, description)
                                      if any(x in t for x in identifying)))

            pid = patient_id(i)
            enc = ids("Encounter")
            visit = f"MZ{when:%y%m%d}{site.index:02d}{i + 1:05d}"
            tokens.add("visit_number", visit)
            reason = "cough and fever" if rng.random() < 0.6 else "shortness of breath"
            emit(_fhir.encounter(site, rid=enc, patient_id=pid, person=person, visit=visit,
                                 klass="EMER" if ap else "AMB", start=when - dt.timedelta(minutes=50),
                                 end=when + dt.timedelta(hours=2), reason=reason, attending=referrer.name))
            sr = ids("ServiceRequest")
            emit(_fhir.service_request(site, rid=sr, patient_id=pid, encounter_id=enc, person=person,
                                       accession=accession, when=when - dt.timedelta(minutes=30),
                                       referring=referrer.name, referring_phone=referrer.phone, reason=reason))
            tokens.add("free_text", f"Please compare with prior films of {pname.text} if available.")
            im = ids("ImagingStudy")
            emit(_fhir.imaging_study(site, rid=im, patient_id=pid, encounter_id=enc, request_id=sr,
                                     accession=accession, study_uid=study.study_uid, series_uid=study.series_uid,
                                     sop_uid=study.sop_uid, sop_class=sop_class, when=when,
                                     referring=referrer.name, operator=operator.name, description=plain))
            if label:
                where = finding.side or ("right" if rng.random() < 0.5 else "left")
                zone = finding.zone or "lower"
                findings = f"{finding.pattern or 'patchy'} airspace opacity in the {where} {zone} zone."
                impression = f"Findings consistent with pneumonia, {where} {zone} zone."
            else:
                findings = "Lungs are clear. Heart size normal. No pleural effusion."
                impression = "No acute cardiopulmonary abnormality."
            emit(_fhir.diagnostic_report(site, rid=ids("DiagnosticReport"), patient_id=pid, encounter_id=enc,
                                         study_id=im, person=person, accession=accession, when=when,
                                         radiologist=radiologist.name, impression=impression, findings=findings))
            table.append((person.mrn, accession, "", _fhir.fhir_time(when), int(label),
                          site.reference.describe("cxr-pneumonia")))
        rows["cxr-pneumonia"] = table
        counts.append(("cxr-pneumonia", cases, positives))

    if "aki-48h" in tasks:
        rng = streams["aki-48h"]
        positives = 0
        table = []
        for j in range(cases):
            i = aki_start + j
            person = people[i]
            admit = _EPOCH + dt.timedelta(days=int(rng.integers(0, 600)), seconds=int(rng.integers(0, 86400)))
            course = simulate_admission(rng, age=_age(person, admit), sex=person.sex, admit=admit,
                                        risk_shift=site.clinical.aki_risk_shift, unit=site.clinical.creatinine_unit)
            label = course.outcome != bool(rng.random() < noise)
            positives += label
            attending = attendings[int(rng.integers(len(attendings)))]
            nurse = nurses[int(rng.integers(len(nurses)))]
            tokens.add_name("physician_name", attending.name)
            tokens.add_name("physician_name", nurse.name)
            pid = patient_id(i)
            enc = ids("Encounter")
            visit = f"ZY{admit:%y%m%d}{site.index:02d}{j + 1:05d}"
            tokens.add("visit_number", visit)
            emit(_fhir.encounter(site, rid=enc, patient_id=pid, person=person, visit=visit, klass="IMP",
                                 start=course.admit, end=course.discharge, reason=course.reason,
                                 attending=attending.name))
            for res in _fhir.inpatient_resources(site, course=course, patient_id=pid, encounter_id=enc,
                                                 next_id=ids, attending=attending.name, nurse=nurse.name):
                emit(res)
            table.append((person.mrn, "", visit, _fhir.fhir_time(course.index_time), int(label),
                          site.reference.describe("aki-48h")))
        rows["aki-48h"] = table
        counts.append(("aki-48h", cases, positives))

    fhir_dir = root / "fhir"
    fhir_dir.mkdir(parents=True, exist_ok=True)
    for kind in sorted(resources):
        data = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in resources[kind])
        path = fhir_dir / f"{kind}.ndjson"
        nbytes += path.write_bytes(data.encode("utf-8"))
        files += 1
    ref_dir = root / "reference"
    ref_dir.mkdir(parents=True, exist_ok=True)
    for task in TASKS:
        if task not in rows:
            continue
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(REFERENCE_COLUMNS)
        writer.writerows(rows[task])
        nbytes += (ref_dir / f"{task}.csv").write_bytes(buf.getvalue().encode("utf-8"))
        files += 1
    return SiteResult(code=site.code, counts=tuple(counts), files=files, bytes=nbytes, phi=tokens.as_dict(),
                      burned_in_files=tuple(burned))
