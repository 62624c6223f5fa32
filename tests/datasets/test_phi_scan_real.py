"""The harvest and the scan on files nobody here wrote: real DICOM samples and Synthea FHIR bundles."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pydicom
import pytest

from datasets.corpus import build_corpus, load_corpus
from datasets.phi_scan import harvest_tokens, scan

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"


def _need(sub: str) -> Path:
    p = REFERENCE / sub
    if not p.is_dir():
        pytest.skip(f"shared reference data not found at {p}")
    return p


def test_real_dicom_samples_ingest_through_the_phi_gate(tmp_path):
    """Real CT/PET files (placeholder names such as NAME^NONE) become cases; the PHI gate passes without false
    positives, and the scan finds their identifiers in the source."""
    samples = sorted(_need("dicom-samples").glob("*.dcm"))
    site = tmp_path / "export" / "REAL"
    (site / "dicom").mkdir(parents=True)
    (site / "reference").mkdir()
    rows = []
    for i, f in enumerate(samples):
        ds = pydicom.dcmread(f)
        ds.AccessionNumber = f"ACC{i:05d}"  # the samples carry none; the case key needs one
        ds.save_as(site / "dicom" / f"{i}.dcm")
        rows.append([ds.PatientID, ds.AccessionNumber, "", "", i % 2, "test"])
    with (site / "reference" / "cxr-pneumonia.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["mrn", "accession_number", "visit_number", "index_time", "label", "established_by"])
        w.writerows(rows)
    v = build_corpus(tmp_path / "export", tmp_path / "corpora", secret=b"r" * 32, tasks="cxr-pneumonia", workers=1)
    assert v.n_cases() == len(samples) and v.quarantined == {}
    load_corpus(v.path)
    tokens = harvest_tokens(tmp_path / "export")
    assert "NONE" not in tokens.strings.get("patient_name", ()) and tokens.strings["uid"]
    assert scan([v.path], tokens) == []
    found = {h.location for h in scan([site / "dicom"], tokens)}
    assert found == {f"dicom/{i}.dcm" for i in range(len(samples))}


def test_synthea_bundles_harvested_and_clean_after_deidentification(tmp_path):
    from datasets.deid import FhirOptions, Pseudonymizer, deidentify_bundle

    files = sorted(_need("fhir-r4-synthea").glob("*.json"))
    fhir = tmp_path / "export" / "SYN" / "fhir"
    fhir.mkdir(parents=True)
    by_type: dict[str, list[dict]] = {}
    for f in files:
        for e in json.loads(f.read_bytes()).get("entry", ()):
            by_type.setdefault(e["resource"]["resourceType"], []).append(e["resource"])
    for kind, resources in by_type.items():
        (fhir / f"{kind}.ndjson").write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    tokens = harvest_tokens(tmp_path / "export")
    patients = [r for r in by_type["Patient"]]
    for p in patients:  # every patient's official name, phone and birth date is harvested
        name = next(n for n in p["name"] if n.get("use") == "official")
        assert f"{name['given'][0]} {name['family']}" in tokens.strings["patient_name"]
        assert p["telecom"][0]["value"] in tokens.strings["phone"]
        assert p["birthDate"] in tokens.strings["birth_date"]
    assert len(scan([fhir], tokens)) >= len(by_type)  # the source is full of PHI
    pseudo = Pseudonymizer(b"q" * 32)
    external = [e["fullUrl"] for f in files if "Information" in f.name
                for e in json.loads(f.read_bytes())["entry"] if "fullUrl" in e]
    blobs = {}
    for f in files:
        r = deidentify_bundle(f.read_bytes(), pseudonymizer=pseudo, site="SYN", external_fullurls=external,
                              options=FhirOptions(validate="none"))
        blobs[f.name] = json.dumps(r.bundle, ensure_ascii=False).encode("utf-8")
    assert scan([], tokens, extra_blobs=blobs) == []
