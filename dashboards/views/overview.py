"""Every scored run the signed-in user may read at a glance: pooled estimate with CI, worst site, verdicts, and
a sites-by-runs heatmap of the chosen metric."""

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.charts import site_heatmap
from dashboards.widgets import call, fmt_ci, require_principal

principal = require_principal()
st.title("Overview")
runs = [r for r in call(data.runs, principal) if r.state == "scored"]
if not runs:
    st.info("No scored runs yet.")
    st.stop()
models = {s.id: f"{s.model_name} {s.model_version}" for s in call(data.submissions, principal)}
metric = st.selectbox("Metric", ["auroc", "sensitivity", "specificity", "ppv", "npv", "accuracy", "brier", "ece"])
summary, cells = [], []
for run in runs:
    res = call(data.results, principal, run.id)
    rows = [r for r in res.results if r["metric"] == metric]
    overall = next((r for r in rows if r["group_kind"] == "overall"), None)
    sites = [r for r in rows if r["group_kind"] == "site"]
    for r in sites:
        cells.append({"run": run.id, "site": r["group"], "estimate": r["estimate"], "ci_low": r["ci_low"],
                      "ci_high": r["ci_high"], "n": r["n"]})
    rated = [r for r in sites if r["estimate"] is not None and r["estimate"] == r["estimate"]]
    worst = min(rated, key=lambda r: r["estimate"]) if rated else None
    if worst is not None and metric in ("brier", "ece"):
        worst = max(rated, key=lambda r: r["estimate"])
    verdicts = [v["status"] for v in res.verdicts]
    summary.append({
        "run": run.id, "vendor": run.org, "model": models.get(run.submission_id, run.submission_id),
        "protocol": f"{run.protocol_id} v{run.protocol_version}",
        f"pooled {metric} (95% CI)": fmt_ci(overall["estimate"], overall["ci_low"], overall["ci_high"])
        if overall else "-",
        "worst site": f"{worst['group']} ({worst['estimate']:.3f})" if worst else "-",
        "criteria met": f"{verdicts.count('pass')}/{len(verdicts)}",
        "verdict": "PASS" if verdicts and all(v == "pass" for v in verdicts) else "FAIL",
    })
st.dataframe(pd.DataFrame(summary), hide_index=True, width="stretch")
frame = pd.DataFrame(cells, columns=["run", "site", "estimate", "ci_low", "ci_high", "n"])
if frame["estimate"].notna().any():
    st.altair_chart(site_heatmap(frame, metric=metric), width="stretch")
st.caption("Blank cells: estimate suppressed (too few cases) or undefined. Open a run on 'Run report'.")
