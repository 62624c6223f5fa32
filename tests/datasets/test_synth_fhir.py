"""The FHIR exports: valid R4 resources, each site's coding conventions, linked patients, KDIGO outcomes."""

from __future__ import annotations

import datetime as dt
import importlib

import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from _synth_fixtures import (  # noqa: F401
    SMALL_SITES,
    admissions,
    creatinine_mgdl,
    dicom_files,
    parse_time,
    read_ndjson,
    read_reference,
    small_export,
)

from datasets.sites import get_site
from datasets.synthetic import kdigo_aki

TYPES = ("Patient", "Encounter", "ServiceRequest", "ImagingStudy", "DiagnosticReport", "Condition", "Observation",
         "MedicationRequest")


def _resources(root, site, kind):
    path = root / site / "fhir" / f"{kind}.ndjson"
    return read_ndjson(path) if path.exists() else []


@pytest.mark.parametrize("site", SMALL_SITES)
def test_a_sample_of_every_resource_type_validates_with_fhir_resources(small_export, site):
    root, _ = small_export
    for kind in TYPES:
        resources = _resources(root, site, kind)
        assert resources, f"{site} exported no {kind}"
        cls = getattr(importlib.import_module(f"fhir.resources.R4B.{kind.lower()}"), kind)
        step = max(1, len(resources) // 8)
        for res in resources[::step]:
            model = cls.model_validate(res)
            assert model.id == res["id"]


def test_ids_are_unique_and_references_resolve(small_export):
    root, _ = small_export
    for site in SMALL_SITES:
        ids = {kind: [r["id"] for r in _resources(root, site, kind)] for kind in TYPES}
        for kind, values in ids.items():
            assert len(values) == len(set(values)), kind
        patients, encounters = set(ids["Patient"]), set(ids["Encounter"])
        for kind in TYPES[1:]:
            for r in _resources(root, site, kind):
                assert r["subject"]["reference"].removeprefix("Patient/") in patients
                if kind != "Encounter":
                    assert r["encounter"]["reference"].removeprefix("Encounter/") in encounters


def _creatinine_codings(root, site):
    codings = set()
    for obs in _resources(root, site, "Observation"):
        if creatinine_mgdl(obs) is not None:
            codings.add((tuple((c["system"], c["code"]) for c in obs["code"]["coding"]), obs["valueQuantity"]["code"]))
    return codings


def test_creatinine_units_and_codes_follow_the_site(small_export):
    root, _ = small_export
    loinc = "http://loinc.org"
    assert _creatinine_codings(root, "DEV") == {(((loinc, "2160-0"),), "mg/dL")}
    assert _creatinine_codings(root, "H04") == {(((loinc, "14682-9"),), "umol/L")}
    (local,) = _creatinine_codings(root, "H07")
    ((system, code),), unit = local
    assert system != loinc and "h07" in system and unit == "umol/L"
    obs = next(o for o in _resources(root, "H07", "Observation") if o["code"]["coding"][0]["code"] == code)
    assert "肌酐" in obs["code"]["coding"][0]["display"]
    # values are physiological in either unit (mg/dL roughly 0.4-8, umol/L 35-700)
    for site, low, high in (("DEV", 0.3, 10.0), ("H04", 25.0, 900.0), ("H07", 25.0, 900.0)):
        values = [o["valueQuantity"]["value"] for o in _resources(root, site, "Observation")
                  if creatinine_mgdl(o) is not None]
        assert values and low <= min(values) and max(values) <= high


def test_vital_sign_conventions_differ(small_export):
    root, _ = small_export

    def shape(site):
        obs = _resources(root, site, "Observation")
        temps = {o["valueQuantity"]["code"] for o in obs if o["code"]["coding"][0]["code"] == "8310-5"}
        panel = any(o["code"]["coding"][0]["code"] == "85354-9" for o in obs)
        separate = any(o["code"]["coding"][0]["code"] == "8480-6" for o in obs)
        return temps, panel, separate

    assert shape("DEV") == ({"Cel"}, True, False)
    assert shape("H10") == ({"[degF]"}, False, True)
    for o in _resources(root, "H10", "Observation"):
        if o["code"]["coding"][0]["code"] == "8310-5":
            assert 95.0 <= o["valueQuantity"]["value"] <= 106.0


def test_same_patient_appears_in_both_tasks_with_same_mrn_and_name(small_export):
    root, _ = small_export
    linked = 0
    for site in SMALL_SITES:
        cxr = {r["mrn"] for r in read_reference(root, site, "cxr-pneumonia")}
        aki = {r["mrn"] for r in read_reference(root, site, "aki-48h")}
        both = cxr & aki
        linked += len(both)
        patients = {}
        for p in _resources(root, site, "Patient"):
            mrn = next(i["value"] for i in p["identifier"] if i["type"]["coding"][0]["code"] == "MR")
            assert mrn not in patients, "one Patient resource per person"
            patients[mrn] = p
        assert cxr | aki == set(patients)
        for path in dicom_files(root, site):
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            if ds.PatientID in both:
                names = {n["text"] for n in patients[ds.PatientID]["name"]}
                assert str(ds.PatientName).split("=")[0].replace("^", " ") in names
                assert patients[ds.PatientID]["birthDate"].replace("-", "") == ds.PatientBirthDate
    assert linked >= len(SMALL_SITES)


def test_narrative_notes_contained_and_telecom(small_export):
    root, _ = small_export
    for site in ("DEV", "H09", "H10"):
        patients = {p["id"]: p for p in _resources(root, site, "Patient")}
        for report in _resources(root, site, "DiagnosticReport"):
            patient = patients[report["subject"]["reference"].removeprefix("Patient/")]
            assert any(n["text"] in report["text"]["div"] for n in patient["name"])  # mentions the patient by name
            assert report["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
        for sr in _resources(root, site, "ServiceRequest"):
            (practitioner,) = sr["contained"]
            assert sr["requester"]["reference"] == "#" + practitioner["id"]
            assert practitioner["name"] and practitioner["telecom"][0]["value"]
            assert sr["note"][0]["text"]
        for p in patients.values():
            assert p["telecom"][0]["system"] == "phone" and len(p["telecom"][0]["value"]) == 11
            assert p["contact"][0]["telecom"][0]["value"]
            assert p["text"]["div"] and p["address"][0]["text"]


def _kdigo_bruteforce(values: list[tuple[dt.datetime, float]], index: dt.datetime) -> bool:
    """KDIGO written out independently: baseline = lowest value up to the index time; AKI if any value within the
    next 48 hours rises by >= 0.3 mg/dL or reaches 1.5 x baseline (values in mg/dL)."""
    baseline = min(v for t, v in values if t <= index)
    later = [v for t, v in values if index < t <= index + dt.timedelta(hours=48)]
    return any(v - baseline >= 0.3 - 1e-6 or v / baseline >= 1.5 - 1e-9 for v in later)


def test_aki_labels_follow_kdigo_from_the_exported_creatinine(small_export):
    root, _ = small_export
    total = agree = positives = 0
    for site in SMALL_SITES:
        adm = admissions(root, site)
        for row in read_reference(root, site, "aki-48h"):
            a = adm[row["visit_number"]]
            index = parse_time(row["index_time"])
            series = [(parse_time(o["effectiveDateTime"]), creatinine_mgdl(o)) for o in a["obs"]]
            series = [(t, v) for t, v in series if v is not None]
            assert any(t > index + dt.timedelta(hours=24) for t, _ in series), "serial creatinine after index"
            expected = _kdigo_bruteforce(series, index)
            total += 1
            agree += expected == bool(int(row["label"]))
            positives += expected
    noise = max(get_site(s).reference.label_noise for s in SMALL_SITES)
    assert positives >= 5 and total - positives >= 5
    assert (total - agree) / total <= 2 * noise + 0.05  # only the site's label noise may disagree


@pytest.mark.parametrize(
    ("series", "unit", "expected"),
    [
        ([(0, 1.0), (10, 1.0), (20, 1.29)], "mg/dL", False),
        ([(0, 1.0), (10, 1.0), (20, 1.30)], "mg/dL", True),  # +0.3 mg/dL exactly
        ([(0, 1.0), (10, 1.0), (58.5, 1.6)], "mg/dL", False),  # later than 48 h after the index time
        ([(0, 1.0), (10, 1.0), (58.0, 1.6)], "mg/dL", True),  # 48 h after the index time is still inside
        ([(0, 0.9), (10, 1.2), (30, 1.25)], "mg/dL", True),  # baseline is the lowest value up to the index
        ([(0, 0.4), (10, 0.4), (20, 0.6)], "mg/dL", True),  # 1.5 x baseline though only +0.2
        ([(0, 80.0), (10, 80.0), (20, 106.0)], "umol/L", False),  # +26 umol/L < 0.3 mg/dL (26.52)
        ([(0, 80.0), (10, 80.0), (20, 107.0)], "umol/L", True),
        ([(20, 2.0)], "mg/dL", False),  # no baseline
    ],
)
def test_kdigo_hand_cases(series, unit, expected):
    assert kdigo_aki(series, 10.0, unit=unit) is expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 80), st.integers(30, 800)), min_size=1, max_size=8))
def test_kdigo_does_not_depend_on_the_unit(series):
    mgdl = [(t, v / 100.0) for t, v in series]  # values with two decimals, as recorded in mg/dL
    umol = [(t, v / 100.0 * 88.4) for t, v in series]
    assert kdigo_aki(mgdl, 10.0, unit="mg/dL") == kdigo_aki(umol, 10.0, unit="umol/L")
    assert kdigo_aki(mgdl, 10.0, unit="mg/dL") == (
        any(t <= 10.0 for t, _ in mgdl) and _kdigo_bruteforce(
            [(dt.datetime(2024, 1, 1) + dt.timedelta(hours=t), v) for t, v in mgdl], dt.datetime(2024, 1, 1, 10)))
