"""Run reports: canonical JSON, self-contained HTML, PDF; access and suppression as for results; no PHI."""

from __future__ import annotations

import hashlib
import json
import re
from xml.etree import ElementTree

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from validation.exceptions import AccessDenied, InvalidInput
from validation.reports import (
    build_report,
    document_sha256,
    render,
    report_sha256,
    to_html,
    to_json,
    to_pdf,
)
from validation.reports.model import parse_heterogeneity, reconstruct_2x2
from validation.runs import evaluate, get_results, run_dir

EVAL_SITES = ["H01", "H05", "H09"]  # the hospitals of the shared run-test world (tests/runs/conftest.py)


@pytest.fixture(scope="module")
def run(world):
    platform, people, submission, corpus = world
    return evaluate(platform, people["admin"], submission, corpus, batch_size=20)


def _joined(platform, info) -> pd.DataFrame:
    from validation.corpora import corpus_dir

    preds = pd.concat([pd.read_parquet(f) for f in sorted((run_dir(platform, info.id) / "predictions")
                                                           .rglob("batch-*.parquet"))])
    labels = pd.concat([pd.read_parquet(corpus_dir(platform, info.corpus_id) / "labels" / s / "labels.parquet")
                        for s in EVAL_SITES])
    return preds.merge(labels, on="case_id")


def test_json_is_canonical_and_its_hash_stable(world, run):
    platform, people, _, _ = world
    first, second = build_report(platform, people["admin"], run.id), build_report(platform, people["admin"], run.id)
    raw = to_json(first)
    assert raw == to_json(second)
    assert report_sha256(first) == report_sha256(second) == hashlib.sha256(raw).hexdigest()
    body = json.loads(raw)
    assert json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8") == raw
    assert b"NaN" not in raw and b"Infinity" not in raw
    assert body["run_id"] == run.id and body["format"] == "clinval-report"
    assert body["hashes"]["results_sha256"] == run.results_sha256
    assert body["hashes"]["protocol_sha256"] == run.protocol_sha256 == body["protocol"]["sha256"]
    assert body["model"]["model_sha256"] == run.model_sha256 and body["model"]["mlflow_version"]
    for section in ("model", "intended_use", "protocol", "corpus", "participant_flow", "pooled", "table_2x2",
                    "forest", "heterogeneity", "subgroups", "verdicts", "hashes"):
        assert body[section], section


def test_signing_changes_the_report_hash_but_not_the_signed_document(world, run):
    from validation.signoff import sign_off

    platform, people, _, _ = world
    before = build_report(platform, people["rev-h01"], run.id)
    sign_off(platform, people["rev-h01"], run.id, password="password for rev-h01", meaning="approve",
             reason="Checked the H01 failure cases.")
    after = build_report(platform, people["rev-h01"], run.id)
    assert document_sha256(before) == document_sha256(after)
    assert report_sha256(before) != report_sha256(after)
    assert [s["meaning"] for s in after.signoffs][-1] == "approve"
    assert after.signoffs[-1]["signer"] == "rev-h01"


def test_2x2_table_equals_counts_from_the_predictions(world, run):
    platform, people, _, _ = world
    j = _joined(platform, run)
    positive = j["score"] >= run.threshold
    expected = {"tp": int((positive & (j["label"] == 1)).sum()), "fp": int((positive & (j["label"] == 0)).sum()),
                "fn": int((~positive & (j["label"] == 1)).sum()), "tn": int((~positive & (j["label"] == 0)).sum())}
    for who in ("admin", "vendor", "regulator"):
        table = build_report(platform, people[who], run.id).table_2x2
        assert {k: table[k] for k in expected} == expected
        assert table["threshold"] == run.threshold
    stored = json.loads((run_dir(platform, run.id) / "results.json").read_text())["table_2x2"]
    assert stored == expected


@settings(max_examples=100, deadline=None)
@given(tp=st.integers(0, 5000), fp=st.integers(0, 5000), fn=st.integers(0, 5000), tn=st.integers(0, 5000))
def test_2x2_reconstruction_is_exact_for_any_counts(tp, fp, fn, tn):
    def row(num, den):
        return {"estimate": num / den if den else None, "n_pos": tp + fn, "n_neg": fp + tn}

    overall = {"sensitivity": row(tp, tp + fn), "specificity": row(tn, tn + fp), "ppv": row(tp, tp + fp),
               "npv": row(tn, tn + fn)}
    assert reconstruct_2x2(overall) == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


def test_reconstruction_refuses_rows_that_do_not_come_from_integer_counts():
    overall = {"sensitivity": {"estimate": 0.5, "n_pos": 10, "n_neg": 10},
               "specificity": {"estimate": 0.8, "n_pos": 10, "n_neg": 10},
               "ppv": {"estimate": 0.9, "n_pos": 10, "n_neg": 10}}  # 5/(5+2) is not 0.9
    assert reconstruct_2x2(overall) is None


def test_heterogeneity_note_is_parsed_into_numbers():
    row = {"metric": "auroc", "estimate": 0.9, "ci_low": 0.8, "ci_high": 0.95, "ci_method": "re",
           "note": "I2=0.412; tau2=1.5e-05; Q=3.401 (df 2, p=0.183); prediction interval 0.612 to 0.981; 3 sites"}
    h = parse_heterogeneity(row)
    assert (h["i2"], h["tau2"], h["q"], h["q_df"], h["q_p"]) == (0.412, 1.5e-05, 3.401, 2, 0.183)
    assert (h["pred_low"], h["pred_high"], h["k"]) == (0.612, 0.981, 3)
    undefined = parse_heterogeneity({**row, "note": row["note"].replace("0.612 to 0.981", "undefined to undefined")})
    assert undefined["pred_low"] is None and undefined["pred_high"] is None


def test_forest_and_heterogeneity_match_the_results(world, run):
    platform, people, _, _ = world
    report = build_report(platform, people["admin"], run.id)
    rows = get_results(platform, people["admin"], run.id).results
    sites = {r["group"]: r for r in rows if r["group_kind"] == "site" and r["metric"] == "auroc"}
    assert [s["group"] for s in report.forest["sites"]] == EVAL_SITES
    for s in report.forest["sites"]:
        assert (s["estimate"], s["ci_low"], s["ci_high"]) == tuple(sites[s["group"]][k] for k in
                                                                   ("estimate", "ci_low", "ci_high"))
    re_row = next(r for r in rows if r["group_kind"] == "random_effects")
    h = report.heterogeneity
    assert h["estimate"] == re_row["estimate"] and 0.0 <= h["i2"] <= 1.0 and h["k"] == len(EVAL_SITES)
    assert f"I2={h['i2']:.3f}" in re_row["note"]
    j = _joined(platform, run)
    for s in report.corpus["sites"]:
        part = j[j["site"] == s["site"]]
        assert s["cases"] == len(part) and s["prevalence"] == pytest.approx(part["label"].mean())
    flow = report.participant_flow
    assert flow["planned"] == flow["predicted"] == flow["scored"] == len(j) and flow["failed_sites"] == []


def test_vendor_report_hides_suppressed_cells_and_carries_no_case_level_data(world, run):
    platform, people, _, _ = world
    full = build_report(platform, people["admin"], run.id)
    vendor = build_report(platform, people["vendor"], run.id)
    limit = vendor.view["min_cell"]
    assert limit >= 10 and full.view["min_cell"] == 0 and vendor.view["case_level_data"] is False
    small = [(r["metric"], r["group_kind"], r["group"]) for r in (*full.subgroups, *full.sites) if r["n"] < limit]
    assert small, "the fixture should have some groups below the suppression limit"
    seen = {(r["metric"], r["group_kind"], r["group"]): r for r in (*vendor.subgroups, *vendor.sites)}
    for key in small:
        r = seen[key]
        assert r["suppressed"] and r["estimate"] is None and r["ci_low"] is None and r["n"] is None
    assert vendor.view["suppressed_cells"] == len(small)
    j = _joined(platform, run)
    ids = [str(c).encode() for c in j["case_id"]]
    paths = [str(p).encode() for p in j.get("input_path", [])]
    for blob in (to_json(vendor), to_html(vendor).encode(), to_pdf(vendor)):
        assert not any(i in blob for i in ids)
        assert not any(p in blob for p in paths)
    quality = vendor.corpus["quality"]
    assert quality is None or all("unexpected_ids" not in e for e in quality["results"])


def test_html_is_self_contained_with_forest_plot_and_every_verdict(world, run):
    platform, people, _, _ = world
    report = build_report(platform, people["vendor"], run.id)
    page = to_html(report)
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 2
    forest = re.search(r'<svg class="forest".*?</svg>', page, re.S).group(0)
    ElementTree.fromstring(forest)  # well-formed SVG
    ElementTree.fromstring(re.search(r'<svg class="verdicts".*?</svg>', page, re.S).group(0))
    for site in EVAL_SITES:
        assert f">{site}<" in forest
    assert "pooled" in forest and "random effects" in forest and "prediction-interval" in forest
    section = re.search(r'<section id="verdicts">.*?</section>', page, re.S).group(0)
    assert [v["criterion"] for v in report.verdicts] == [c["id"] for c in report.protocol["acceptance"]]
    for v in report.verdicts:
        assert v["criterion"] in section and v["status"] in section
    for section_id in ("model", "intended-use", "protocol", "corpus", "pooled", "sites", "subgroups", "signoffs",
                       "hashes"):
        assert f'<section id="{section_id}">' in page
    lowered = page.lower()
    assert "http://" not in lowered and "https://" not in lowered
    for loader in ("<script", "<link", "<img", "<iframe", "src=", "url(", "@import"):
        assert loader not in lowered
    assert "suppressed" in page


def test_pdf_is_a_wellformed_deterministic_document_with_the_verdicts(world, run):
    platform, people, _, _ = world
    report = build_report(platform, people["regulator"], run.id)
    pdf = to_pdf(report)
    assert pdf.startswith(b"%PDF-1.4") and pdf.endswith(b"%%EOF\n")
    assert pdf == to_pdf(build_report(platform, people["regulator"], run.id))
    startxref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[startxref:startxref + 4] == b"xref"
    count = int(pdf[startxref:].split(b"\n")[1].split()[1])
    entries = pdf[startxref:].split(b"\n")[3:3 + count - 1]
    for number, entry in enumerate(entries, 1):
        offset = int(entry[:10])
        assert pdf[offset:].startswith(f"{number} 0 obj".encode())
    for v in report.verdicts:
        assert f"({v['status'].upper()})".encode() in pdf
        assert v["criterion"].encode() in pdf
    assert b"/Type /Page " in pdf and b"auroc by site" in pdf


def test_other_vendor_and_other_hospital_are_refused(world, run):
    platform, people, _, _ = world
    with pytest.raises(AccessDenied):
        build_report(platform, people["other-vendor"], run.id)
    with pytest.raises(AccessDenied):
        build_report(platform, people["rev-h02"], run.id)
    reviewer = build_report(platform, people["rev-h01"], run.id)
    assert reviewer.view["min_cell"] == 0 and reviewer.view["suppressed_cells"] == 0


def test_everyone_with_the_same_view_gets_the_same_bytes(world, run):
    platform, people, _, _ = world
    admin, reviewer = build_report(platform, people["admin"], run.id), build_report(platform, people["rev-h01"], run.id)
    vendor, regulator = (build_report(platform, people["vendor"], run.id),
                         build_report(platform, people["regulator"], run.id))
    assert to_json(admin) == to_json(reviewer) and document_sha256(admin) == document_sha256(reviewer)
    assert to_json(vendor) == to_json(regulator)
    assert document_sha256(vendor) != document_sha256(admin)


def test_no_phi_of_the_source_export_in_any_rendering(world, run):
    from datasets.phi_scan import harvest_tokens, scan

    platform, people, _, _ = world
    export = platform.home.parent / "export"
    if not export.is_dir():
        pytest.skip("the world fixture's export directory is not where tests/runs/conftest.py puts it")
    tokens = harvest_tokens(export)
    blobs = {}
    for who in ("admin", "vendor", "rev-h01"):
        report = build_report(platform, people[who], run.id)
        blobs.update({f"{who}.json": to_json(report), f"{who}.html": to_html(report).encode("utf-8"),
                      f"{who}.pdf": to_pdf(report)})
    hits = scan([], tokens, extra_blobs=blobs)
    assert hits == [], [(h.token_class, h.location) for h in hits]


def test_render_names_the_three_formats_and_refuses_others(world, run):
    platform, people, _, _ = world
    report = build_report(platform, people["admin"], run.id)
    assert render(report, "json") == to_json(report)
    assert render(report, "html") == to_html(report).encode("utf-8")
    assert render(report, "pdf").startswith(b"%PDF-")
    with pytest.raises(InvalidInput, match="docx") as refused:
        render(report, "docx")
    assert "json, html, pdf, chai" in refused.value.hint


def test_pdf_opens_in_an_independent_reader_and_its_first_page_is_not_blank(world, run):
    pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 (test extra) renders PDF pages without a browser")
    import numpy as np

    platform, people, _, _ = world
    report = build_report(platform, people["vendor"], run.id)
    document = pdfium.PdfDocument(to_pdf(report))
    assert len(document) >= 2
    text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    for v in report.verdicts:
        assert v["criterion"] in text and v["status"].upper() in text
    assert "Per-site results and heterogeneity" in text and "suppressed" in text
    pixels = np.asarray(document[0].render(scale=1.0).to_pil().convert("L"), dtype=float)
    dark = (pixels < 128).mean()
    assert 0.005 < dark < 0.5, f"page 1 looks blank or black: {dark:.4f} of pixels dark"
