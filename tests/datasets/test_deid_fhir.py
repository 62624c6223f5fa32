"""FHIR de-identification on the Synthea reference bundles, NDJSON and corrupted input.

PHI is harvested here from the input (names, addresses, phones, identifiers, ids, birth dates) with a
walker written in this file, and the de-identified output is scanned byte by byte. Every output
resource is validated with fhir.resources R4B in the test itself.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datasets.deid import (
    AGE_BAND_EXTENSION_URL,
    FhirOptions,
    Pseudonymizer,
    QuarantineReason,
    deidentify_bundle,
    deidentify_dicom,
    deidentify_fhir_resource,
    deidentify_ndjson,
)

ROOT = Path(__file__).resolve().parents[2]
SYNTHEA = ROOT / ".." / "shared" / "reference" / "fhir-r4-synthea"
SECRET = b"fhir-test-secret-0123456789abcdef"
ALL = FhirOptions(validate="all")
_HEX_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _synthea(pattern: str) -> list[Path]:
    files = sorted(SYNTHEA.glob(pattern)) if SYNTHEA.exists() else []
    if not files:
        pytest.skip(f"Synthea reference bundles absent at {SYNTHEA}")
    return files


def _load(path: Path) -> dict:
    return json.loads(path.read_text("utf-8"))


def _strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, list):
        for x in v:
            yield from _strings(x)
    elif isinstance(v, dict):
        for x in v.values():
            yield from _strings(x)


def harvest(bundle: dict) -> set[str]:
    """PHI tokens of a Synthea bundle: names, addresses, phones, identifier values, ids, birth dates."""
    tokens: set[str] = set()
    for e in bundle["entry"]:
        r = e["resource"]
        tokens.add(r["id"])
        tokens.add(e["fullUrl"].rsplit(":", 1)[-1])
        if r["resourceType"] in ("Patient", "Practitioner", "Organization", "Location"):
            names = r.get("name")
            if isinstance(names, str):
                tokens.add(names)
            for n in names if isinstance(names, list) else []:
                tokens.update(_strings({k: n.get(k) for k in ("family", "given", "text")}))
            addresses = r.get("address")
            for a in addresses if isinstance(addresses, list) else [addresses] if addresses else []:
                tokens.update(_strings({k: a.get(k) for k in ("line", "city", "postalCode")}))
            for t in r.get("telecom", []):
                tokens.add(t["value"])
        for ident in r.get("identifier", []):
            if "value" in ident:
                tokens.add(ident["value"])
        for series in r.get("series", []) if r["resourceType"] == "ImagingStudy" else []:
            tokens.add(series["uid"])
            tokens.update(i["uid"] for i in series.get("instance", []))
        if r["resourceType"] == "Patient":
            tokens.add(r["birthDate"])
            for x in r.get("extension", []):
                if x["url"].endswith("mothersMaidenName"):
                    tokens.add(x["valueString"])
                    tokens.update(x["valueString"].split())
                if x["url"].endswith("birthPlace"):
                    tokens.add(x["valueAddress"]["city"])
    return {t for t in tokens if len(t) >= 4}


def _validate_r4b(resource: dict) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def _refs(v, out: list[str]) -> list[str]:
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "reference" and isinstance(x, str):
                out.append(x)
            else:
                _refs(x, out)
    elif isinstance(v, list):
        for x in v:
            _refs(x, out)
    return out


@pytest.fixture(scope="module")
def hospital():
    path = _synthea("hospitalInformation*.json")[0]
    return _load(path)


@pytest.fixture(scope="module")
def practitioners():
    return _load(_synthea("practitionerInformation*.json")[0])


@pytest.fixture(scope="module")
def deidentified(hospital, practitioners):
    """All six reference bundles de-identified with full validation, same key and site."""
    pseudo = Pseudonymizer(SECRET)
    ext = [e["fullUrl"] for e in hospital["entry"]]
    out = {}
    for path in _synthea("*.json"):
        src = _load(path)
        out[path.name] = (src, deidentify_bundle(path.read_bytes(), pseudonymizer=pseudo, site="H01",
                                                 options=ALL, external_fullurls=ext))
    return out


def test_synthea_bundles_have_no_phi_left(deidentified):
    for name, (src, result) in deidentified.items():
        assert result.quarantined == (), (name, result.quarantined)
        assert len(result.resources) == len(src["entry"])
        text = json.dumps(result.bundle, ensure_ascii=False)
        # UUID pseudonyms are hex: a short numeric token (a ZIP code) can occur inside one by chance, so
        # short tokens are scanned with the pseudonymous UUIDs blanked; original UUIDs in the full text.
        blanked = _HEX_UUID.sub("", text)
        leaks = sorted(t for t in harvest(src) if t in (text if _HEX_UUID.fullmatch(t) else blanked))
        assert leaks == [], name


def test_synthea_outputs_validate_with_r4b(deidentified):
    n = 0
    for _, (_, result) in deidentified.items():
        for r in result.resources:
            _validate_r4b(r)
            n += 1
    assert n > 800


def test_removed_elements_are_gone(deidentified):
    for _, (_, result) in deidentified.items():
        for r in result.resources:
            assert "text" not in r or not isinstance(r["text"], dict)
            assert "note" not in r and "telecom" not in r and "address" not in r and "photo" not in r
            if r["resourceType"] == "Patient":
                assert "name" not in r and "birthDate" not in r and "contact" not in r
                urls = [x["url"] for x in r.get("extension", [])]
                assert AGE_BAND_EXTENSION_URL in urls
                assert not any("maiden" in u or "birthPlace" in u or "synthea" in u for u in urls)
            assert {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "PSEUDED",
                    "display": "pseudonymized"} in r["meta"]["security"]


def test_references_resolve_inside_and_across_bundles(deidentified):
    outputs = [res for _, (_, res) in deidentified.items()]
    full_urls = {e["fullUrl"] for res in outputs for e in res.bundle["entry"]}
    by_identifier = {
        (r["resourceType"], i.get("system", ""), i["value"])
        for res in outputs for r in res.resources for i in r.get("identifier", []) if "value" in i
    }
    conditional = local = urns = 0
    for res in outputs:
        for r in res.resources:
            contained = {c["id"] for c in r.get("contained", [])}
            for ref in _refs(r, []):
                if ref.startswith("#"):
                    assert ref[1:] in contained, ref
                    local += 1
        for ref in _refs(res.bundle, []):
            if ref.startswith("#"):
                continue
            if ref.startswith("urn:uuid:"):
                assert ref in full_urls, ref
                urns += 1
            elif "?identifier=" in ref:
                rtype, query = ref.split("?identifier=")
                system, value = query.split("|")
                assert (rtype, system, value) in by_identifier, ref
                conditional += 1
            else:
                raise AssertionError(f"unexpected reference form {ref}")
    assert local > 10  # Synthea's ExplanationOfBenefit points at its contained Coverage
    assert urns > 1000 and conditional == 0  # these Synthea exports use urn:uuid only


def test_conditional_references_hash_like_the_identifier():
    pseudo = Pseudonymizer(SECRET)
    npi = {"system": "http://hl7.org/fhir/sid/us-npi", "value": "9999912345"}
    doc = {"resourceType": "Practitioner", "id": "dr1", "identifier": [npi], "name": [{"family": "Roberts511"}]}
    enc = {"resourceType": "Encounter", "id": "e1", "status": "finished",
           "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
           "participant": [{"individual": {"reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999912345",
                                           "display": "Dr. Roberts511"}}]}
    d = deidentify_fhir_resource(doc, pseudonymizer=pseudo, site="H01", options=ALL).resources[0]
    e = deidentify_fhir_resource(enc, pseudonymizer=pseudo, site="H01", options=ALL).resources[0]
    ref = e["participant"][0]["individual"]
    assert ref == {"reference": f"Practitioner?identifier={npi['system']}|{d['identifier'][0]['value']}"}
    assert "9999912345" not in json.dumps([d, e]) and "Roberts511" not in json.dumps([d, e])


def _parse(s: str) -> datetime:
    return datetime.fromisoformat(s)


def test_dates_shift_by_the_patient_offset(deidentified):
    for name, (src, result) in deidentified.items():
        if not result.patients:
            continue
        shift = result.patients[0].date_shift_days
        assert -365 <= shift <= -1
        pairs = 0
        for e_in, r_out in zip(src["entry"], result.resources):
            r_in = e_in["resource"]
            if r_in["resourceType"] == "Encounter":
                for k in ("start", "end"):
                    a, b = r_in["period"][k], r_out["period"][k]
                    assert _parse(b) == _parse(a) + timedelta(days=shift)
                    assert len(a) == len(b)
                    pairs += 1
            if r_in["resourceType"] == "Observation" and "effectiveDateTime" in r_in:
                assert _parse(r_out["effectiveDateTime"]) == _parse(r_in["effectiveDateTime"]) + timedelta(days=shift)
                assert r_out["issued"][:10] == (_parse(r_in["issued"]) + timedelta(days=shift)).date().isoformat()
                pairs += 1
        assert pairs > 20, name


def test_same_patient_same_pseudonym_and_shift_in_dicom_and_fhir():
    pydicom = pytest.importorskip("pydicom")
    path = _synthea("Todd315*.json")[0]
    src = _load(path)
    patient = next(e["resource"] for e in src["entry"] if e["resource"]["resourceType"] == "Patient")
    mrn = next(i["value"] for i in patient["identifier"] if i.get("type", {}).get("coding", [{}])[0].get("code") == "MR")
    pseudo = Pseudonymizer(SECRET)
    fhir = deidentify_bundle(src, pseudonymizer=pseudo, site="H03")
    ds = pydicom.Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = "1.2.3.4.5"
    ds.PatientID = mrn
    ds.StudyDate = "20190301"
    ds.Rows, ds.Columns, ds.BitsAllocated, ds.SamplesPerPixel = 1, 2, 8, 1
    ds.PixelData = bytes(2)
    dicom = deidentify_dicom(ds, pseudonymizer=pseudo, site="H03")
    out_patient = next(r for r in fhir.resources if r["resourceType"] == "Patient")
    assert out_patient["id"] == dicom.dataset.PatientID == fhir.patients[0].pseudonym
    assert dicom.date_shift_days == fhir.patients[0].date_shift_days
    study_in = next(e["resource"] for e in src["entry"] if e["resource"]["resourceType"] == "ImagingStudy")
    study_out = next(r for r in fhir.resources if r["resourceType"] == "ImagingStudy")
    study_uid = study_in["identifier"][0]["value"].removeprefix("urn:oid:")
    assert study_out["identifier"][0]["value"] == "urn:oid:" + pseudo.uid(study_uid)
    ds.StudyInstanceUID = study_uid
    assert deidentify_dicom(ds, pseudonymizer=pseudo, site="H03").dataset.StudyInstanceUID == pseudo.uid(study_uid)
    assert study_out["series"][0]["uid"] == pseudo.uid(study_in["series"][0]["uid"])
    assert study_out["series"][0]["instance"][0]["uid"] == pseudo.uid(study_in["series"][0]["instance"][0]["uid"])
    subject_refs = {r["subject"]["reference"] for r in fhir.resources if "subject" in r}
    full = {e["fullUrl"] for e in fhir.bundle["entry"] if e["resource"]["resourceType"] == "Patient"}
    assert subject_refs == full  # every subject points at the de-identified Patient entry


def test_age_band_at_a_reference_date():
    path = _synthea("Todd315*.json")[0]
    src = _load(path)
    birth = next(e["resource"]["birthDate"] for e in src["entry"] if e["resource"]["resourceType"] == "Patient")
    b = date.fromisoformat(birth)
    ref = date(2020, 1, 1)
    age = ref.year - b.year - ((ref.month, ref.day) < (b.month, b.day))
    want = next(lab for lo, hi, lab in ((0, 17, "0-17"), (18, 29, "18-29"), (30, 39, "30-39"), (40, 49, "40-49"),
                                        (50, 59, "50-59"), (60, 200, "60+")) if lo <= age <= hi)
    opts = FhirOptions(age_reference_date=ref, age_bands=(0, 18, 30, 40, 50, 60))
    res = deidentify_bundle(src, pseudonymizer=Pseudonymizer(SECRET), site="H01", options=opts)
    assert res.patients[0].age_band == want
    patient = next(r for r in res.resources if r["resourceType"] == "Patient")
    assert {"url": AGE_BAND_EXTENSION_URL, "valueString": want} in patient["extension"]


def test_bundle_output_is_idempotent_and_deterministic(deidentified, hospital):
    pseudo = Pseudonymizer(SECRET)
    ext_out = [e["fullUrl"] for e in deidentified[_synthea("hospital*.json")[0].name][1].bundle["entry"]]
    for name, (src, result) in deidentified.items():
        again = deidentify_bundle(copy.deepcopy(result.bundle), pseudonymizer=pseudo, site="H01",
                                  options=ALL, external_fullurls=ext_out)
        assert again.bundle == result.bundle, name
    todd = _synthea("Todd315*.json")[0]
    a = deidentify_bundle(todd.read_bytes(), pseudonymizer=Pseudonymizer(SECRET), site="H01")
    b = deidentify_bundle(todd.read_bytes(), pseudonymizer=Pseudonymizer(SECRET), site="H01")
    assert json.dumps(a.bundle) == json.dumps(b.bundle)


def test_input_is_not_modified():
    src = _load(_synthea("Luisa710*.json")[0])
    before = json.dumps(src)
    deidentify_bundle(src, pseudonymizer=Pseudonymizer(SECRET), site="H01")
    assert json.dumps(src) == before


# ---------------------------------------------------------------------------- built resources


def _patient(pid="pat-1", mrn="MRN-777", name=("Zhang", "Wei"), birth="1961-08-09") -> dict:
    return {
        "resourceType": "Patient",
        "id": pid,
        "text": {"status": "generated", "div": f"<div xmlns=\"http://www.w3.org/1999/xhtml\">{name[1]} {name[0]}</div>"},
        "identifier": [
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
             "system": "urn:oid:1.2.3.4", "value": mrn},
            {"system": "urn:oid:2.16.156.1", "value": "110105196108091234"},
        ],
        "name": [{"family": name[0], "given": [name[1]]}],
        "telecom": [{"system": "phone", "value": "+86 10 6512 3456"}, {"system": "email", "value": "wei@example.cn"}],
        "gender": "male",
        "birthDate": birth,
        "address": [{"line": ["12 Chaoyang Road"], "city": "Beijing", "postalCode": "100020"}],
        "contact": [{"name": {"family": "Li"}}],
        "extension": [
            {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex", "valueCode": "M"},
            {"url": "http://example.org/fhir/unknown-extension", "valueString": "secret-ext-value"},
        ],
    }


def _observation(oid="obs-1", subject="Patient/pat-1", text="Wei Zhang called from 010-6512-3456") -> dict:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2160-0", "display": "Creatinine"}]},
        "subject": {"reference": subject, "display": "Wei Zhang"},
        "effectiveDateTime": "2021-03-04T10:20:30+08:00",
        "valueQuantity": {"value": 1.2, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"},
        "note": [{"text": "patient Wei Zhang, MRN-777"}],
        "interpretation": [{"text": text}],
    }


def test_single_resources_and_free_text():
    pseudo = Pseudonymizer(SECRET)
    p = deidentify_fhir_resource(_patient(), pseudonymizer=pseudo, site="H05", options=ALL)
    out = p.resources[0]
    assert out["id"] == pseudo.patient_id("H05", "MRN-777")
    assert out["identifier"][0]["value"] == out["id"]
    assert out["identifier"][1]["value"] == pseudo.identifier_value("H05", "urn:oid:2.16.156.1", "110105196108091234")
    assert [x["url"] for x in out["extension"]] == [
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex", AGE_BAND_EXTENSION_URL]
    o = deidentify_fhir_resource(_observation(), pseudonymizer=pseudo, site="H05", patient_mrn="MRN-777", options=ALL)
    obs = o.resources[0]
    assert obs["subject"] == {"reference": f"Patient/{out['id']}"}
    assert "note" not in obs
    # alone, an Observation has no Patient to harvest names from: patterns only (names: see the NDJSON test)
    assert obs["interpretation"][0]["text"] == "Wei Zhang called from [REDACTED]"
    del obs["interpretation"]
    shift = pseudo.date_shift_days(out["id"])
    assert obs["effectiveDateTime"] == (date(2021, 3, 4) + timedelta(days=shift)).isoformat() + "T10:20:30+08:00"
    blob = json.dumps([out, obs], ensure_ascii=False)
    for phi in ("Zhang", "Wei", "MRN-777", "110105196108091234", "6512", "wei@example.cn", "Beijing", "1961",
                "secret-ext-value", "Chaoyang", "pat-1", "obs-1"):
        assert phi not in blob, phi


def test_partial_dates_keep_their_precision():
    pseudo = Pseudonymizer(SECRET)
    cond = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p9"},
            "onsetDateTime": "2019-03", "recordedDate": "2019", "abatementDateTime": "2020-02-29"}
    out = deidentify_fhir_resource(cond, pseudonymizer=pseudo, site="H01", options=ALL).resources[0]
    shift = pseudo.date_shift_days(pseudo.patient_id("H01", "p9"))
    assert len(out["onsetDateTime"]) == 7 and len(out["recordedDate"]) == 4
    assert out["onsetDateTime"] == (date(2019, 3, 15) + timedelta(days=shift)).strftime("%Y-%m")
    assert out["recordedDate"] == str((date(2019, 7, 1) + timedelta(days=shift)).year)
    assert out["abatementDateTime"] == (date(2020, 2, 29) + timedelta(days=shift)).isoformat()


def test_contained_resources_and_local_references():
    pseudo = Pseudonymizer(SECRET)
    med = {"resourceType": "Medication", "id": "med1",
           "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "197361"}]}}
    req = {"resourceType": "MedicationRequest", "id": "mr1", "status": "active", "intent": "order",
           "contained": [med], "medicationReference": {"reference": "#med1"},
           "subject": {"reference": "Patient/p1"}, "authoredOn": "2020-01-02"}
    out = deidentify_fhir_resource(req, pseudonymizer=pseudo, site="H01", options=ALL).resources[0]
    cid = out["contained"][0]["id"]
    assert cid != "med1" and out["medicationReference"]["reference"] == "#" + cid
    bad = copy.deepcopy(req)
    bad["medicationReference"]["reference"] = "#nothere"
    q = deidentify_fhir_resource(bad, pseudonymizer=pseudo, site="H01").quarantined[0]
    assert q.reason is QuarantineReason.FHIR_BAD_REFERENCE


def test_unknown_modifier_extension_and_invalid_resources_are_quarantined():
    pseudo = Pseudonymizer(SECRET)
    mod = _observation()
    mod["modifierExtension"] = [{"url": "http://example.org/negation", "valueBoolean": True}]
    assert deidentify_fhir_resource(mod, pseudonymizer=pseudo, site="H01").quarantined[0].reason \
        is QuarantineReason.FHIR_UNKNOWN_MODIFIER_EXTENSION
    invalid = _observation()
    del invalid["code"]  # Observation.code is 1..1
    invalid["valueQuantity"]["value"] = "Zhang-7"  # a decimal that is not one
    q = deidentify_fhir_resource(invalid, pseudonymizer=pseudo, site="H01", options=ALL).quarantined[0]
    assert q.reason is QuarantineReason.FHIR_VALIDATION_FAILED
    assert "Zhang" not in q.detail and "code" in q.detail
    unknown = {"resourceType": "NotAResource", "id": "x"}
    assert deidentify_fhir_resource(unknown, pseudonymizer=pseudo, site="H01").quarantined[0].reason \
        is QuarantineReason.FHIR_UNKNOWN_RESOURCE_TYPE
    traversal = {"resourceType": "../../etc/passwd", "id": "x"}
    assert deidentify_fhir_resource(traversal, pseudonymizer=pseudo, site="H01").quarantined[0].reason \
        is QuarantineReason.FHIR_UNKNOWN_RESOURCE_TYPE


@pytest.mark.parametrize("where", ["top", "element", "alone", "list"])
def test_a_member_with_an_empty_name_is_quarantined_with_its_reason(where):
    res = _observation()
    if where == "top":
        res[""] = "Zhang"
    elif where == "element":
        res["code"][""] = "Zhang"
    elif where == "alone":
        res["valueQuantity"] = {"": "Zhang"}
    else:
        res["category"] = [{"": "Zhang"}]
    q = deidentify_fhir_resource(res, pseudonymizer=Pseudonymizer(SECRET), site="H01").quarantined
    assert len(q) == 1 and q[0].reason is QuarantineReason.FHIR_VALIDATION_FAILED, q
    assert "empty name" in q[0].detail and "Zhang" not in q[0].detail


@pytest.mark.parametrize(
    "ref",
    ["Patient/../../etc/passwd", "../Patient/1", "Patient/", "urn:uuid:not-a-uuid", "file:///etc/passwd",
     "Patient?name=Zhang", "NotAType/1", "javascript:alert(1)", ""],
)
def test_bad_references_are_quarantined(ref):
    obs = _observation(subject=ref)
    res = deidentify_fhir_resource(obs, pseudonymizer=Pseudonymizer(SECRET), site="H01")
    assert res.resources == ()
    assert res.quarantined[0].reason is QuarantineReason.FHIR_BAD_REFERENCE


def _bundle(entries: list[tuple[str, dict]]) -> dict:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": u, "resource": r} for u, r in entries]}


U_PAT = "urn:uuid:11111111-1111-4111-8111-111111111111"
U_OBS = "urn:uuid:22222222-2222-4222-8222-222222222222"
U_OBS2 = "urn:uuid:33333333-3333-4333-8333-333333333333"
U_MISSING = "urn:uuid:44444444-4444-4444-8444-444444444444"


def test_unresolved_urn_reference_quarantines_the_entry_and_its_dependants():
    obs_bad = _observation("o-bad", subject=U_MISSING)
    obs_dep = _observation("o-dep", subject=U_PAT)
    obs_dep["hasMember"] = [{"reference": U_OBS}]
    bundle = _bundle([(U_PAT, _patient()), (U_OBS, obs_bad), (U_OBS2, obs_dep)])
    res = deidentify_bundle(bundle, pseudonymizer=Pseudonymizer(SECRET), site="H01", options=ALL)
    assert [r["resourceType"] for r in res.resources] == ["Patient"]
    reasons = sorted((q.detail.split(":")[0], q.reason.value) for q in res.quarantined)
    assert reasons == [("entry[1] Observation", "fhir_bad_reference"), ("entry[2] Observation", "fhir_bad_reference")]


def test_duplicate_keys_and_deep_nesting_in_bundle_text():
    pseudo = Pseudonymizer(SECRET)
    dup = '{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient", "id": "a", "id": "b"}}]}'
    res = deidentify_bundle(dup, pseudonymizer=pseudo, site="H01")
    assert res.bundle is None and res.quarantined[0].reason is QuarantineReason.DUPLICATE_KEY
    deep = '{"resourceType": "Bundle", "type": "collection", "x": ' + "[" * 2000 + "]" * 2000 + "}"
    res = deidentify_bundle(deep, pseudonymizer=pseudo, site="H01")
    assert res.quarantined[0].reason is QuarantineReason.NESTING_TOO_DEEP
    medium = _observation()
    node = medium
    for _ in range(100):
        node["extension"] = [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "extension": []}]
        node = node["extension"][0]
    res = deidentify_fhir_resource(medium, pseudonymizer=pseudo, site="H01")
    assert res.quarantined[0].reason is QuarantineReason.NESTING_TOO_DEEP
    for junk in ("{not json", b"\xff\xfe\x00", "[]", '{"resourceType": "Patient"}'):
        res = deidentify_bundle(junk, pseudonymizer=pseudo, site="H01")
        assert res.bundle is None and res.quarantined


def test_ndjson_lines_quarantined_one_by_one():
    pseudo = Pseudonymizer(SECRET)
    bad_ref = _observation("o3", subject="Patient/../../x")
    lines = [
        json.dumps(_observation("o1")),
        json.dumps(_patient()),
        '{"resourceType": "Observation", "id": "o2", "id": "o2b"}',
        "[" * 2000 + "]" * 2000,
        "not json at all",
        json.dumps(bad_ref),
        "",
        json.dumps(_observation("o4")),
    ]
    res = deidentify_ndjson("\n".join(lines), pseudonymizer=pseudo, site="H02", options=ALL)
    assert [r["resourceType"] for r in res.resources] == ["Observation", "Patient", "Observation"]
    got = sorted((q.detail.split(":")[0], q.reason) for q in res.quarantined)
    assert got == [
        ("line 3", QuarantineReason.DUPLICATE_KEY),
        ("line 4", QuarantineReason.NESTING_TOO_DEEP),
        ("line 5", QuarantineReason.UNREADABLE),
        ("line 6", QuarantineReason.FHIR_BAD_REFERENCE),
    ]
    patient_id = pseudo.patient_id("H02", "MRN-777")  # the Patient line is read first: MR identifier wins
    assert res.resources[0]["subject"]["reference"] == f"Patient/{patient_id}"
    assert res.resources[1]["id"] == patient_id
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in res.resources)
    for phi in ("Zhang", "MRN-777", "6512", "pat-1"):
        assert phi not in text


def test_ndjson_patients_from_another_file():
    pseudo = Pseudonymizer(SECRET)
    res = deidentify_ndjson([json.dumps(_observation())], pseudonymizer=pseudo, site="H02",
                            patients={"pat-1": "MRN-777"})
    assert res.resources[0]["subject"]["reference"] == "Patient/" + pseudo.patient_id("H02", "MRN-777")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    family=st.from_regex(r"[A-Z][a-z]{2,8}[0-9]{2,3}", fullmatch=True)
    | st.from_regex(r"[\u4e00-\u9fa5]{2,4}", fullmatch=True)
    | st.from_regex(r"[ÀÉÖÜß][a-zäöüéè]{2,8}", fullmatch=True),
    mrn=st.from_regex(r"MRN[0-9]{4,9}", fullmatch=True),
    birth=st.dates(min_value=date(1920, 1, 1), max_value=date(2015, 12, 31)),
    when=st.datetimes(min_value=datetime(2016, 1, 1), max_value=datetime(2030, 1, 1)),
)
def test_property_deterministic_idempotent_and_clean(family, mrn, birth, when):
    pat = _patient(mrn=mrn, name=(family, "Given"), birth=birth.isoformat())
    obs = _observation(text=f"seen {family} today")
    obs["effectiveDateTime"] = when.strftime("%Y-%m-%dT%H:%M:%S") + "Z"
    bundle = _bundle([(U_PAT, pat), (U_OBS, obs)])
    obs["subject"] = {"reference": U_PAT}
    one = deidentify_bundle(bundle, pseudonymizer=Pseudonymizer(SECRET), site="H09")
    two = deidentify_bundle(copy.deepcopy(bundle), pseudonymizer=Pseudonymizer(SECRET), site="H09")
    assert one.quarantined == () and one.bundle == two.bundle
    again = deidentify_bundle(copy.deepcopy(one.bundle), pseudonymizer=Pseudonymizer(SECRET), site="H09")
    assert again.bundle == one.bundle
    text = json.dumps(one.bundle, ensure_ascii=False)
    assert family not in text and mrn not in text and birth.isoformat() not in text
    shift = one.patients[0].date_shift_days
    assert one.resources[1]["effectiveDateTime"] == (when + timedelta(days=shift)).strftime("%Y-%m-%dT%H:%M:%S") + "Z"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    | st.sampled_from(["Patient", "Observation", "urn:uuid:11111111-1111-4111-8111-111111111111", "2020-01-01",
                       "Patient/1", "#x", "resourceType", "reference", "identifier", "extension"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["resourceType", "id", "reference", "identifier", "value", "system", "entry",
                                       "resource", "fullUrl", "extension", "url", "contained", "subject", "text",
                                       "name", "birthDate", "meta", "display", "code", "modifierExtension"]),
                      children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=_json)
def test_arbitrary_json_never_raises(doc):
    pseudo = Pseudonymizer(SECRET)
    for res in (
        deidentify_bundle(doc if isinstance(doc, dict) else {"resourceType": "Bundle", "entry": [doc]},
                          pseudonymizer=pseudo, site="H01"),
        deidentify_fhir_resource(doc, pseudonymizer=pseudo, site="H01"),
        deidentify_ndjson([json.dumps(doc)], pseudonymizer=pseudo, site="H01"),
    ):
        for q in res.quarantined:
            assert isinstance(q.reason, QuarantineReason) and q.detail


def test_cyclic_gc_state_is_restored_after_every_call():
    import gc

    from datasets.deid import OptionsError

    pseudo = Pseudonymizer(SECRET)
    calls = (
        lambda: deidentify_bundle(b'{"resourceType": "Bundle", "entry": []}', pseudonymizer=pseudo, site="H01"),
        lambda: deidentify_bundle(b'{"a": 1, "a": 2}', pseudonymizer=pseudo, site="H01"),  # quarantined
        lambda: deidentify_ndjson(['{"resourceType": "Basic", "id": "b"}'], pseudonymizer=pseudo, site="H01"),
        lambda: deidentify_fhir_resource({"resourceType": "Nope"}, pseudonymizer=pseudo, site="H01"),
    )
    was = gc.isenabled()
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            for call in calls:
                call()
                assert gc.isenabled() is enabled
        gc.enable()
        with pytest.raises(OptionsError):
            deidentify_bundle({"resourceType": "Bundle"}, pseudonymizer=pseudo, site="")  # caller error raises
        assert gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


def test_bare_year_is_a_date_only_under_a_date_key_whatever_the_order():
    # the walk memoises shifted dates per patient; a bare year must not leak from a date key to free text
    pseudo = Pseudonymizer(SECRET)
    pat = {"resourceType": "Patient", "id": "p1", "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "M1"}]}
    first_text = {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
                  "subject": {"reference": "Patient/p1"}, "valueString": "2020", "effectiveDateTime": "2020"}
    first_date = {"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "x"},
                  "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2020", "valueString": "2020"}
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": r} for r in (pat, first_date, first_text)]}
    res = deidentify_bundle(bundle, pseudonymizer=pseudo, site="H01", options=FhirOptions(validate="none"))
    assert not res.quarantined
    shift = res.patients[0].date_shift_days
    year = str((date(2020, 7, 1) + timedelta(days=shift)).year)  # a year shifts as its July 1st
    for out in res.resources[1:]:
        assert out["valueString"] == "2020"
        assert out["effectiveDateTime"] == year
