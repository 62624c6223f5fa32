"""Site differences are real: a simple model fitted on DEV works at the hospitals, worse where acquisition differs.

This is the property that makes per-site evaluation meaningful. The margins were checked on seeds 0-8 and 11 (the
seed used here): mean per-site AUROC of the image model over the 16 hospitals 0.70-0.77, matched sites pooled
0.73-0.81, gap between matched and shifted sites 0.15-0.25; AKI pooled AUROC 0.73-0.82 (seeds 0-5 and 11).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pydicom
import pytest
from _synth_fixtures import (
    admissions,
    aki_features,
    build,
    cxr_features,
    dicom_files,
    parse_time,
    read_ndjson,
    read_reference,
)

from datasets.sites import HOSPITAL_CODES, get_site

sklearn = pytest.importorskip("sklearn")
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

SEED = 11


def _shifted(code: str) -> bool:
    """Acquisition differs from DEV: at least twice the noise, or a field of view 10% or more different."""
    dev, img = get_site("DEV").imaging, get_site(code).imaging
    return img.noise_sigma >= 2 * dev.noise_sigma or abs(img.field_of_view_mm / dev.field_of_view_mm - 1) >= 0.1


def _image_xy(root, site):
    labels = {r["accession_number"]: int(r["label"]) for r in read_reference(root, site, "cxr-pneumonia")}
    x, y = [], []
    for path in dicom_files(root, site):
        ds = pydicom.dcmread(path)
        x.append(cxr_features(ds))
        y.append(labels[ds.AccessionNumber])
    return np.array(x), np.array(y)


@pytest.fixture(scope="module")
def image_exports(tmp_path_factory):
    dev, _ = build(tmp_path_factory, "shift-dev", sites=["DEV"], cases=300, tasks=["cxr-pneumonia"], seed=SEED,
                   image_size=128)
    hosp, _ = build(tmp_path_factory, "shift-hosp", sites=HOSPITAL_CODES, cases=50, tasks=["cxr-pneumonia"],
                    seed=SEED, image_size=128)
    return dev, hosp


def test_image_model_from_dev_transfers_but_worse_where_acquisition_differs(image_exports):
    dev, hosp = image_exports
    x, y = _image_xy(dev, "DEV")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
    auroc, scores = {}, {}
    for site in HOSPITAL_CODES:
        xs, ys = _image_xy(hosp, site)
        assert 0 < ys.sum() < len(ys), site
        scores[site] = (ys, model.predict_proba(xs)[:, 1])
        auroc[site] = roc_auc_score(*scores[site])
    shifted = [s for s in HOSPITAL_CODES if _shifted(s)]
    matched = [s for s in HOSPITAL_CODES if s not in shifted]
    assert 3 <= len(shifted) <= 8
    mean_all = float(np.mean(list(auroc.values())))
    mean_matched = float(np.mean([auroc[s] for s in matched]))
    mean_shifted = float(np.mean([auroc[s] for s in shifted]))
    pooled_matched = roc_auc_score(np.concatenate([scores[s][0] for s in matched]),
                                   np.concatenate([scores[s][1] for s in matched]))
    report = f"all {mean_all:.2f} matched {mean_matched:.2f} shifted {mean_shifted:.2f} pooled {pooled_matched:.2f}"
    assert mean_all >= 0.65, report  # clearly better than chance over the 16 hospitals
    assert pooled_matched >= 0.68, report
    assert mean_shifted <= mean_matched - 0.10, report  # measurably worse where acquisition differs


def test_acquisition_differences_are_in_the_files(image_exports):
    _, hosp = image_exports
    seen = {}
    for site in HOSPITAL_CODES:
        ds = pydicom.dcmread(dicom_files(hosp, site)[0], stop_before_pixels=True)
        seen[site] = (ds.Manufacturer, ds.PhotometricInterpretation, ds.SpecificCharacterSet, int(ds.BitsStored),
                      round(float(ds.PixelSpacing[0]) * 128, 0))
    assert len({v[0] for v in seen.values()}) >= 4
    mono1 = {s for s, v in seen.items() if v[1] == "MONOCHROME1"}
    assert mono1 == {s for s in HOSPITAL_CODES if get_site(s).imaging.photometric_interpretation == "MONOCHROME1"}
    assert mono1 and len(mono1) < 16
    assert {v[2] for v in seen.values()} >= {"ISO_IR 192", "GB18030"}
    assert len({v[3] for v in seen.values()}) >= 3 and len({v[4] for v in seen.values()}) >= 3


def test_prevalence_differs_between_sites_as_profiled(tmp_path_factory):
    root, summary = build(tmp_path_factory, "prevalence", sites=["H08", "H11"], cases=150,
                          tasks=["cxr-pneumonia"], seed=SEED, image_size=64)
    observed = {}
    for site in ("H08", "H11"):
        labels = [int(r["label"]) for r in read_reference(root, site, "cxr-pneumonia")]
        p, e = get_site(site).clinical.pneumonia_prevalence, get_site(site).reference.label_noise
        expected = p * (1 - e) + (1 - p) * e
        observed[site] = float(np.mean(labels))
        se = math.sqrt(expected * (1 - expected) / len(labels))
        assert abs(observed[site] - expected) <= 4 * se, (site, observed[site], expected)
    assert observed["H11"] - observed["H08"] >= 0.15


def _aki_xy(root, site):
    patients = {p["id"]: p for p in read_ndjson(root / site / "fhir" / "Patient.ndjson")}
    adm = admissions(root, site)
    x, y = [], []
    for row in read_reference(root, site, "aki-48h"):
        a = adm[row["visit_number"]]
        birth = dt.date.fromisoformat(patients[a["encounter"]["subject"]["reference"].split("/")[1]]["birthDate"])
        x.append(aki_features(a, parse_time(row["index_time"]), birth))
        y.append(int(row["label"]))
    return np.array(x), np.array(y)


def test_aki_model_from_dev_recorded_features_transfers(tmp_path_factory):
    dev, _ = build(tmp_path_factory, "aki-dev", sites=["DEV"], cases=300, tasks=["aki-48h"], seed=SEED)
    hosp, _ = build(tmp_path_factory, "aki-hosp", sites=HOSPITAL_CODES, cases=40, tasks=["aki-48h"], seed=SEED)
    x, y = _aki_xy(dev, "DEV")
    assert 0.08 <= y.mean() <= 0.4
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
    ys, ps = [], []
    for site in HOSPITAL_CODES:
        xs, labels = _aki_xy(hosp, site)
        ys.append(labels)
        ps.append(model.predict_proba(xs)[:, 1])
    pooled = roc_auc_score(np.concatenate(ys), np.concatenate(ps))
    assert pooled >= 0.68, pooled
