"""A report as a PDF 1.4 document, written directly (no third-party library, no browser, no network).

Text uses the standard Type 1 fonts every PDF reader has (Helvetica, Helvetica-Bold, Courier; WinAnsiEncoding), so
nothing is embedded; tables are set in Courier so columns line up; the forest plot and verdict blocks are drawn
with PDF path operators. Content streams are left uncompressed: the text of the report can be searched in the
file's bytes. The output is deterministic (no creation date), so the same report gives the same bytes.

References
----------
ISO 32000-1:2008, Document management - Portable document format - Part 1: PDF 1.7 (sections 7.5 file structure,
8.5 path construction, 9.4 text objects, annex D WinAnsiEncoding).
"""

from __future__ import annotations

from validation.reports.html import CALIBRATION_LEGEND, FOREST_LEGEND, ROC_LEGEND
from validation.reports.model import Report

__all__ = ["to_pdf"]

_W, _H, _MARGIN = 595.0, 842.0, 40.0  # A4 in points
_REPLACE = {"\u2013": "-", "\u2014": "-", "\u2265": ">=", "\u2264": "<=", "\u2192": "->", "\u03c4": "tau",
            "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2026": "...", "\u00a0": " "}


def _pdf_string(text: str) -> str:
    for k, v in _REPLACE.items():
        text = text.replace(k, v)
    raw = text.encode("cp1252", errors="replace").decode("latin-1")
    return "(" + raw.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").replace("\r", " ") \
        .replace("\n", " ") + ")"


class _Canvas:
    """Pages of content-stream operators with a top-down text cursor."""

    def __init__(self) -> None:
        self.pages: list[list[str]] = []
        self.y = 0.0
        self.new_page()

    def new_page(self) -> None:
        self.pages.append([])
        self.y = _H - _MARGIN

    def need(self, height: float) -> None:
        if self.y - height < _MARGIN:
            self.new_page()

    def text(self, x: float, y: float, s: str, *, font: str = "F1", size: float = 9.0, rgb=(0, 0, 0)) -> None:
        self.pages[-1].append(f"{rgb[0]:.3f} {rgb[1]:.3f} {rgb[2]:.3f} rg BT /{font} {size:g} Tf {x:.2f} {y:.2f} Td "
                              f"{_pdf_string(s)} Tj ET")

    def line(self, x1, y1, x2, y2, *, width: float = 0.8, rgb=(0, 0, 0), dash: str = "") -> None:
        self.pages[-1].append(f"{rgb[0]:.3f} {rgb[1]:.3f} {rgb[2]:.3f} RG {width:g} w [{dash}] 0 d "
                              f"{x1:.2f} {y1:.2f} m {x2:.2f} {y2:.2f} l S")

    def rect(self, x, y, w, h, *, rgb=(0, 0, 0)) -> None:
        self.pages[-1].append(f"{rgb[0]:.3f} {rgb[1]:.3f} {rgb[2]:.3f} rg {x:.2f} {y:.2f} {w:.2f} {h:.2f} re f")

    def polygon(self, points, *, rgb=(0, 0, 0)) -> None:
        head, *rest = points
        path = f"{head[0]:.2f} {head[1]:.2f} m " + " ".join(f"{x:.2f} {y:.2f} l" for x, y in rest)
        self.pages[-1].append(f"{rgb[0]:.3f} {rgb[1]:.3f} {rgb[2]:.3f} rg {path} h f")

    # flowing content ---------------------------------------------------------------------------------------
    def heading(self, s: str, size: float = 13.0) -> None:
        self.need(size + 26)
        self.y -= size + 8
        self.text(_MARGIN, self.y, s, font="F2", size=size)
        self.y -= 6

    def para(self, s: str, *, size: float = 9.0, font: str = "F1", indent: float = 0.0) -> None:
        width_chars = int((_W - 2 * _MARGIN - indent) / (size * (0.6 if font == "F3" else 0.52)))
        for line in _wrap(s, width_chars):
            self.need(size + 3)
            self.y -= size + 3
            self.text(_MARGIN + indent, self.y, line, font=font, size=size)

    def table(self, headers: list[str], rows: list[list[str]], *, size: float = 7.0) -> None:
        total = int((_W - 2 * _MARGIN) / (size * 0.6))
        natural = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
        widths = list(natural)
        while sum(widths) + 2 * len(widths) > total:
            i = widths.index(max(widths))
            widths[i] -= 1
        widths = [max(w, 3) for w in widths]

        def emit(cells: list[str], font: str) -> None:
            wrapped = [_wrap(c, w) or [""] for c, w in zip(cells, widths)]
            for k in range(max(len(w) for w in wrapped)):
                line = "  ".join((w[k] if k < len(w) else "").ljust(widths[i]) for i, w in enumerate(wrapped))
                self.need(size + 2)
                self.y -= size + 2
                self.text(_MARGIN, self.y, line.rstrip(), font=font, size=size)

        emit(headers, "F4")
        for r in rows:
            emit(r, "F3")
        self.y -= 4


def _wrap(text: str, width: int) -> list[str]:
    out: list[str] = []
    for paragraph in str(text).split("\n"):
        line = ""
        for word in paragraph.split(" "):
            while len(word) > width:
                if line:
                    out.append(line)
                    line = ""
                out.append(word[:width])
                word = word[width:]
            candidate = f"{line} {word}" if line else word
            if len(candidate) > width:
                out.append(line)
                line = word
            else:
                line = candidate
        if line or not out:
            out.append(line)
    return out


def _f(x, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _ci(r: dict) -> str:
    if r.get("suppressed") or (r.get("note") or "").startswith("suppressed"):
        return "suppressed"
    if r.get("estimate") is None:
        return "-"
    if r.get("ci_low") is None or r.get("ci_high") is None:
        return _f(r["estimate"])
    return f"{_f(r['estimate'])} ({_f(r['ci_low'])}-{_f(r['ci_high'])})"


def _rows(rows) -> list[list[str]]:
    return [[str(r["metric"]), str(r["group"]), _ci(r), str(r.get("ci_method") or ""), _f(r.get("n")),
             _f(r.get("n_pos")), _f(r.get("n_neg")), "" if _ci(r) == "suppressed" else (r.get("note") or "")]
            for r in rows]


_HEAD = ["metric", "group", "estimate (95% CI)", "CI method", "n", "pos", "neg", "note"]


def _forest(c: _Canvas, forest: dict) -> None:
    sites = forest.get("sites") or []
    rows = [(s["group"], s, "site") for s in sites]
    if forest.get("pooled"):
        rows.append(("pooled", forest["pooled"], "pooled"))
    if forest.get("random_effects"):
        rows.append(("random effects", forest["random_effects"], "re"))
    step = 16.0
    height = 30 + step * len(rows) + 24
    c.need(height)
    values = [v for _, r, _ in rows for v in (r.get("ci_low"), r.get("estimate"), r.get("pred_low"))
              if v is not None]
    lo = max(0.0, int(min([0.5, *values]) * 10) / 10)
    left, right = _MARGIN + 110, _W - _MARGIN - 130

    def x(v: float) -> float:
        return left + (v - lo) / (1.0 - lo) * (right - left)

    top = c.y - 14
    c.text(left, top, f"{forest.get('metric', '')} by site (95% CI)", font="F2", size=9)
    axis = top - 10 - step * len(rows)
    c.line(left, axis, right, axis)
    t = lo
    while t <= 1.0001:
        c.line(x(t), axis, x(t), axis - 4)
        c.text(x(t) - 6, axis - 13, f"{t:.1f}", size=7)
        t += 0.1
    pooled = forest.get("pooled")
    if pooled and pooled.get("estimate") is not None:
        c.line(x(pooled["estimate"]), top - 6, x(pooled["estimate"]), axis, rgb=(0.42, 0.48, 0.6), dash="3 2")
    max_n = max([s.get("n") or 0 for s in sites] + [1])
    for i, (label, r, kind) in enumerate(rows):
        y = top - 10 - step * i - step / 2
        c.text(_MARGIN, y - 3, str(label), size=8)
        est = r.get("estimate")
        if est is None:
            c.text(left, y - 3, "suppressed" if r.get("suppressed") else "undefined", size=8, rgb=(0.5, 0.5, 0.5))
            continue
        if kind == "re" and r.get("pred_low") is not None and r.get("pred_high") is not None:
            a, b, rgb = x(r["pred_low"]), x(r["pred_high"]), (0.54, 0.34, 0.0)
            c.line(a, y, b, y, width=1.0, rgb=rgb, dash="4 2")
            c.line(a, y - 4, a, y + 4, width=1.0, rgb=rgb)
            c.line(b, y - 4, b, y + 4, width=1.0, rgb=rgb)
        if r.get("ci_low") is not None and r.get("ci_high") is not None:
            c.line(x(r["ci_low"]), y, x(r["ci_high"]), y, width=1.0)
        if kind == "site":
            half = 2 + 3.5 * ((r.get("n") or 0) / max_n) ** 0.5
            c.rect(x(est) - half, y - half, 2 * half, 2 * half, rgb=(0.18, 0.36, 0.62))
        else:
            lo_x = x(r["ci_low"]) if r.get("ci_low") is not None else x(est) - 4
            hi_x = x(r["ci_high"]) if r.get("ci_high") is not None else x(est) + 4
            c.polygon([(lo_x, y), (x(est), y + 5), (hi_x, y), (x(est), y - 5)],
                      rgb=(0.1, 0.1, 0.1) if kind == "pooled" else (0.78, 0.49, 0.0))
        c.text(right + 8, y - 3, _ci(r), size=8)
    c.y = axis - 20


def _curves(c: _Canvas, curves: dict, table_2x2: dict | None) -> None:
    """The ROC curve with its band and the calibration curve, side by side, drawn with path operators."""
    roc, cal = curves.get("roc"), curves.get("calibration")
    if not roc and not cal:
        c.para(curves.get("why") or "", size=8)
        return
    side = 190.0
    c.need(side + 50)
    top = c.y - 18
    bottom = top - side

    def frame(left: float, title: str, xlabel: str, ylabel: str):
        c.text(left, top + 6, title, font="F2", size=9)
        for a, b, d, e in ((left, bottom, left + side, bottom), (left, top, left + side, top),
                           (left, bottom, left, top), (left + side, bottom, left + side, top)):
            c.line(a, b, d, e, width=0.6)
        c.line(left, bottom, left + side, top, width=0.5, rgb=(0.6, 0.6, 0.6), dash="3 2")
        for i in range(6):
            t = i / 5
            c.text(left + t * side - 5, bottom - 10, f"{t:.1f}", size=6.5)
            c.text(left - 16, bottom + t * side - 2, f"{t:.1f}", size=6.5)
        c.text(left + side / 2 - 30, bottom - 20, xlabel, size=7.5)
        c.text(left, bottom - 29, ylabel + " on the vertical axis", size=6.5, rgb=(0.35, 0.35, 0.35))
        return (lambda v: left + v * side), (lambda v: bottom + v * side)

    if roc:
        px, py = frame(_MARGIN + 20, "ROC curve, all cases pooled", "1 - specificity", "sensitivity")
        pts = sorted(roc["points"], key=lambda p: 1 - p["specificity"])
        band = [(px(1 - p["specificity"]), py(p["ci_high"])) for p in pts] + \
               [(px(1 - p["specificity"]), py(p["ci_low"])) for p in reversed(pts)]
        c.polygon(band, rgb=(0.80, 0.86, 0.95))
        for a, b in zip(pts, pts[1:]):
            c.line(px(1 - a["specificity"]), py(a["sensitivity"]), px(1 - b["specificity"]), py(b["sensitivity"]),
                   width=1.6, rgb=(0.18, 0.36, 0.62))
        t = table_2x2
        if t and (t["tp"] + t["fn"]) and (t["fp"] + t["tn"]):
            x0, y0 = px(t["fp"] / (t["fp"] + t["tn"])), py(t["tp"] / (t["tp"] + t["fn"]))
            c.polygon([(x0 - 3.5, y0), (x0, y0 + 3.5), (x0 + 3.5, y0), (x0, y0 - 3.5)], rgb=(0.7, 0.15, 0.12))
    if cal:
        px, py = frame(_MARGIN + 20 + side + 70, "Calibration, all cases pooled", "mean predicted probability",
                       "observed fraction positive")
        bins = cal["bins"]
        for b in bins:
            c.line(px(b["mean_predicted"]), py(b["ci_low"]), px(b["mean_predicted"]), py(b["ci_high"]), width=0.7)
        for a, b in zip(bins, bins[1:]):
            c.line(px(a["mean_predicted"]), py(a["observed"]), px(b["mean_predicted"]), py(b["observed"]),
                   width=1.2, rgb=(0.78, 0.49, 0.0))
        for b in bins:
            x0, y0 = px(b["mean_predicted"]), py(b["observed"])
            c.rect(x0 - 2.5, y0 - 2.5, 5, 5, rgb=(0.78, 0.49, 0.0))
    c.y = bottom - 36
    if roc:
        c.para(f"{ROC_LEGEND} Band: {roc['band']}; {roc['n_pos']} positive and {roc['n_neg']} negative cases.",
               size=7.5)
    if cal:
        c.para(CALIBRATION_LEGEND, size=7.5)
    if curves.get("why"):
        c.para(curves["why"], size=7.5)


def _verdict_blocks(c: _Canvas, verdicts) -> None:
    if not verdicts:
        return
    c.need(40)
    w = (_W - 2 * _MARGIN) / len(verdicts)
    top = c.y - 4
    for i, v in enumerate(verdicts):
        rgb = {"pass": (0.12, 0.48, 0.2), "fail": (0.7, 0.15, 0.12)}.get(v["status"], (0.54, 0.43, 0.0))
        c.rect(_MARGIN + i * w + 1, top - 30, w - 4, 30, rgb=rgb)
        c.text(_MARGIN + i * w + 5, top - 12, v["criterion"][:int(w / 4.5)], size=7, rgb=(1, 1, 1))
        c.text(_MARGIN + i * w + 5, top - 25, v["status"].upper(), font="F2", size=9, rgb=(1, 1, 1))
    c.y = top - 36


def _layout(d: dict) -> _Canvas:
    c = _Canvas()
    m, p, corpus, flow, verdicts = d["model"], d["protocol"], d["corpus"], d["participant_flow"], d["verdicts"]
    c.heading(f"Validation report {d['run_id']}", 16)
    status = ("PASS" if verdicts and all(v["status"] == "pass" for v in verdicts) else
              "FAIL" if any(v["status"] == "fail" for v in verdicts) else "UNDETERMINED")
    c.para(f"{m['vendor']} / {m['model_name']} {m['model_version']} on protocol {p['id']} v{p['version']}; "
           f"overall verdict: {status}")
    v = d["view"]
    c.para((f"Suppressed view: groups with fewer than {v['min_cell']} cases are suppressed "
            f"({v['suppressed_cells']} cells). " if v["suppression"] else "Full view: no suppression. ")
           + "No case-level data is contained in this report.", size=8)

    c.heading("Acceptance verdicts")
    _verdict_blocks(c, verdicts)
    c.table(["criterion", "rule", "verdict", "values", "how it was decided"],
            [[x["criterion"], x["rule"], x["status"].upper(),
              "; ".join(f"{k} = {_f(val, 4)}" for k, val in sorted((x.get("values") or {}).items())),
              x.get("detail") or ""] for x in verdicts])

    c.heading("Model and versions")
    c.table(["field", "value"], [
        ["submission", m["submission"]], ["vendor", m["vendor"]], ["model", f"{m['model_name']} {m['model_version']}"],
        ["model sha256", m["model_sha256"]],
        ["MLflow model", f"{_f(m['mlflow_name'])} version {_f(m['mlflow_version'])}"],
        ["operating threshold", _f(m["threshold"], 4)],
        *[[f"{k} version", str(val)] for k, val in m["versions"].items()],
        ["run", f"{d['run']['state']}, complete: {_f(d['run']['complete'])}, isolation: {_f(d['run']['isolation'])}, "
                f"created {d['run']['created_at']}"]])

    iu = d["intended_use"]
    c.heading("Intended use")
    c.para(f"Protocol: {iu.get('protocol') or ''}")
    c.para(f"Model card: {iu.get('model_card') or ''}")
    if iu.get("training_data"):
        c.para(f"Training data: {iu['training_data'].get('summary', '')}")

    c.heading("Protocol and pre-registered criteria")
    c.table(["field", "value"], [
        ["protocol", f"{p['id']} version {p['version']}: {p['title']}"], ["sha256", p["sha256"]],
        ["published", p["published_at"]], ["task", p["task"]],
        ["label", f"{p['label']['name']}; reference standard: {p['label']['reference_standard']}"],
        ["metrics", ", ".join(p["metrics"])], ["subgroups", ", ".join(p["subgroups"])],
        ["min cases per group", str(p["min_cases_per_group"])],
        *[[f"criterion {a['id']}", a["rule"]] for a in p["acceptance"]]])

    c.heading("Corpus and participant flow")
    q = corpus.get("quality") or {}
    c.table(["field", "value"], [
        ["corpus id", corpus["id"]], ["name", corpus["name"]],
        ["data quality", f"{_f(q.get('passed'))} of {_f(q.get('expectations'))} expectations passed; critical "
                         f"failures: {', '.join(q.get('critical_failures') or []) or 'none'}"],
        ["usable", _f(corpus["usable"])],
        ["de-identification", ((corpus.get("deidentification") or {}).get("dicom") or {}).get("profile", "-")],
        ["quarantined (all sites)", ", ".join(f"{k}: {n}" for k, n in corpus["quarantined_by_reason"].items())
         or "none"]])
    c.table(["site", "cases", "positives", "prevalence"],
            [[s["site"], "suppressed" if s["suppressed"] else _f(s["cases"]),
              "" if s["suppressed"] else _f(s["positives"]), "" if s["suppressed"] else _f(s["prevalence"])]
             for s in corpus["sites"]])
    c.para(f"Planned {_f(flow['planned'])} cases; predicted {_f(flow['predicted'])}; scored {_f(flow['scored'])}; "
           f"failed sites: {', '.join(flow['failed_sites']) or 'none'}.")
    c.table(["site", "reference", "excl. quarantined", "excl. no input", "in corpus", "planned", "predicted",
             "state", "reason"],
            [[s["site"], _f(s["reference_cases"]), _f(s["excluded_input_quarantined"]), _f(s["excluded_no_input"]),
              _f(s["in_corpus"]), _f(s["planned"]), _f(s["predicted"]), s["state"], _f(s["reason"])]
             for s in flow["sites"]])

    c.heading("Pooled results")
    c.table(_HEAD, _rows(d["pooled"]))
    t = d["table_2x2"]
    if t:
        c.para(f"2x2 table at threshold {_f(t['threshold'], 4)} ({t['source']}):", font="F1")
        c.table(["", "reference positive", "reference negative"],
                [["score >= threshold", f"TP {t['tp']}", f"FP {t['fp']}"],
                 ["score < threshold", f"FN {t['fn']}", f"TN {t['tn']}"]], size=8)
    _curves(c, d["curves"], t)

    c.heading("Per-site results and heterogeneity")
    _forest(c, d["forest"])
    c.para(FOREST_LEGEND, size=7.5)
    h = d["heterogeneity"]
    if h:
        c.para(f"Random effects: {_ci(h)} ({h['ci_method']}); I2 = {_f(h.get('i2'))}; tau2 = {_f(h.get('tau2'), 4)}; "
               f"Q = {_f(h.get('q'))} (df {_f(h.get('q_df'))}, p = {_f(h.get('q_p'))}); 95% prediction interval "
               f"{_f(h.get('pred_low'))} to {_f(h.get('pred_high'))}; {_f(h.get('k'))} sites.")
    c.table(["metric", "max - min", "note"],
            [[g["metric"], _f(g["estimate"]), g["note"] or ""] for g in d["site_gaps"]])
    c.table(_HEAD, _rows(d["sites"]))

    c.heading("Subgroups")
    c.table(["attribute", *_HEAD], [[r["group_kind"].split(":", 1)[1], *cells]
                                    for r, cells in zip(d["subgroups"], _rows(d["subgroups"]))])

    c.heading("Sign-offs")
    if d["signoffs"]:
        c.table(["time (UTC)", "signer", "org", "meaning", "reason", "document sha256"],
                [[s["time"], s["signer"], s["org"], s["meaning"], s["reason"], s["document_sha256"]]
                 for s in d["signoffs"]])
    else:
        c.para("No sign-off yet.")
    c.heading("Hashes")
    c.table(["what", "sha256"], [[k, _f(val)] for k, val in sorted(d["hashes"].items())])
    return c


def to_pdf(report: Report) -> bytes:
    """Render the report as PDF bytes (A4, PDF 1.4), the same sections as the HTML report."""
    c = _layout(report.to_dict())
    n_pages = len(c.pages)
    for i, ops in enumerate(c.pages, 1):
        ops.append(f"0.4 0.4 0.4 rg BT /F1 7 Tf {_MARGIN:.2f} 20 Td "
                   f"{_pdf_string(f'clinval report {report.run_id} - page {i} of {n_pages}')} Tj ET")
    fonts = {"F1": "Helvetica", "F2": "Helvetica-Bold", "F3": "Courier", "F4": "Courier-Bold"}
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled below
    pages_id = add(b"")
    font_ids = {k: add(f"<< /Type /Font /Subtype /Type1 /BaseFont /{v} /Encoding /WinAnsiEncoding >>".encode())
                for k, v in fonts.items()}
    resources = "<< /Font << " + " ".join(f"/{k} {i} 0 R" for k, i in font_ids.items()) + " >> >>"
    page_ids = []
    for ops in c.pages:
        stream = "\n".join(ops).encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        page_ids.append(add(f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 {_W:g} {_H:g}] "
                            f"/Resources {resources} /Contents {content} 0 R >>".encode()))
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_id} 0 R >>".encode()
    objects[pages_id - 1] = (f"<< /Type /Pages /Kids [{' '.join(f'{i} 0 R' for i in page_ids)}] "
                             f"/Count {len(page_ids)} >>").encode()
    info = add(f"<< /Title {_pdf_string(f'clinval report {report.run_id}')} /Producer (clinval) >>".encode("latin-1"))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R /Info {info} 0 R >>\nstartxref\n{xref}\n"
            f"%%EOF\n").encode()
    return bytes(out)
