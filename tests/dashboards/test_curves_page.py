"""The report page draws the run report's pooled ROC and calibration curves, exactly as the report holds them, for
each role that may read the run; without curves it says why."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from dash_helpers import open_page

from validation.reports import build_report
from validation.runs.service import run_dir


def _charts(at) -> dict[str, tuple[dict, dict]]:
    """Every chart on the page by its title: (Vega-Lite spec, {dataset name: rows}) as Streamlit sent them."""
    out = {}
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        datasets = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pylist() for d in element.proto.datasets}
        title = spec.get("title")
        out[title.get("text") if isinstance(title, dict) else title] = (spec, datasets)
    return out


def _layer_rows(chart: tuple[dict, dict], mark: str) -> list[dict]:
    """The rows drawn by the (single) layer of mark type ``mark``."""
    spec, datasets = chart
    (layer,) = [lay for lay in spec["layer"] if (lay["mark"]["type"] if isinstance(lay["mark"], dict)
                                                 else lay["mark"]) == mark]
    return datasets[layer["data"]["name"]]


def _report(world, username: str):
    return build_report(world.platform, world.people[username], world.run_id)


@pytest.mark.parametrize("username", ["vendor", "rev-h01", "regulator"])
def test_report_page_draws_the_reports_roc_and_calibration_curves(login, scored_world, username):
    report = _report(scored_world, username)
    roc, calibration = report.curves["roc"], report.curves["calibration"]
    assert roc is not None and calibration is not None, report.curves["why"]
    at = open_page(login(username), "report.py")
    assert any(h.value == "Curves" for h in at.subheader)
    charts = _charts(at)

    roc_chart = charts["ROC curve, all cases pooled"]
    band = _layer_rows(roc_chart, "area")
    assert [{k: r[k] for k in ("specificity", "sensitivity", "ci_low", "ci_high")} for r in band] == roc["points"]
    assert all(r["fpr"] == pytest.approx(1 - r["specificity"], abs=1e-12) for r in band)
    assert roc_chart[0]["layer"][0]["encoding"]["y2"]["field"] == "ci_high"
    table = report.table_2x2
    (dot,) = _layer_rows(roc_chart, "point")
    assert dot["threshold"] == table["threshold"]
    assert dot["sensitivity"] == pytest.approx(table["tp"] / (table["tp"] + table["fn"]))
    assert dot["fpr"] == pytest.approx(table["fp"] / (table["fp"] + table["tn"]))
    diagonal = [rows for name, rows in roc_chart[1].items() if rows == [{"fpr": 0.0, "sensitivity": 0.0},
                                                                         {"fpr": 1.0, "sensitivity": 1.0}]]
    assert diagonal, "the chance diagonal is drawn"

    cal_chart = charts["Calibration, all cases pooled"]
    assert _layer_rows(cal_chart, "point") == calibration["bins"]
    (bars,) = [lay for lay in cal_chart[0]["layer"] if lay["mark"]["type"] == "rule"]
    assert (bars["encoding"]["y"]["field"], bars["encoding"]["y2"]["field"]) == ("ci_low", "ci_high")

    captions = " ".join(c.value for c in at.caption)
    assert roc["band"] in captions and calibration["interval"] in captions


def test_report_page_says_why_when_the_run_has_no_curves(login, scored_world):
    results = run_dir(scored_world.platform, scored_world.run_id) / "results.json"
    aside = results.with_name("results.json.aside")
    results.rename(aside)  # the report then holds no curves (as for a run scored before they were stored)
    try:
        why = _report(scored_world, "vendor").curves["why"]
        at = open_page(login("vendor"), "report.py")
    finally:
        aside.rename(results)
    assert why and any(i.value == why for i in at.info)
    assert not {"ROC curve, all cases pooled", "Calibration, all cases pooled"} & set(_charts(at))
    assert any(h.value == "Curves" for h in at.subheader)
