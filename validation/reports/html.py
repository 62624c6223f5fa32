"""A report as one self-contained HTML page: inline CSS, charts drawn as inline SVG, no scripts, no network.

A Content-Security-Policy of ``default-src 'none'`` tells the browser to load nothing from anywhere, so the page
opens the same offline as online.
"""

from __future__ import annotations

from html import escape

from validation.reports.model import Report

__all__ = ["to_html", "forest_svg", "verdict_svg", "roc_svg", "calibration_svg", "FOREST_LEGEND", "ROC_LEGEND",
           "CALIBRATION_LEGEND"]

FOREST_LEGEND = ("Squares: sites (area grows with cases), with 95% CI. Black diamond: all cases pooled (DeLong CI); "
                 "dashed line: its estimate. Orange diamond: random-effects estimate over sites (CI width), dashed "
                 "bar with end ticks: its 95% prediction interval for a new site.")

ROC_LEGEND = ("Blue line: sensitivity at each specificity (the best threshold whose specificity is at least that); "
              "shaded: 95% stratified bootstrap band; red dot: the vendor's declared threshold; grey diagonal: chance.")
CALIBRATION_LEGEND = ("Dots: observed fraction of positives per quantile bin of the score, plotted at the bin's mean "
                      "predicted probability, with Wilson 95% intervals; grey diagonal: perfect calibration.")

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1b1f24;line-height:1.4;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:1px solid #ccd;padding-bottom:.2rem;
margin-top:2rem}h3{font-size:1rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.88rem}
th,td{border:1px solid #d5d8dc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f4f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{background:#1e7b34;color:#fff}.fail{background:#b3261e;color:#fff}.undetermined{background:#8a6d00;color:#fff}
.badge{padding:.1rem .45rem;border-radius:.3rem;font-weight:600;font-size:.8rem}
.supp{color:#8a8f98;font-style:italic}.muted{color:#5b6470;font-size:.85rem}
code{font-size:.82rem;word-break:break-all}dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}
dt{font-weight:600}dd{margin:0}svg text{font-family:inherit}
"""


def _f(x, digits: int = 3) -> str:
    if x is None:
        return "\u2013"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return escape(str(x))


def _ci(row: dict) -> str:
    if row.get("estimate") is None:
        return "\u2013"
    if row.get("ci_low") is None or row.get("ci_high") is None:
        return _f(row["estimate"])
    return f"{_f(row['estimate'])} ({_f(row['ci_low'])}\u2013{_f(row['ci_high'])})"


def _dl(pairs) -> str:
    return "<dl>" + "".join(f"<dt>{escape(str(k))}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def _table(headers, rows, numeric=()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(f"<td class=\"num\">{c}</td>" if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _result_rows(rows) -> list[list[str]]:
    out = []
    for r in rows:
        supp = r.get("suppressed") or (r.get("note") or "").startswith("suppressed")
        est = '<span class="supp">suppressed</span>' if supp else _ci(r)
        out.append([escape(str(r["metric"])), escape(str(r["group"])), est, escape(str(r.get("ci_method") or "")),
                    _f(r.get("n")), _f(r.get("n_pos")), _f(r.get("n_neg")), escape(r.get("note") or "")])
    return out


_RESULT_HEADERS = ["metric", "group", "estimate (95% CI)", "CI method", "n", "n pos", "n neg", "note"]


def forest_svg(forest: dict, *, width: int = 720) -> str:
    """Inline SVG forest plot: per-site estimate and CI, the pooled estimate, the random-effects estimate with its
    prediction interval. Suppressed sites are listed without a point."""
    sites = forest.get("sites") or []
    pooled, re_row = forest.get("pooled"), forest.get("random_effects")
    rows = [(s["group"], s, "site") for s in sites]
    if pooled:
        rows.append(("pooled (all cases)", pooled, "pooled"))
    if re_row:
        rows.append(("random effects", re_row, "re"))
    values = [v for _, r, _ in rows for v in (r.get("ci_low"), r.get("ci_high"), r.get("estimate"),
                                              r.get("pred_low"), r.get("pred_high")) if v is not None]
    lo = min([0.5, *values])
    lo = max(0.0, (int(lo * 10)) / 10)
    hi = 1.0
    left, right, top, step = 170, width - 150, 30, 26
    height = top + step * len(rows) + 40

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * (right - left)

    parts = [f'<svg class="forest" role="img" aria-label="forest plot of per-site {escape(forest.get("metric", ""))}"'
             f' width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             f'<text x="{left}" y="16" font-size="13" font-weight="600">{escape(forest.get("metric", ""))} by site '
             f'(95% CI)</text>']
    ticks = [round(lo + i * 0.1, 1) for i in range(int(round((hi - lo) / 0.1)) + 1)]
    axis_y = top + step * len(rows) + 4
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{right}" y2="{axis_y}" stroke="#333"/>')
    for t in ticks:
        parts.append(f'<line x1="{x(t):.1f}" y1="{axis_y}" x2="{x(t):.1f}" y2="{axis_y + 5}" stroke="#333"/>'
                     f'<text x="{x(t):.1f}" y="{axis_y + 18}" font-size="11" text-anchor="middle">{t:.1f}</text>')
    if pooled and pooled.get("estimate") is not None:
        px = x(pooled["estimate"])
        parts.append(f'<line x1="{px:.1f}" y1="{top - 6}" x2="{px:.1f}" y2="{axis_y}" stroke="#6b7a99" '
                     f'stroke-dasharray="4 3"/>')
    max_n = max([s.get("n") or 0 for s in sites] + [1])
    for i, (label, r, kind) in enumerate(rows):
        y = top + step * i + step / 2
        parts.append(f'<text x="8" y="{y + 4:.1f}" font-size="12">{escape(str(label))}</text>')
        est = r.get("estimate")
        if est is None:
            why = "suppressed" if r.get("suppressed") else "undefined"
            parts.append(f'<text x="{left}" y="{y + 4:.1f}" font-size="12" fill="#8a8f98" '
                         f'font-style="italic">{why}</text>')
            continue
        if kind == "re" and r.get("pred_low") is not None and r.get("pred_high") is not None:
            a, b = x(r["pred_low"]), x(r["pred_high"])
            parts.append(f'<g class="prediction-interval" stroke="#8a5700" stroke-width="1.2">'
                         f'<line x1="{a:.1f}" y1="{y:.1f}" x2="{b:.1f}" y2="{y:.1f}" stroke-dasharray="5 2"/>'
                         f'<line x1="{a:.1f}" y1="{y - 5:.1f}" x2="{a:.1f}" y2="{y + 5:.1f}"/>'
                         f'<line x1="{b:.1f}" y1="{y - 5:.1f}" x2="{b:.1f}" y2="{y + 5:.1f}"/></g>')
        if r.get("ci_low") is not None and r.get("ci_high") is not None:
            parts.append(f'<line x1="{x(r["ci_low"]):.1f}" y1="{y:.1f}" x2="{x(r["ci_high"]):.1f}" y2="{y:.1f}" '
                         f'stroke="#1b1f24" stroke-width="1.5"/>')
        if kind == "site":
            half = 3 + 5 * ((r.get("n") or 0) / max_n) ** 0.5
            parts.append(f'<rect x="{x(est) - half:.1f}" y="{y - half:.1f}" width="{2 * half:.1f}" '
                         f'height="{2 * half:.1f}" fill="#2f5d9e"/>')
        else:
            lo_x = x(r["ci_low"]) if r.get("ci_low") is not None else x(est) - 5
            hi_x = x(r["ci_high"]) if r.get("ci_high") is not None else x(est) + 5
            color = "#1b1f24" if kind == "pooled" else "#c77d00"
            parts.append(f'<polygon points="{lo_x:.1f},{y:.1f} {x(est):.1f},{y - 7:.1f} {hi_x:.1f},{y:.1f} '
                         f'{x(est):.1f},{y + 7:.1f}" fill="{color}"/>')
        parts.append(f'<text x="{right + 10}" y="{y + 4:.1f}" font-size="12">{_ci(r)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _square_plot(title: str, xlabel: str, ylabel: str, *, size: int = 340) -> tuple[list[str], callable, callable]:
    left, top, side = 48, 24, size - 72
    parts = [f'<svg class="curve" role="img" aria-label="{escape(title)}" width="{size}" height="{size}" '
             f'viewBox="0 0 {size} {size}">', f'<text x="{left}" y="15" font-size="13" font-weight="600">'
             f'{escape(title)}</text>']

    def px(v: float) -> float:
        return left + v * side

    def py(v: float) -> float:
        return top + (1 - v) * side

    parts.append(f'<rect x="{left}" y="{top}" width="{side}" height="{side}" fill="none" stroke="#333"/>')
    parts.append(f'<line x1="{px(0):.1f}" y1="{py(0):.1f}" x2="{px(1):.1f}" y2="{py(1):.1f}" stroke="#9aa0a6" '
                 f'stroke-dasharray="4 3"/>')
    for t in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        parts.append(f'<text x="{px(t):.1f}" y="{top + side + 14}" font-size="10" text-anchor="middle">{t:.1f}</text>'
                     f'<text x="{left - 6}" y="{py(t) + 3:.1f}" font-size="10" text-anchor="end">{t:.1f}</text>')
    parts.append(f'<text x="{left + side / 2:.1f}" y="{top + side + 30}" font-size="11" text-anchor="middle">'
                 f'{escape(xlabel)}</text><text x="12" y="{top + side / 2:.1f}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {top + side / 2:.1f})">{escape(ylabel)}</text>')
    return parts, px, py


def roc_svg(roc: dict, table_2x2: dict | None = None) -> str:
    """Inline SVG of the pooled ROC curve (1 - specificity on x) with its bootstrap band and the operating point."""
    parts, px, py = _square_plot("ROC curve, all cases pooled", "1 - specificity", "sensitivity")
    pts = sorted(roc["points"], key=lambda p: 1 - p["specificity"])
    upper = " ".join(f"{px(1 - p['specificity']):.1f},{py(p['ci_high']):.1f}" for p in pts)
    lower = " ".join(f"{px(1 - p['specificity']):.1f},{py(p['ci_low']):.1f}" for p in reversed(pts))
    parts.append(f'<polygon class="roc-band" points="{upper} {lower}" fill="#2f5d9e" fill-opacity="0.18" '
                 f'stroke="none"/>')
    line = " ".join(f"{px(1 - p['specificity']):.1f},{py(p['sensitivity']):.1f}" for p in pts)
    parts.append(f'<polyline class="roc-line" points="{line}" fill="none" stroke="#2f5d9e" stroke-width="2"/>')
    if table_2x2 and (table_2x2["tp"] + table_2x2["fn"]) and (table_2x2["fp"] + table_2x2["tn"]):
        se = table_2x2["tp"] / (table_2x2["tp"] + table_2x2["fn"])
        fpr = table_2x2["fp"] / (table_2x2["fp"] + table_2x2["tn"])
        parts.append(f'<circle class="operating-point" cx="{px(fpr):.1f}" cy="{py(se):.1f}" r="4.5" fill="#b3261e"/>')
    parts.append("</svg>")
    return "".join(parts)


def calibration_svg(calibration: dict) -> str:
    """Inline SVG of the calibration curve: observed fraction per quantile bin against mean prediction."""
    parts, px, py = _square_plot("Calibration, all cases pooled", "mean predicted probability",
                                 "observed fraction positive")
    bins = calibration["bins"]
    for b in bins:
        x = px(b["mean_predicted"])
        parts.append(f'<line x1="{x:.1f}" y1="{py(b["ci_low"]):.1f}" x2="{x:.1f}" y2="{py(b["ci_high"]):.1f}" '
                     f'stroke="#1b1f24"/>')
    path = " ".join(f"{px(b['mean_predicted']):.1f},{py(b['observed']):.1f}" for b in bins)
    parts.append(f'<polyline points="{path}" fill="none" stroke="#c77d00" stroke-width="1.5"/>')
    parts.extend(f'<circle class="calibration-bin" cx="{px(b["mean_predicted"]):.1f}" cy="{py(b["observed"]):.1f}" '
                 f'r="3.5" fill="#c77d00"/>' for b in bins)
    parts.append("</svg>")
    return "".join(parts)


def verdict_svg(verdicts, *, width: int = 720) -> str:
    """Inline SVG: one coloured block per acceptance criterion, labelled with its id and status."""
    colors = {"pass": "#1e7b34", "fail": "#b3261e"}
    n = max(len(verdicts), 1)
    w = (width - 10) / n
    parts = [f'<svg class="verdicts" role="img" aria-label="acceptance verdicts" width="{width}" height="48" '
             f'viewBox="0 0 {width} 48">']
    for i, v in enumerate(verdicts):
        color = colors.get(v["status"], "#8a6d00")
        parts.append(f'<rect x="{5 + i * w:.1f}" y="4" width="{w - 4:.1f}" height="40" rx="4" fill="{color}"/>'
                     f'<text x="{5 + i * w + w / 2 - 2:.1f}" y="21" font-size="11" fill="#fff" text-anchor="middle">'
                     f'{escape(v["criterion"])}</text><text x="{5 + i * w + w / 2 - 2:.1f}" y="37" font-size="12" '
                     f'fill="#fff" font-weight="700" text-anchor="middle">{escape(v["status"].upper())}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _curves_html(curves: dict, table_2x2: dict | None) -> str:
    out = ['<h3>Curves</h3><div class="curves" style="display:flex;gap:1.5rem;flex-wrap:wrap">']
    if curves.get("roc"):
        out.append(roc_svg(curves["roc"], table_2x2))
    if curves.get("calibration"):
        out.append(calibration_svg(curves["calibration"]))
    out.append("</div>")
    if curves.get("roc"):
        r = curves["roc"]
        out.append(f'<p class="muted">{escape(ROC_LEGEND)} Band: {escape(r["band"])}; {r["n_pos"]} positive and '
                   f'{r["n_neg"]} negative cases.</p>')
    if curves.get("calibration"):
        out.append(f'<p class="muted">{escape(CALIBRATION_LEGEND)}</p>')
        out.append(_table(["bin", "cases", "mean predicted", "observed (95% CI)"],
                          [[str(b["bin"] + 1), _f(b["n"]), _f(b["mean_predicted"]),
                            f'{_f(b["observed"])} ({_f(b["ci_low"])}\u2013{_f(b["ci_high"])})']
                           for b in curves["calibration"]["bins"]], numeric=(1, 2, 3)))
    if curves.get("why"):
        out.append(f'<p class="muted">{escape(curves["why"])}</p>')
    return "".join(out)


def to_html(report: Report) -> str:
    """Render the report as a self-contained HTML document (UTF-8 text).

    Sections: summary, model and versions, intended use, protocol and pre-registered criteria, corpus and
    participant flow, pooled results, 2x2 table, per-site results with a forest plot and heterogeneity,
    subgroups, acceptance verdicts, sign-offs, hashes.
    """
    d = report.to_dict()
    m, p, c, flow = d["model"], d["protocol"], d["corpus"], d["participant_flow"]
    verdicts = d["verdicts"]
    overall_status = ("pass" if verdicts and all(v["status"] == "pass" for v in verdicts) else
                      "fail" if any(v["status"] == "fail" for v in verdicts) else "undetermined")
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>clinval report {escape(d['run_id'])}</title><style>{_CSS}</style></head><body>"]
    out.append(f"<h1>Validation report {escape(d['run_id'])}</h1>")
    out.append(f'<p>{escape(m["vendor"])} / {escape(m["model_name"])} {escape(m["model_version"])} on protocol '
               f'{escape(p["id"])} v{p["version"]} &mdash; overall: <span class="badge {overall_status}">'
               f'{overall_status.upper()}</span></p>')
    view = d["view"]
    out.append('<p class="muted">'
               + (f'Suppressed view: groups with fewer than {view["min_cell"]} cases are suppressed '
                  f'({view["suppressed_cells"]} cells). ' if view["suppression"] else "Full view: no suppression. ")
               + "No case-level data is contained in this report.</p>")

    out.append('<section id="verdicts"><h2>Acceptance verdicts</h2>')
    out.append(verdict_svg(verdicts))
    out.append(_table(["criterion", "rule", "verdict", "values", "how it was decided"], [
        [escape(v["criterion"]), f"<code>{escape(v['rule'])}</code>",
         f'<span class="badge {escape(v["status"])}">{escape(v["status"])}</span>',
         "<br>".join(f"{escape(k)} = {_f(val, 4)}" for k, val in sorted((v.get("values") or {}).items())),
         escape(v.get("detail") or "")] for v in verdicts]))
    out.append("</section>")

    out.append('<section id="model"><h2>Model and versions</h2>')
    out.append(_dl([("submission", escape(m["submission"])), ("vendor", escape(m["vendor"])),
                    ("model", f'{escape(m["model_name"])} {escape(m["model_version"])}'),
                    ("model sha256", f'<code>{escape(m["model_sha256"])}</code>'),
                    ("MLflow registered model", f'{_f(m["mlflow_name"])} version {_f(m["mlflow_version"])}'),
                    ("operating threshold", _f(m["threshold"], 4)),
                    *[(f"{k} version", escape(str(v))) for k, v in m["versions"].items()],
                    ("run", f'{escape(d["run"]["state"])}, complete: {_f(d["run"]["complete"])}, isolation: '
                            f'{_f(d["run"]["isolation"])}, executor: {_f(d["run"]["executor"])}, created '
                            f'{escape(d["run"]["created_at"])}')]))
    out.append("</section>")

    iu = d["intended_use"]
    td = iu.get("training_data") or {}
    out.append('<section id="intended-use"><h2>Intended use</h2>')
    out.append(_dl([("protocol", escape(iu.get("protocol") or "")), ("model card", escape(iu.get("model_card") or "")),
                    ("training data", escape(td.get("summary", "")) + (
                        f' (sites: {escape(", ".join(td.get("sites") or []))}; cases: {_f(td.get("n_cases"))})'
                        if td else "")), ("vendor contact", _f(iu.get("contact")))]))
    out.append("</section>")

    out.append('<section id="protocol"><h2>Protocol and pre-registered criteria</h2>')
    out.append(_dl([("protocol", f'{escape(p["id"])} version {p["version"]}: {escape(p["title"])}'),
                    ("sha256", f'<code>{escape(p["sha256"])}</code>'), ("published", escape(p["published_at"])),
                    ("task", escape(p["task"])), ("input", escape(str(p["input"]))),
                    ("label", f'{escape(p["label"]["name"])}; reference standard: '
                              f'{escape(p["label"]["reference_standard"])}'),
                    ("metrics", escape(", ".join(p["metrics"]))), ("subgroups", escape(", ".join(p["subgroups"]))),
                    ("minimum cases per group", _f(p["min_cases_per_group"]))]))
    out.append(_table(["criterion", "rule"], [[escape(a["id"]), f"<code>{escape(a['rule'])}</code>"]
                                             for a in p["acceptance"]]))
    out.append("</section>")

    out.append('<section id="corpus"><h2>Corpus and participant flow</h2>')
    q = c.get("quality") or {}
    out.append(_dl([("corpus id (manifest sha256)", f'<code>{escape(c["id"])}</code>'), ("name", escape(c["name"])),
                    ("data quality", f'{_f(q.get("passed"))} of {_f(q.get("expectations"))} expectations passed; '
                                     "critical failures: "
                                     f'{escape(", ".join(q.get("critical_failures") or []) or "none")}'
                                     f'; warnings: {escape(", ".join(q.get("warnings") or []) or "none")}'),
                    ("usable", _f(c["usable"]) + (f' (accepted: {escape(c["accepted_reason"])})'
                                                   if c.get("accepted_reason") else "")),
                    ("de-identification", escape(((c.get("deidentification") or {}).get("dicom") or {})
                                                 .get("profile", "recorded in the manifest"))),
                    ("quarantined at ingest (all sites, by reason)",
                     escape(", ".join(f"{k}: {v}" for k, v in c["quarantined_by_reason"].items()) or "none"))]))
    out.append("<h3>Sites</h3>")
    out.append(_table(["site", "cases", "positives", "prevalence"], [
        [escape(s["site"]), '<span class="supp">suppressed</span>' if s["suppressed"] else _f(s["cases"]),
         "" if s["suppressed"] else _f(s["positives"]), "" if s["suppressed"] else _f(s["prevalence"])]
        for s in c["sites"]], numeric=(1, 2, 3)))
    out.append("<h3>Participant flow</h3>")
    out.append(f'<p>Planned {_f(flow["planned"])} cases; predicted {_f(flow["predicted"])}; scored '
               f'{_f(flow["scored"])}; failed sites: {escape(", ".join(flow["failed_sites"]) or "none")}; '
               f'inputs quarantined at ingest (all sites): {_f(flow["quarantined_in_corpus"])}.</p>')
    out.append(_table(["site", "reference cases", "excluded: input quarantined", "excluded: no input", "in corpus",
                       "planned", "predicted", "state", "reason"], [
        [escape(s["site"]), _f(s["reference_cases"]), _f(s["excluded_input_quarantined"]), _f(s["excluded_no_input"]),
         _f(s["in_corpus"]), _f(s["planned"]), _f(s["predicted"]), escape(s["state"]), _f(s["reason"])]
        for s in flow["sites"]], numeric=(1, 2, 3, 4, 5, 6)))
    out.append("</section>")

    out.append('<section id="pooled"><h2>Pooled results</h2>')
    out.append(_table(_RESULT_HEADERS, _result_rows(d["pooled"]), numeric=(2, 4, 5, 6)))
    t = d["table_2x2"]
    out.append("<h3>2&times;2 table at the operating threshold</h3>")
    if t:
        out.append(f'<table class="t2x2"><tr><th></th><th>reference positive</th><th>reference negative</th></tr>'
                   f'<tr><th>score &ge; {_f(t["threshold"], 4)}</th><td class="num">TP {t["tp"]}</td>'
                   f'<td class="num">FP {t["fp"]}</td></tr><tr><th>score &lt; {_f(t["threshold"], 4)}</th>'
                   f'<td class="num">FN {t["fn"]}</td><td class="num">TN {t["tn"]}</td></tr></table>'
                   f'<p class="muted">{escape(t["source"])}</p>')
    else:
        out.append("<p>Not available: the protocol has no sensitivity/specificity rows.</p>")
    out.append(_curves_html(d["curves"], d["table_2x2"]) + "</section>")

    out.append('<section id="sites"><h2>Per-site results and heterogeneity</h2>')
    out.append(forest_svg(d["forest"]))
    out.append(f'<p class="muted">{escape(FOREST_LEGEND)}</p>')
    h = d["heterogeneity"]
    if h:
        out.append(_dl([("random-effects estimate", _ci(h)), ("method", escape(h["ci_method"])),
                        ("I\u00b2", _f(h.get("i2"))), ("\u03c4\u00b2", _f(h.get("tau2"), 4)),
                        ("Q", f'{_f(h.get("q"))} (df {_f(h.get("q_df"))}, p = {_f(h.get("q_p"))})'),
                        ("95% prediction interval", f'{_f(h.get("pred_low"))} to {_f(h.get("pred_high"))}'),
                        ("sites", _f(h.get("k")))]))
    else:
        out.append("<p>Heterogeneity not estimated (fewer than two sites with enough cases).</p>")
    out.append("<h3>Largest difference between sites</h3>")
    out.append(_table(["metric", "max - min", "note"],
                      [[escape(g["metric"]), _f(g["estimate"]), escape(g["note"] or "")] for g in d["site_gaps"]],
                      numeric=(1,)))
    out.append("<h3>All metrics by site</h3>")
    out.append(_table(_RESULT_HEADERS, _result_rows(d["sites"]), numeric=(2, 4, 5, 6)))
    out.append("</section>")

    out.append('<section id="subgroups"><h2>Subgroups</h2>')
    out.append(_table(["attribute", *_RESULT_HEADERS], [[escape(r["group_kind"].split(":", 1)[1]), *cells]
                                                       for r, cells in zip(d["subgroups"],
                                                                           _result_rows(d["subgroups"]))],
                      numeric=(3, 5, 6, 7)))
    out.append("</section>")

    out.append('<section id="signoffs"><h2>Sign-offs</h2>')
    if d["signoffs"]:
        out.append(_table(["time (UTC)", "signer", "organisation", "meaning", "reason", "document sha256"], [
            [escape(s["time"]), escape(s["signer"]), escape(s["org"]), escape(s["meaning"]), escape(s["reason"]),
             f"<code>{escape(s['document_sha256'])}</code>"] for s in d["signoffs"]]))
    else:
        out.append("<p>No sign-off yet.</p>")
    out.append("</section>")

    out.append('<section id="hashes"><h2>Hashes</h2>')
    out.append(_dl([(k, f"<code>{_f(v)}</code>") for k, v in sorted(d["hashes"].items())]))
    out.append('<p class="muted">The canonical JSON of this report (clinval report --format json) carries the same '
               "facts; its SHA-256 is what sign-offs and the audit log reference.</p></section>")
    out.append("</body></html>")
    return "".join(out)
