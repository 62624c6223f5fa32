"""Building blocks the pages share: the signed-in principal, error display, run tables and pickers, and the
results of a run (verdicts, overall table with CIs, per-site table and forest chart, heterogeneity, subgroups)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import streamlit as st

from dashboards.session import current_principal
from validation import ClinvalError, Principal

__all__ = [
    "act",
    "call",
    "done",
    "fmt_ci",
    "pick_run",
    "require_principal",
    "runs_frame",
    "show_done",
    "show_error",
    "show_results",
]

_RUN_KEY = "clinval_run"
_DONE_KEY = "clinval_done"


def require_principal() -> Principal:
    """The signed-in principal; stops the page if there is none (the navigation only shows sign-in then)."""
    principal = current_principal()
    if principal is None:
        st.warning("Please sign in.")
        st.stop()
    return principal


def show_error(exc: ClinvalError) -> None:
    """A service-layer refusal or failure, as the service worded it (no traceback, no data)."""
    text = exc.message
    if getattr(exc, "hint", None):
        text = f"{text}. {exc.hint}"
    st.error(text)


def call(fn: Callable, *args, **kwargs):
    """Call a read; on an access error or any platform error show it and stop the page."""
    try:
        return fn(*args, **kwargs)
    except ClinvalError as exc:
        show_error(exc)
        st.stop()


def act(fn: Callable, *args, **kwargs):
    """Call a write; on a refusal or any platform error show it (the page carries on) and return None."""
    try:
        return fn(*args, **kwargs)
    except ClinvalError as exc:
        show_error(exc)
        return None


def done(message: str) -> None:
    """After a successful write: forget cached reads, and rerun the page with ``message`` shown at its top."""
    st.cache_data.clear()
    st.session_state[_DONE_KEY] = message
    st.rerun()


def show_done() -> None:
    """Show (once) what the last write on this page did."""
    message = st.session_state.pop(_DONE_KEY, None)
    if message:
        st.success(message)


def fmt_ci(estimate, low, high) -> str:
    """``0.812 (0.701 to 0.905)``; a dash where undefined or suppressed."""
    def ok(v) -> bool:
        return v is not None and v == v

    if not ok(estimate):
        return "-"
    if ok(low) and ok(high):
        return f"{estimate:.3f} ({low:.3f} to {high:.3f})"
    return f"{estimate:.3f}"


def runs_frame(runs: Sequence) -> pd.DataFrame:
    """One row per run: what was evaluated, on what, and how it went."""
    rows = []
    for r in runs:
        failed = [s.site for s in r.sites if s.state != "done"]
        rows.append({
            "run": r.id, "vendor": r.org, "submission": r.submission_id,
            "protocol": f"{r.protocol_id} v{r.protocol_version}", "corpus": r.corpus_id[:12],
            "sites": ", ".join(s.site for s in r.sites), "state": r.state,
            "complete": r.complete, "failed sites": ", ".join(failed), "isolation": r.isolation or "",
            "created": r.created_at,
        })
    columns = ["run", "vendor", "submission", "protocol", "corpus", "sites", "state", "complete", "failed sites",
               "isolation", "created"]
    return pd.DataFrame(rows, columns=columns)


def pick_run(runs: Sequence, *, label: str = "Run", scored_only: bool = True):
    """A run chosen by the user (remembered across pages and in the URL as ``?run=``); None if there is none."""
    choices = [r for r in runs if r.state == "scored"] if scored_only else list(runs)
    if not choices:
        st.info("No scored runs to show yet." if scored_only else "No runs to show yet.")
        return None
    ids = [r.id for r in choices]
    wanted = st.session_state.get(_RUN_KEY) or st.query_params.get("run")
    index = ids.index(wanted) if wanted in ids else 0
    by_id = {r.id: r for r in choices}
    chosen = st.selectbox(
        label, ids, index=index,
        format_func=lambda i: f"{i}: {by_id[i].org} / {by_id[i].protocol_id} v{by_id[i].protocol_version}",
    )
    st.session_state[_RUN_KEY] = chosen
    st.query_params["run"] = chosen
    return by_id[chosen]


def _verdicts_frame(verdicts: list[dict]) -> pd.DataFrame:
    rows = []
    for v in verdicts:
        detail = v.get("detail") or {}
        rows.append({"criterion": v["criterion"], "rule": v["rule"], "verdict": v["status"].upper(),
                     "decided by": detail.get("detail", "") if isinstance(detail, dict) else str(detail)})
    return pd.DataFrame(rows, columns=["criterion", "rule", "verdict", "decided by"])


def _table(frame: pd.DataFrame, label_column: str) -> pd.DataFrame:
    out = pd.DataFrame({
        label_column: frame["metric"] if label_column == "metric" else frame["group"],
        "estimate (95% CI)": [fmt_ci(e, lo, hi) for e, lo, hi in zip(frame["estimate"], frame["ci_low"],
                                                                      frame["ci_high"])],
        "method": frame["ci_method"], "n": frame["n"], "positives": frame["n_pos"], "negatives": frame["n_neg"],
        "note": frame["note"].fillna(""),
    })
    return out.reset_index(drop=True)


def show_results(res) -> None:
    """Render a :class:`validation.runs.RunResults` as the caller is allowed to see it."""
    from dashboards.charts import forest_chart

    run = res.run
    table = pd.DataFrame(res.results)
    verdicts = _verdicts_frame(res.verdicts)
    passed = (verdicts["verdict"] == "PASS").sum()
    cols = st.columns(4)
    cols[0].metric("Acceptance criteria met", f"{passed} of {len(verdicts)}")
    overall_auc = table[(table["metric"] == "auroc") & (table["group_kind"] == "overall")]
    if not overall_auc.empty:
        row = overall_auc.iloc[0]
        cols[1].metric("Pooled AUROC", "-" if pd.isna(row["estimate"]) else f"{row['estimate']:.3f}")
        cols[2].metric("Cases", int(row["n"]) if pd.notna(row["n"]) else "-")
    cols[3].metric("Sites", len(run.sites))
    st.caption(f"Run {run.id} · vendor {run.org} · protocol {run.protocol_id} v{run.protocol_version} "
               f"({run.protocol_sha256[:12]}) · corpus {run.corpus_id[:12]} · model {run.model_sha256[:12]} · "
               f"threshold {run.threshold:g} · isolation {run.isolation} · results sha256 "
               f"{(run.results_sha256 or '')[:16]}")

    st.subheader("Acceptance verdicts")
    st.dataframe(verdicts, hide_index=True, width="stretch")

    st.subheader("Overall")
    st.dataframe(_table(table[table["group_kind"] == "overall"], "metric"), hide_index=True,
                 width="stretch")

    st.subheader("Per site")
    sites = table[table["group_kind"] == "site"]
    metrics = list(dict.fromkeys(sites["metric"]))
    if metrics:
        metric = st.selectbox("Metric", metrics, index=metrics.index("auroc") if "auroc" in metrics else 0)
        rows = sites[sites["metric"] == metric]
        pooled_row = table[(table["metric"] == metric) & (table["group_kind"] == "overall")]
        pooled = None if pooled_row.empty else pooled_row.iloc[0]["estimate"]
        left, right = st.columns([3, 2])
        with left:
            if rows["estimate"].notna().any():
                st.altair_chart(forest_chart(rows, metric=metric, pooled=None if pd.isna(pooled) else pooled),
                                width="stretch")
            else:
                st.info("No site has a reportable estimate for this metric.")
        with right:
            st.dataframe(_table(rows, "site"), hide_index=True, width="stretch")
        extra = table[table["group_kind"].isin(["random_effects", "site_gap"]) & (table["metric"] == metric)]
        if not extra.empty:
            st.caption("Heterogeneity across sites")
            shown = _table(extra, "group")
            shown.insert(0, "kind", extra["group_kind"].to_numpy())
            st.dataframe(shown, hide_index=True, width="stretch")

    subgroups = table[table["group_kind"].str.startswith("subgroup")]
    if not subgroups.empty:
        with st.expander("Subgroups (age band, sex, manufacturer)"):
            shown = _table(subgroups, "group")
            shown.insert(0, "metric", subgroups["metric"].to_numpy())
            shown.insert(0, "by", subgroups["group_kind"].str.removeprefix("subgroup:").to_numpy())
            st.dataframe(shown, hide_index=True, width="stretch")
    if res.suppressed:
        st.caption(f"{res.suppressed} groups with fewer than {res.min_cell} cases are suppressed.")
