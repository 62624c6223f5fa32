"""Corpus versions: layout, case mapping, quarantine accounting, truncation at the index time, determinism."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pydicom
import pytest
from _corpus_fixtures import SECRET, SITES, corpus_export, expected_case_id, small_corpus  # noqa: F401

from datasets.corpus import INDEX_COLUMNS, LABEL_COLUMNS, build_corpus, load_corpus
from datasets.deid import Pseudonymizer
from datasets.synthetic import burned_in_files


def _reference(export: Path, site: str, task: str) -> list[dict]:
    with (export / site / "reference" / f"{task}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _index(v, site):
    return pq.read_table(Path(v.path) / "sites" / site / "index.parquet").to_pylist()


def _labels(v, site):
    return pq.read_table(Path(v.path) / "labels" / site / "labels.parquet").to_pylist()


def test_layout_manifest_and_id(small_corpus, corpus_export):
    root = Path(small_corpus.path)
    raw = (root / "manifest.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == small_corpus.corpus_id == root.name == small_corpus.manifest_sha256
    manifest = json.loads(raw)
    listed = [e["path"] for e in manifest["files"]]
    assert listed == sorted(listed)
    on_disk = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert sorted(listed + ["manifest.json"]) == [p for p in on_disk if p != "quality.json"]
    for e in manifest["files"]:
        data = (root / e["path"]).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (e["sha256"], e["size"])
    assert "ingest_report.json" in listed
    assert all(p.startswith(("sites/", "labels/")) or p == "ingest_report.json" for p in listed)
    assert not any("label" in p for p in listed if p.startswith("sites/"))
    for p in listed:
        if "/inputs/" in p:
            assert re.fullmatch(r"sites/[A-Z0-9]+/inputs/([0-9a-f]{2})/\1[0-9a-f]{62}\.(dcm|json)", p), p
            assert hashlib.sha256((root / p).read_bytes()).hexdigest() == Path(p).stem
    # deterministic metadata only: no absolute paths, no timestamps
    text = raw.decode()
    assert str(corpus_export) not in text and str(root.parent) not in text and "/tmp" not in text
    assert not re.search(r"20\d\d-\d\d-\d\dT\d\d:\d\d", text)
    assert manifest["sites"] == list(SITES) and manifest["tasks"] == ["cxr-pneumonia", "aki-48h"]
    assert manifest["splits"]["DEV"] == "dev" and manifest["splits"]["H09"] == "test"
    assert {o["id"] for o in manifest["deidentification"]["dicom"]["options"]} >= {"basic", "clean_descriptors"}
    assert load_corpus(root) == small_corpus


def test_index_and_labels_map_cases_to_the_reference_standard(small_corpus, corpus_export):
    p = Pseudonymizer(SECRET)
    for site in SITES:
        index, labels = _index(small_corpus, site), _labels(small_corpus, site)
        assert [c for c, _ in INDEX_COLUMNS] == list(index[0].keys())
        assert [c for c, _ in LABEL_COLUMNS] == list(labels[0].keys())
        assert sorted(r["case_id"] for r in index) == sorted(r["case_id"] for r in labels)
        by_id = {r["case_id"]: r for r in index}
        label_of = {r["case_id"]: r["label"] for r in labels}
        for task, key_col in (("cxr-pneumonia", "accession_number"), ("aki-48h", "visit_number")):
            ref = _reference(corpus_export, site, task)
            expected = {expected_case_id(site, task, r["mrn"], r[key_col]): r for r in ref}
            got = [r for r in index if r["task"] == task]
            assert got and all(r["case_id"] in expected for r in got)
            for r in got:
                row = expected[r["case_id"]]
                assert label_of[r["case_id"]] == int(row["label"])
                assert r["patient"] == p.patient_id(site, row["mrn"])
                assert r["split"] == ("dev" if site == "DEV" else "test")
        # the stored image is the de-identified version of the file with that MRN and accession number
        originals = {}
        for f in sorted((corpus_export / site / "dicom").rglob("*.dcm")):
            ds = pydicom.dcmread(f, stop_before_pixels=True)
            originals[expected_case_id(site, "cxr-pneumonia", ds.PatientID, ds.AccessionNumber)] = ds
        for r in (r for r in index if r["task"] == "cxr-pneumonia"):
            out = pydicom.dcmread(Path(small_corpus.path) / r["input_path"])
            src = originals[r["case_id"]]
            assert out.SOPInstanceUID == p.uid(src.SOPInstanceUID)
            assert out.PatientIdentityRemoved == "YES" and out.PatientID == r["patient"]
            assert (r["rows"], r["photometric"], r["bits_stored"]) == (out.Rows, src.PhotometricInterpretation,
                                                                        src.BitsStored)
            assert r["pixel_spacing_row"] == pytest.approx(float(src.PixelSpacing[0]))
            assert r["manufacturer"] == src.Manufacturer and r["modality"] == src.Modality
            assert r["sex"] == src.PatientSex
    h04 = _index(small_corpus, "H04")
    assert {r["photometric"] for r in h04 if r["task"] == "cxr-pneumonia"} == {"MONOCHROME1"}


def test_quarantine_is_counted_and_consistent(small_corpus, corpus_export):
    report = json.loads((Path(small_corpus.path) / "ingest_report.json").read_bytes())
    burned = burned_in_files(corpus_export)
    assert burned, "the export should carry burned-in radiographs"
    total_burned = 0
    for site in SITES:
        rep = report["sites"][site]
        site_burned = [b for b in burned if b.startswith(site + "/")]
        total_burned += len(site_burned)
        assert rep["dicom"]["quarantined"].get("burned_in_annotation", 0) == len(site_burned)
        assert rep["dicom"]["files_seen"] == rep["dicom"]["deidentified"] + sum(rep["dicom"]["quarantined"].values())
        for task, t in rep["tasks"].items():
            assert t["reference_rows"] == (t["cases"] + sum(t["excluded"].values()) + t["invalid_rows"]
                                           + t["duplicate_rows"])
            assert t["cases"] == small_corpus.counts[site][task]
        assert rep["tasks"]["cxr-pneumonia"]["excluded"]["input_quarantined"] == len(site_burned)
        # the burned-in cases are in neither index nor labels
        ids = {r["case_id"] for r in _index(small_corpus, site)} | {r["case_id"] for r in _labels(small_corpus, site)}
        for rel in site_burned:
            ds = pydicom.dcmread(corpus_export / rel, stop_before_pixels=True)
            assert expected_case_id(site, "cxr-pneumonia", ds.PatientID, ds.AccessionNumber) not in ids
    assert small_corpus.quarantined["burned_in_annotation"] == total_burned
    text = json.dumps(report)
    assert "detail" not in text and str(corpus_export) not in text


_TIME = re.compile(r'"(\d{4}-\d{2}-\d{2}(?:T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?)"')


def _latest(text: str, tz) -> dt.datetime:
    out = dt.datetime.min.replace(tzinfo=tz)
    for m in _TIME.finditer(text):
        s = m.group(1)
        t = dt.datetime.fromisoformat(s) if "T" in s else dt.datetime.fromisoformat(s + "T23:59:59").replace(tzinfo=tz)
        out = max(out, t)
    return out


def test_fhir_bundles_stop_at_the_index_time(small_corpus, corpus_export):
    p = Pseudonymizer(SECRET)
    after_in_source = 0
    for site in SITES:
        ref = {expected_case_id(site, "aki-48h", r["mrn"], r["visit_number"]): r
               for r in _reference(corpus_export, site, "aki-48h")}
        for r in (r for r in _index(small_corpus, site) if r["task"] == "aki-48h"):
            bundle_text = (Path(small_corpus.path) / r["input_path"]).read_text(encoding="utf-8")
            bundle = json.loads(bundle_text)
            index_time = dt.datetime.fromisoformat(ref[r["case_id"]]["index_time"])
            shifted = index_time + dt.timedelta(days=p.date_shift_days(r["patient"]))
            assert _latest(bundle_text, index_time.tzinfo) <= shifted
            types = [e["resource"]["resourceType"] for e in bundle["entry"]]
            assert types[:2] == ["Patient", "Encounter"] and "Observation" in types
            enc = bundle["entry"][1]["resource"]
            assert "end" not in enc["period"] and enc["status"] == "in-progress"
            assert bundle["entry"][0]["resource"]["id"] == r["patient"]
        after_in_source += json.loads((Path(small_corpus.path) / "ingest_report.json").read_bytes())[
            "sites"][site]["tasks"]["aki-48h"]["resources_after_index_dropped"]
    assert after_in_source > 0, "the export should have outcome data after the index time to cut"


def test_rebuild_is_deterministic_across_workers_and_idempotent(small_corpus, corpus_export, tmp_path):
    v2 = build_corpus(corpus_export, tmp_path / "a", secret=SECRET, workers=2)
    assert v2.corpus_id == small_corpus.corpus_id
    for e in json.loads((Path(v2.path) / "manifest.json").read_bytes())["files"]:
        assert (Path(v2.path) / e["path"]).read_bytes() == (Path(small_corpus.path) / e["path"]).read_bytes()
    mtime = (Path(v2.path) / "manifest.json").stat().st_mtime_ns
    v3 = build_corpus(corpus_export, tmp_path / "a", secret=SECRET, workers=1)
    assert v3 == v2 and (Path(v3.path) / "manifest.json").stat().st_mtime_ns == mtime
    assert [p.name for p in (tmp_path / "a").iterdir()] == [v2.corpus_id]


def test_subset_secret_and_progress(corpus_export, small_corpus, tmp_path):
    calls = []
    v = build_corpus(corpus_export, tmp_path / "b", secret=b"another-secret-of-32-bytes-......", sites=["H09"],
                     tasks="aki-48h", workers=1, progress=lambda *a: calls.append(a))
    assert v.sites == ("H09",) and v.tasks == ("aki-48h",) and v.corpus_id != small_corpus.corpus_id
    assert calls[0] == (0, 6, "start") and calls[-1] == (6, 6, "H09")
    ids = {r["case_id"] for r in _index(v, "H09")}
    assert ids and not ids & {r["case_id"] for r in _index(small_corpus, "H09")}
    assert not list((Path(v.path) / "sites" / "H09" / "inputs").rglob("*.dcm"))


@pytest.mark.parametrize("kwargs, message", [
    ({"tasks": ["mri-brain"]}, "tasks must be"),
    ({"sites": ["H16"]}, "no folder"),
    ({"sites": ["../x"]}, "not valid"),
    ({"workers": 0}, "workers"),
    ({"progress": 3}, "callable"),
])
def test_option_errors(corpus_export, tmp_path, kwargs, message):
    from datasets.corpus import CorpusOptionError

    with pytest.raises(CorpusOptionError, match=message):
        build_corpus(corpus_export, tmp_path, secret=SECRET, **kwargs)
    assert not list(tmp_path.glob(".incoming-*"))


def test_bad_secret_and_missing_export(tmp_path, corpus_export):
    from datasets.corpus import CorpusInputError
    from datasets.deid import SecretError

    with pytest.raises(SecretError):
        build_corpus(corpus_export, tmp_path, secret=b"short")
    with pytest.raises(CorpusInputError, match="does not exist"):
        build_corpus(tmp_path / "nope", tmp_path, secret=SECRET)
