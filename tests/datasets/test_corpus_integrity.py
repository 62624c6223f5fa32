"""Corpus versions are verified byte for byte; hostile or broken export files are counted, never crash ingest."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from _corpus_fixtures import SECRET, copy_version, corpus_export, small_corpus  # noqa: F401

from datasets.corpus import CorpusIntegrityError, build_corpus, load_corpus


def _first_input(version: Path) -> str:
    return next(e["path"] for e in json.loads((version / "manifest.json").read_bytes())["files"]
                if "/inputs/" in e["path"])


@pytest.mark.parametrize("damage, problem", [
    ("flip", "sha256"), ("truncate", "size"), ("extra", "extra"), ("delete", "missing"), ("label", "sha256"),
])
def test_load_corpus_names_the_first_bad_file(small_corpus, tmp_path, damage, problem):
    v = copy_version(small_corpus.path, tmp_path)
    rel = _first_input(v)
    if damage == "flip":
        data = bytearray((v / rel).read_bytes())
        data[-1] ^= 0x01
        (v / rel).write_bytes(bytes(data))
    elif damage == "truncate":
        (v / rel).write_bytes((v / rel).read_bytes()[:-10])
    elif damage == "extra":
        rel = "sites/DEV/inputs/00/planted.dcm"
        (v / rel).parent.mkdir(parents=True, exist_ok=True)
        (v / rel).write_bytes(b"x")
    elif damage == "delete":
        (v / rel).unlink()
    else:
        rel = "labels/H04/labels.parquet"
        data = bytearray((v / rel).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (v / rel).write_bytes(bytes(data))
    with pytest.raises(CorpusIntegrityError) as err:
        load_corpus(v)
    assert err.value.path == rel and err.value.problem == problem
    assert rel in str(err.value)


def test_manifest_edits_and_renames_are_refused(small_corpus, tmp_path):
    v = copy_version(small_corpus.path, tmp_path)
    m = json.loads((v / "manifest.json").read_bytes())
    (v / "manifest.json").write_text(json.dumps(m, indent=1), encoding="utf-8")
    with pytest.raises(CorpusIntegrityError, match="canonical"):
        load_corpus(v)
    w = copy_version(small_corpus.path, tmp_path / "w")
    renamed = w.parent / ("0" * 64)
    w.rename(renamed)
    with pytest.raises(CorpusIntegrityError, match="named"):
        load_corpus(renamed)
    with pytest.raises(CorpusIntegrityError, match="no manifest"):
        load_corpus(tmp_path / "empty")


def test_quality_json_beside_the_manifest_is_allowed(small_corpus, tmp_path):
    v = copy_version(small_corpus.path, tmp_path)
    (v / "quality.json").write_text("{}", encoding="utf-8")
    assert load_corpus(v).corpus_id == small_corpus.corpus_id


@pytest.mark.filterwarnings("ignore:VR lookup failed")  # pydicom reading the text file planted as DICOM
def test_broken_and_hostile_inputs_are_quarantined_or_counted(corpus_export, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(corpus_export / "DEV", export / "DEV")
    dicom = sorted((export / "DEV" / "dicom").rglob("*.dcm"))
    good = dicom[0].read_bytes()
    (export / "DEV" / "dicom" / "truncated.dcm").write_bytes(good[: len(good) // 2])
    (export / "DEV" / "dicom" / "notes.txt").write_bytes(b"not a DICOM file at all")
    (export / "DEV" / "dicom" / "..%2F..%2Fetc").mkdir()
    # an image nobody asked for: same file with another accession number (a copy not in the reference standard)
    import pydicom

    ds = pydicom.dcmread(dicom[1])
    ds.AccessionNumber = "UNLISTED0001"
    ds.save_as(export / "DEV" / "dicom" / "extra.dcm")
    with (export / "DEV" / "fhir" / "Observation.ndjson").open("ab") as f:
        f.write(b'{"resourceType":"Observation","id":"dup","id":"dup2"}\n')
        f.write(b'{"resourceType": "Observation", "status": [[[[\n')
        f.write(b"[" * 3000 + b"]" * 3000 + b"\n")
    with (export / "DEV" / "reference" / "aki-48h.csv").open("a", encoding="utf-8") as f:
        f.write("NOSUCHMRN,,NOSUCHVISIT,2024-01-01T00:00:00+08:00,1,x\n")
        f.write("BADLABEL,,V1,2024-01-01T00:00:00+08:00,7,x\n")
    v = build_corpus(export, tmp_path / "corpora", secret=SECRET, workers=1)
    rep = json.loads((Path(v.path) / "ingest_report.json").read_bytes())["sites"]["DEV"]
    q = rep["dicom"]["quarantined"]
    from datasets.deid import QuarantineReason

    assert set(q) <= {r.value for r in QuarantineReason}
    assert sum(q.values()) - q.get("burned_in_annotation", 0) == 2  # the truncated file and the text file
    assert rep["dicom"]["unmatched_files"] == 1
    assert rep["dicom"]["files_seen"] == rep["dicom"]["deidentified"] + sum(q.values())
    assert rep["fhir"]["unparseable"] == {"duplicate_key": 1, "nesting_too_deep": 1, "unreadable": 1}
    aki = rep["tasks"]["aki-48h"]
    assert aki["invalid_rows"] == 1 and aki["excluded"]["no_input"] == 1
    assert aki["reference_rows"] == aki["cases"] + sum(aki["excluded"].values()) + aki["invalid_rows"]
    for p in Path(v.path).rglob("*"):
        assert p.resolve().is_relative_to(Path(v.path).resolve())
    load_corpus(v.path)


def test_ingest_refuses_to_write_a_corpus_that_leaks(corpus_export, tmp_path):
    """PHI in an attribute the Annex E profile keeps (Manufacturer) must be caught by the scan and fail the ingest."""
    import pydicom

    from datasets.corpus import PhiLeakError

    export = tmp_path / "export"
    shutil.copytree(corpus_export / "DEV", export / "DEV")
    f = next(p for p in sorted((export / "DEV" / "dicom").rglob("*.dcm"))
             if pydicom.dcmread(p, stop_before_pixels=True).BurnedInAnnotation == "NO")
    ds = pydicom.dcmread(f)
    name = str(ds.PatientName).split("=")[0].replace("^", " ")
    ds.Manufacturer = f"GE for {name}"
    ds.save_as(f)
    root = tmp_path / "corpora"
    with pytest.raises(PhiLeakError) as err:
        build_corpus(export, root, secret=SECRET, workers=1)
    # found in the stored image and in the index's manufacturer column
    assert {h.token_class for h in err.value.hits} == {"patient_name"}
    where = sorted(h.location for h in err.value.hits)
    assert len(where) == 2 and where[0] == "sites/DEV/index.parquet"
    assert re.fullmatch(r"sites/DEV/inputs/[0-9a-f]{2}/[0-9a-f]{64}\.dcm", where[1])
    assert name not in str(err.value) and ds.PatientID not in str(err.value)
    assert list(root.iterdir()) == []
    # without the scan the same export is written (the gate, not de-identification, caught it)
    assert build_corpus(export, root, secret=SECRET, workers=1, phi_scan=False).n_cases() > 0
