"""Data-quality suites (great-expectations): a clean corpus is usable; a corrupted one fails its critical
expectations and names the case ids. GX is slow to import, so the suites run only twice in this module."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _corpus_fixtures import copy_version, corpus_export, reseal, small_corpus  # noqa: F401

from datasets.corpus import load_corpus
from datasets.quality import QualityError, QualityReport, read_quality, run_quality


@pytest.fixture(scope="module")
def clean(small_corpus, tmp_path_factory):
    v = copy_version(small_corpus.path, tmp_path_factory.mktemp("quality-clean"))
    gx_root = tmp_path_factory.mktemp("gx")
    return v, run_quality(v, gx_root=gx_root), gx_root


def _rows(path: Path) -> tuple[list[dict], object]:
    t = pq.read_table(path)
    return t.to_pylist(), t.schema


def _write(path: Path, rows: list[dict], schema) -> None:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="NONE")


@pytest.fixture(scope="module")
def corrupted(small_corpus, tmp_path_factory):
    """A corpus with known defects, resealed so that it passes integrity checks; returns (report, planted ids)."""
    v = copy_version(small_corpus.path, tmp_path_factory.mktemp("quality-bad"))
    planted = {}
    # H04: two index rows share a case_id; the overwritten case's label no longer has an index row
    p = v / "sites" / "H04" / "index.parquet"
    rows, schema = _rows(p)
    planted["dup"], planted["orphan_label"] = rows[0]["case_id"], rows[1]["case_id"]
    rows[1]["case_id"] = rows[0]["case_id"]
    # H04: one creatinine in umol/L relabelled mg/dL (a unit error) in an aki bundle
    aki = next(r for r in rows if r["task"] == "aki-48h" and r["case_id"] != planted["dup"])
    bundle = json.loads((v / aki["input_path"]).read_bytes())
    obs = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
               and e["resource"]["code"]["coding"][0]["code"] == "14682-9")
    obs["valueQuantity"]["code"] = obs["valueQuantity"]["unit"] = "mg/dL"
    data = json.dumps(bundle, sort_keys=True).encode()
    digest = hashlib.sha256(data).hexdigest()
    (v / aki["input_path"]).unlink()
    aki["input_path"] = f"sites/H04/inputs/{digest[:2]}/{digest}.json"
    (v / aki["input_path"]).parent.mkdir(parents=True, exist_ok=True)
    (v / aki["input_path"]).write_bytes(data)
    planted["unit"] = aki["case_id"]
    _write(p, rows, schema)
    # H09: a sex code outside M/F/O/U
    p = v / "sites" / "H09" / "index.parquet"
    rows, schema = _rows(p)
    bad = next(r for r in rows if r["task"] == "cxr-pneumonia")
    bad["sex"] = "X"
    planted["sex"] = bad["case_id"]
    _write(p, rows, schema)
    # H15: an image without pixel spacing
    p = v / "sites" / "H15" / "index.parquet"
    rows, schema = _rows(p)
    bad = next(r for r in rows if r["task"] == "cxr-pneumonia")
    bad["pixel_spacing_row"] = None
    planted["spacing"] = bad["case_id"]
    _write(p, rows, schema)
    # H07: a PHI-like column in the index
    p = v / "sites" / "H07" / "index.parquet"
    rows, schema = _rows(p)
    for r in rows:
        r["patient_name"] = None
    _write(p, rows, schema.append(pa.field("patient_name", pa.string())))
    # DEV: a label that is not 0/1
    p = v / "labels" / "DEV" / "labels.parquet"
    rows, schema = _rows(p)
    rows[0]["label"] = 2
    planted["label"] = rows[0]["case_id"]
    _write(p, rows, schema)
    v = reseal(v)
    load_corpus(v)  # integrity holds: only the quality suites can catch these defects
    return v, run_quality(v), planted


def test_clean_corpus_is_usable_with_site_warnings(clean, small_corpus):
    v, report, gx_root = clean
    assert report.usable and not report.critical_failures()
    assert [s.name for s in report.suites] == ["index", "labels", "dicom_metadata", "clinical", "privacy"]
    assert report.engine.startswith("great_expectations 1.")
    index = pq.read_table(v / "sites" / "H07" / "index.parquet").to_pylist()
    h07_aki = {r["case_id"] for r in index if r["task"] == "aki-48h"}
    warn = {e.id: e for e in report.warnings()}
    assert set(warn) == {"clinical.lab_codes_loinc", "clinical.creatinine_before_index"}
    assert set(warn["clinical.creatinine_before_index"].unexpected_ids) == h07_aki
    assert set(warn["clinical.lab_codes_loinc"].unexpected_ids) == h07_aki
    crea = report.get("clinical.creatinine_plausible")
    assert crea.success and crea.element_count > 0
    assert report.get("dicom.pixel_spacing_present").element_count == small_corpus.n_cases(task="cxr-pneumonia")
    # results are stored beside the manifest, outside the hashed set, and read back equal
    assert read_quality(v) == report == QualityReport.read(v / "quality.json")
    assert load_corpus(v).corpus_id == small_corpus.corpus_id
    assert {p.stem for p in (gx_root / "gx" / "expectations").rglob("*.json")} >= {"index", "labels", "dicom"}


def test_corrupted_index_fails_critical_expectations_and_names_cases(corrupted):
    v, report, planted = corrupted
    assert not report.usable
    failed = {e.id: e for e in report.critical_failures()}
    assert set(failed["index.case_id_unique"].unexpected_ids) == {planted["dup"]}
    assert failed["index.sex_known"].unexpected_ids == (planted["sex"],)
    assert failed["dicom.pixel_spacing_present"].unexpected_ids == (planted["spacing"],)
    assert failed["labels.label_binary"].unexpected_ids == (planted["label"],)
    assert failed["labels.every_label_in_index"].unexpected_ids == (planted["orphan_label"],)
    assert failed["clinical.lab_units_match_loinc"].unexpected_ids == (planted["unit"],)
    assert failed["clinical.creatinine_normalisable"].unexpected_ids == (planted["unit"],)
    assert failed["privacy.no_phi_like_columns"].unexpected_ids == ("patient_name",)
    assert failed["privacy.no_phi_like_columns"].id_column == "column"
    assert set(failed) == {"index.case_id_unique", "index.sex_known", "dicom.pixel_spacing_present",
                           "labels.label_binary", "labels.every_label_in_index", "clinical.lab_units_match_loinc",
                           "clinical.creatinine_normalisable", "privacy.no_phi_like_columns"}
    stored = json.loads((v / "quality.json").read_bytes())
    assert stored["usable"] is False and "index.sex_known" in stored["summary"]["critical_failures"]
    assert '"X"' not in (v / "quality.json").read_text()  # ids only, never the offending values


def test_read_quality_errors(tmp_path):
    with pytest.raises(QualityError, match="run the quality suites"):
        read_quality(tmp_path)
    (tmp_path / "quality.json").write_text('{"format_version": 99}', encoding="utf-8")
    with pytest.raises(QualityError, match="format_version"):
        read_quality(tmp_path)
