"""generate_export: determinism, layout, options, the non-empty directory rule, progress and the summary."""

from __future__ import annotations

import json
import re

import pytest
from _synth_fixtures import SMALL_SITES, dicom_files, read_reference, small_export, tree_hash  # noqa: F401

from datasets.exceptions import DatasetsError, OutputNotEmptyError, SynthesisOptionError, UnknownSiteError
from datasets.synthetic import EXPORT_MANIFEST, PHI_MANIFEST, REFERENCE_COLUMNS, TASKS, generate_export

TINY = dict(sites=["DEV", "H09", "H15"], cases=4, image_size=64)


def test_same_seed_same_bytes_different_seed_differs(tmp_path):
    a = generate_export(tmp_path / "a", seed=3, workers=2, **TINY)
    b = generate_export(tmp_path / "b", seed=3, workers=1, **TINY)  # worker count must not matter
    c = generate_export(tmp_path / "c", seed=4, workers=1, **TINY)
    assert a.files_written == b.files_written > 0
    assert tree_hash(tmp_path / "a") == tree_hash(tmp_path / "b")
    assert tree_hash(tmp_path / "a") != tree_hash(tmp_path / "c")
    # every file differs with the seed, not only some
    for rel in ("DEV/fhir/Patient.ndjson", "H09/reference/aki-48h.csv", "H15/dicom/ST000001/SE000001/IM000001.dcm"):
        assert (tmp_path / "a" / rel).read_bytes() != (tmp_path / "c" / rel).read_bytes()
    assert a.counts == b.counts


def test_a_site_does_not_depend_on_which_other_sites_are_generated(tmp_path):
    generate_export(tmp_path / "one", sites=["H09"], cases=4, image_size=64, seed=3, workers=1)
    generate_export(tmp_path / "three", seed=3, workers=1, **TINY)
    assert tree_hash(tmp_path / "one" / "H09") == tree_hash(tmp_path / "three" / "H09")


def test_tasks_are_generated_independently(tmp_path):
    generate_export(tmp_path / "both", sites=["H04"], cases=5, image_size=64, seed=1, workers=1)
    generate_export(tmp_path / "cxr", sites=["H04"], cases=5, image_size=64, seed=1, workers=1,
                    tasks=["cxr-pneumonia"])
    assert tree_hash(tmp_path / "both" / "H04" / "dicom") == tree_hash(tmp_path / "cxr" / "H04" / "dicom")
    assert not (tmp_path / "cxr" / "H04" / "reference" / "aki-48h.csv").exists()


def test_layout_and_summary(small_export):
    root, summary = small_export
    assert summary.sites == SMALL_SITES and summary.tasks == TASKS
    assert summary.n_cases() == len(SMALL_SITES) * 2 * 12
    assert summary.n_cases(site="H09", task="aki-48h") == 12
    top = sorted(p.name for p in root.iterdir())
    assert top == sorted([*SMALL_SITES, PHI_MANIFEST, EXPORT_MANIFEST])
    name = re.compile(r"^dicom/ST\d{6}/SE\d{6}/IM\d{6}\.dcm$")
    files = 0
    for site in SMALL_SITES:
        dcm = dicom_files(root, site)
        assert len(dcm) == 12
        assert all(name.match(p.relative_to(root / site).as_posix()) for p in dcm)  # never named from a UID
        ndjson = sorted(p.name for p in (root / site / "fhir").iterdir())
        assert {"Patient.ndjson", "Encounter.ndjson", "ImagingStudy.ndjson", "DiagnosticReport.ndjson",
                "ServiceRequest.ndjson", "Observation.ndjson", "Condition.ndjson",
                "MedicationRequest.ndjson"} <= set(ndjson)
        for task in TASKS:
            rows = read_reference(root, site, task)
            assert len(rows) == 12 and tuple(rows[0]) == REFERENCE_COLUMNS
            assert sum(int(r["label"]) for r in rows) == next(
                c.positives for c in summary.counts if c.site == site and c.task == task)
        files += len(dcm) + len(ndjson) + 2
    assert summary.files_written == files
    assert summary.bytes_written == sum(p.stat().st_size for s in SMALL_SITES for p in (root / s).rglob("*")
                                        if p.is_file())
    manifest = json.loads((root / EXPORT_MANIFEST).read_text(encoding="utf-8"))
    assert manifest["seed"] == 7 and manifest["sites"] == list(SMALL_SITES)
    assert str(root) not in (root / EXPORT_MANIFEST).read_text(encoding="utf-8")


def test_reference_is_keyed_by_hospital_identifiers(small_export):
    import pydicom

    root, _ = small_export
    for site in ("DEV", "H09"):
        by_acc = {r["accession_number"]: r for r in read_reference(root, site, "cxr-pneumonia")}
        for path in dicom_files(root, site):
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            assert by_acc[ds.AccessionNumber]["mrn"] == ds.PatientID
        aki = read_reference(root, site, "aki-48h")
        assert all(r["visit_number"] and not r["accession_number"] for r in aki)
        assert all(r["established_by"] for r in aki)


def test_refuses_non_empty_directory_unless_forced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("user file")
    with pytest.raises(OutputNotEmptyError, match="force"):
        generate_export(out, sites=["DEV"], cases=2, image_size=64, workers=1)
    first = generate_export(out, sites=["DEV"], cases=3, image_size=64, workers=1, force=True)
    (out / "DEV" / "stale.txt").write_text("left over")
    second = generate_export(out, sites=["DEV"], cases=2, image_size=64, workers=1, force=True)
    assert (out / "keep.txt").read_text() == "user file"  # force replaces the site folders only
    assert not (out / "DEV" / "stale.txt").exists()
    assert first.n_cases() == 6 and second.n_cases() == 4
    assert len(dicom_files(out, "DEV")) == 2
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputNotEmptyError, match="not a directory"):
        generate_export(tmp_path / "file", sites=["DEV"], cases=1, image_size=64, workers=1, force=True)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(sites=["H01", "H99"]), UnknownSiteError, "H99"),
        (dict(sites="H01,XX"), UnknownSiteError, "XX"),
        (dict(sites=[]), SynthesisOptionError, "sites is empty"),
        (dict(cases=0), SynthesisOptionError, "cases"),
        (dict(cases=2.5), SynthesisOptionError, "cases"),
        (dict(cases=True), SynthesisOptionError, "cases"),
        (dict(image_size=100), SynthesisOptionError, "multiple of 16"),
        (dict(image_size=32), SynthesisOptionError, "image_size"),
        (dict(seed=-1), SynthesisOptionError, "seed"),
        (dict(tasks=["cxr-pneumonia", "sepsis"]), SynthesisOptionError, "sepsis"),
        (dict(tasks=[]), SynthesisOptionError, "tasks"),
        (dict(workers=0), SynthesisOptionError, "workers"),
        (dict(progress="yes"), SynthesisOptionError, "progress"),
    ],
)
def test_bad_options_raise_specific_errors(tmp_path, kwargs, error, match):
    options = dict(sites=["DEV"], cases=1, image_size=64, workers=1) | kwargs
    with pytest.raises(error, match=match) as info:
        generate_export(tmp_path / "out", **options)
    assert isinstance(info.value, DatasetsError)
    assert not (tmp_path / "out").exists()  # validation happens before anything is written


def test_sites_all_and_strings(tmp_path):
    summary = generate_export(tmp_path / "o", sites="h02, dev", tasks="aki-48h", cases=1, workers=1)
    assert summary.sites == ("DEV", "H02") and summary.tasks == ("aki-48h",)
    assert not (tmp_path / "o" / "DEV" / "dicom").exists()


def test_progress_reports_every_site(tmp_path):
    calls = []
    generate_export(tmp_path / "p", sites=["DEV", "H01", "H02"], cases=2, image_size=64, workers=2,
                    progress=lambda done, total, label: calls.append((done, total, label)))
    assert calls[0] == (0, 12, "start")
    assert [c[0] for c in calls[1:]] == [4, 8, 12]
    assert sorted(c[2] for c in calls[1:]) == ["DEV", "H01", "H02"]
    assert all(c[1] == 12 for c in calls)
