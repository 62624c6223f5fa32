"""The report model of one evaluation run, built from the platform's service records for one caller.

Sections follow what STARD-AI, TRIPOD+AI and CLAIM ask a diagnostic-accuracy / prediction-model report to state:
the model and its versions, intended use, the pre-registered protocol and criteria, the corpus (sites, counts,
prevalence, quality, de-identification) and the participant flow, pooled results with intervals, the 2x2 table at
the declared threshold, per-site results with heterogeneity, subgroups, the acceptance verdicts, sign-offs and the
hashes that tie the report to exactly what produced it.

Access is the run's results policy: :func:`build_report` reads the results with the caller's principal, so a
vendor or regulator gets the suppressed view (small groups removed) and nobody gets case-level data. The other
facts (model card, corpus counts) are read from the platform records only after that check succeeded, and only
for the run's own sites.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field

from sqlalchemy import select

from validation.identity import Principal
from validation.platform import Platform

__all__ = ["Report", "build_report", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_NO_CURVES = ("No curves: this run's results file holds none (scored before curves were stored) or its hash no longer "
              "matches the run. AUROC with its DeLong interval and the calibration metrics with bootstrap intervals "
              "stand in for them.")


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """One run's report as the caller may see it; every field is plain JSON data (see :meth:`to_dict`).

    Attributes
    ----------
    run_id : str
    view : dict
        The suppression limit applied (``min_cell``, 0 when nothing is suppressed) and how many cells it removed.
        The caller's identity is not part of the report: everyone with the same view gets the same bytes.
    run : dict
        State, completeness, isolation, executor, creation time.
    model : dict
        Submission, vendor, model name/version, model sha256, MLflow registered name/version, threshold, versions
        of clinval and its libraries.
    intended_use : dict
        The model card's intended use and training-data summary, the protocol's intended use.
    protocol : dict
        Id, version, sha256, task, input view, label and reference standard, metrics, subgroups, minimum group
        size and the pre-registered acceptance criteria.
    corpus : dict
        Corpus id (manifest hash), name, quality summary, de-identification profile, per-site counts and
        prevalence, quarantine counts by reason.
    participant_flow : dict
        Per site: reference cases, excluded (quarantined / no input), in the corpus, planned, predicted, scored;
        failed sites with their reason.
    pooled : tuple of dict
        Overall result rows (every metric, with interval).
    table_2x2 : dict or None
        ``tp, fp, fn, tn`` at ``threshold`` and how they were obtained.
    sites : tuple of dict
        Per-site result rows.
    forest : dict
        Per-site estimates of the forest metric (AUROC), the pooled estimate and the random-effects estimate.
    heterogeneity : dict or None
        I^2, tau^2, Q (df, p) and the prediction interval of the random-effects model.
    site_gaps : tuple of dict
    subgroups : tuple of dict
        Subgroup rows; ``suppressed`` marks cells removed for this viewer.
    verdicts : tuple of dict
        Acceptance criteria rule by rule with the numbers that decided them.
    signoffs : tuple of dict
    curves : dict
        The pooled ROC curve (sensitivity at a grid of specificities, with a bootstrap band) and the calibration
        curve (quantile bins with Wilson intervals), both aggregates computed when the run was scored and read from
        its hash-verified results file; ``why`` says what is missing and why.
    hashes : dict
        results, protocol, model, corpus (manifest) sha256.
    """

    run_id: str
    view: dict
    run: dict
    model: dict
    intended_use: dict
    protocol: dict
    corpus: dict
    participant_flow: dict
    pooled: tuple[dict, ...]
    table_2x2: dict | None
    sites: tuple[dict, ...]
    forest: dict
    heterogeneity: dict | None
    site_gaps: tuple[dict, ...]
    subgroups: tuple[dict, ...]
    verdicts: tuple[dict, ...]
    signoffs: tuple[dict, ...]
    curves: dict = field(default_factory=lambda: {"roc": None, "calibration": None, "why": _NO_CURVES})
    hashes: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.run_id, str) or not self.run_id.startswith("run-"):
            raise ValueError(f"report run_id must look like run-00001, got {self.run_id!r}")
        for name in ("pooled", "sites", "site_gaps", "subgroups", "verdicts", "signoffs"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def to_dict(self) -> dict:
        """The report as JSON-ready data (NaN and infinities as ``None``)."""
        body = {"format": "clinval-report", "format_version": FORMAT_VERSION, "run_id": self.run_id}
        for name in ("view", "run", "model", "intended_use", "protocol", "corpus", "participant_flow", "pooled",
                     "table_2x2", "sites", "forest", "heterogeneity", "site_gaps", "subgroups", "verdicts",
                     "signoffs", "curves", "hashes"):
            body[name] = getattr(self, name)
        return _plain(body)


def _plain(value):
    """Deep copy into JSON types: tuples to lists, non-finite floats to None, keys to str."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return str(value)


_HET = re.compile(
    r"I2=(?P<i2>[-\d.eE+]+); tau2=(?P<tau2>[-\d.eE+a-z]+); Q=(?P<q>[-\d.eE+]+) \(df (?P<df>\d+), "
    r"p=(?P<p>[-\d.eE+a-z]+)\); prediction interval (?P<lo>\S+) to (?P<hi>\S+); (?P<k>\d+) sites")


def _num(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_heterogeneity(row: dict) -> dict:
    """The random-effects row's note as numbers (``i2, tau2, q, q_df, q_p, pred_low, pred_high, k``)."""
    out = {"metric": row["metric"], "estimate": row["estimate"], "ci_low": row["ci_low"], "ci_high": row["ci_high"],
           "ci_method": row["ci_method"], "note": row["note"]}
    m = _HET.search(row.get("note") or "")
    if m:
        out.update(i2=_num(m["i2"]), tau2=_num(m["tau2"]), q=_num(m["q"]), q_df=int(m["df"]), q_p=_num(m["p"]),
                   pred_low=_num(m["lo"]), pred_high=_num(m["hi"]), k=int(m["k"]))
    return out


def _suppressed(row: dict) -> bool:
    return (row.get("note") or "").startswith("suppressed")


def _mark(row: dict) -> dict:
    return {**row, "suppressed": _suppressed(row)}


def reconstruct_2x2(overall: dict[str, dict]) -> dict | None:
    """Exact TP/FP/FN/TN from the overall sensitivity and specificity rows.

    Sensitivity is TP / n_pos and specificity TN / n_neg of integer counts, so ``round(estimate * n)`` recovers the
    count exactly; the result is checked against both estimates (and PPV/NPV when present). Returns None when the
    rows are missing or the counts do not reproduce the estimates.
    """
    sens, spec = overall.get("sensitivity"), overall.get("specificity")
    if sens is None or spec is None:
        return None
    n_pos, n_neg = sens.get("n_pos"), spec.get("n_neg")
    if n_pos is None or n_neg is None:
        return None
    if n_pos and sens.get("estimate") is None or n_neg and spec.get("estimate") is None:
        return None
    tp = round(sens["estimate"] * n_pos) if n_pos else 0
    tn = round(spec["estimate"] * n_neg) if n_neg else 0
    fn, fp = n_pos - tp, n_neg - tn
    checks = [("sensitivity", tp, n_pos), ("specificity", tn, n_neg), ("ppv", tp, tp + fp), ("npv", tn, tn + fn)]
    for metric, num, den in checks:
        row = overall.get(metric)
        if row is None or row.get("estimate") is None or den == 0:
            continue
        if abs(num / den - row["estimate"]) > 1e-9:
            return None
    return {"tp": int(tp), "fp": int(fp), "fn": int(fn), "tn": int(tn)}


def _stored_results(platform: Platform, run_id: str, results_sha256: str | None) -> dict:
    """``runs/<id>/results.json``, only if the file still has the hash the run recorded (else empty)."""
    from validation.runs.service import run_dir

    path = run_dir(platform, run_id) / "results.json"
    if not results_sha256 or not path.is_file():
        return {}
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != results_sha256:
        return {}
    data = json.loads(raw)
    return data if isinstance(data, dict) else {}


def _stored_2x2(stored: dict) -> dict | None:
    """``table_2x2`` of the verified results file."""
    table = stored.get("table_2x2")
    if not isinstance(table, dict) or set(table) != {"tp", "fp", "fn", "tn"}:
        return None
    return {k: int(table[k]) for k in ("tp", "fp", "fn", "tn")}


def _stored_curves(stored: dict) -> dict:
    """The ROC and calibration curves of the verified results file (aggregates only), or why there are none."""
    curves = stored.get("curves")
    if not isinstance(curves, dict):
        return {"roc": None, "calibration": None, "why": _NO_CURVES}
    return {"roc": curves.get("roc"), "calibration": curves.get("calibration"), "why": curves.get("why") or ""}


def _numeric_leaves(tree, prefix: str = "") -> dict:
    """Flatten the integer leaves of an ingest report (counts by PHI-free reason code)."""
    out = {}
    if isinstance(tree, dict):
        for key in sorted(tree):
            out.update(_numeric_leaves(tree[key], f"{prefix}{key}."))
    elif isinstance(tree, int) and not isinstance(tree, bool):
        out[prefix[:-1]] = tree
    return out


def _quality_summary(corpus_path) -> dict | None:
    """Suite-level quality results: counts only, never the failing case ids."""
    path = corpus_path / "quality.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    expectations = []
    for suite in data.get("suites", []):
        for e in suite.get("expectations", []):
            expectations.append({"id": e.get("id"), "suite": suite.get("name"), "description": e.get("description"),
                                 "critical": bool(e.get("critical")), "success": bool(e.get("success")),
                                 "element_count": e.get("element_count"),
                                 "unexpected_count": e.get("unexpected_count")})
    return {"engine": data.get("engine"), "usable": data.get("usable"),
            "expectations": len(expectations),
            "passed": sum(1 for e in expectations if e["success"]),
            "critical_failures": [e["id"] for e in expectations if e["critical"] and not e["success"]],
            "warnings": [e["id"] for e in expectations if not e["critical"] and not e["success"]],
            "results": expectations}


def _corpus_section(platform: Platform, corpus_row, task: str, view: str, run_sites: list[str],
                    site_rows: dict[str, dict], planned: dict[str, int], limit: int) -> tuple[dict, dict]:
    from validation.corpora import corpus_dir

    cdir = corpus_dir(platform, corpus_row.id)
    ingest_path, manifest_path = cdir / "ingest_report.json", cdir / "manifest.json"
    ingest = json.loads(ingest_path.read_text(encoding="utf-8")) if ingest_path.is_file() else {}
    deid = None
    if manifest_path.is_file():
        deid = json.loads(manifest_path.read_text(encoding="utf-8")).get("deidentification")

    def hide(n):
        return None if n is not None and n < limit else n

    sites, flow_sites = [], []
    for site in run_sites:
        rep = (ingest.get("sites") or {}).get(site, {})
        task_rep = (rep.get("tasks") or {}).get(task, {})
        row = site_rows.get(site)
        n = None if row is None else row.get("n")
        n_pos = None if row is None else row.get("n_pos")
        hidden = bool(row and _suppressed(row))
        sites.append({
            "site": site,
            "cases": n, "positives": n_pos,
            "prevalence": (n_pos / n) if n and n_pos is not None else None,
            "suppressed": hidden,
            "ingest": _numeric_leaves({k: v for k, v in rep.items() if k == view}),
        })
        excluded = task_rep.get("excluded") or {}
        flow_sites.append({
            "site": site,
            "reference_cases": None if hidden else hide(task_rep.get("reference_rows")),
            "excluded_input_quarantined": None if hidden else excluded.get("input_quarantined"),
            "excluded_no_input": None if hidden else excluded.get("no_input"),
            "in_corpus": None if hidden else hide(task_rep.get("cases")),
            "planned": None if hidden else hide(planned.get(site)),
        })
    section = {
        "id": corpus_row.id, "name": corpus_row.name, "task": task, "sites": sites,
        "quality": _quality_summary(cdir), "quality_ok": corpus_row.quality_ok, "usable": corpus_row.usable,
        "accepted_reason": corpus_row.accepted_reason,
        "quarantined_by_reason": dict(sorted((corpus_row.quarantined or {}).items())),
        "deidentification": deid,
    }
    return section, {"sites": flow_sites}


def build_report(platform: Platform, principal: Principal, run_id: str) -> Report:
    """Build the report of a scored run as ``principal`` may see it.

    Parameters
    ----------
    platform : Platform
    principal : Principal
        The caller. Access is :func:`validation.runs.get_results`'s: the run's vendor, reviewers of hospitals
        whose data it used, regulators and admins; vendors and regulators see small groups suppressed.
    run_id : str

    Returns
    -------
    Report

    Raises
    ------
    AccessDenied
        The caller may not read this run's results (recorded in the audit log).
    NotFound
        No such run.
    Conflict
        The run is not scored yet.
    """
    from validation.protocols import get_protocol
    from validation.runs.service import get_results
    from validation.schema import Corpus, RunSite, Submission
    from validation.signoff import list_signoffs

    res = get_results(platform, principal, run_id)  # access check and suppression first
    info = res.run
    published = get_protocol(platform, principal, info.protocol_id, info.protocol_version)
    proto = published.protocol
    with platform.db.read() as session:
        sub = session.get(Submission, info.submission_id)
        card = dict(sub.card or {})
        model = {"submission": sub.id, "vendor": sub.org, "model_name": sub.model_name,
                 "model_version": sub.model_version, "model_sha256": info.model_sha256,
                 "mlflow_name": sub.mlflow_name, "mlflow_version": sub.mlflow_version,
                 "threshold": info.threshold, "versions": dict(sorted(info.versions.items()))}
        corpus_row = session.get(Corpus, info.corpus_id)
        site_states = {s.site: s for s in session.scalars(select(RunSite).where(RunSite.run_id == run_id))}
        planned = {s: r.n_cases for s, r in site_states.items()}
        states = {s: (r.state, r.reason) for s, r in site_states.items()}
        corpus_row = _Detached(corpus_row)

    rows = res.results
    overall = {r["metric"]: r for r in rows if r["group_kind"] == "overall"}
    site_rows = [_mark(r) for r in rows if r["group_kind"] == "site"]
    forest_metric = "auroc" if "auroc" in proto.metrics else proto.metrics[0]
    by_site = {r["group"]: r for r in site_rows if r["metric"] == forest_metric}
    run_sites = [s.site for s in info.sites]

    corpus, flow = _corpus_section(platform, corpus_row, proto.task, proto.input.view, run_sites, by_site, planned,
                                   res.min_cell)
    scored_n = overall[forest_metric]["n"] if forest_metric in overall else None
    for entry in flow["sites"]:
        state, reason = states.get(entry["site"], ("unknown", None))
        entry["state"] = state
        entry["predicted"] = entry["planned"] if state == "done" else 0
        entry["reason"] = (reason or "")[:300] or None
    flow.update(planned=sum(planned.values()), predicted=sum(planned[s] for s, (st, _) in states.items()
                                                                  if st == "done"),
                scored=scored_n, failed_sites=sorted(s for s, (st, _) in states.items() if st != "done"),
                quarantined_in_corpus=sum((corpus_row.quarantined or {}).values()))

    stored_results = _stored_results(platform, run_id, info.results_sha256)
    table = reconstruct_2x2(overall)
    if table is not None:
        table = {**table, "source": "reconstructed exactly from the overall sensitivity and specificity rows"}
    else:
        stored = _stored_2x2(stored_results)
        if stored is not None:
            table = {**stored, "source": "results.json (sha256 verified against the run)"}
    if table is not None:
        table["threshold"] = info.threshold

    re_row = next((r for r in rows if r["group_kind"] == "random_effects"), None)
    forest = {"metric": forest_metric,
              "sites": [{k: r[k] for k in ("group", "estimate", "ci_low", "ci_high", "n", "n_pos", "n_neg", "note",
                                           "suppressed")} for r in site_rows if r["metric"] == forest_metric],
              "pooled": overall.get(forest_metric),
              "random_effects": parse_heterogeneity(re_row) if re_row else None}
    verdicts = tuple({"criterion": v["criterion"], "rule": v["rule"], "status": v["status"],
                      "values": (v.get("detail") or {}).get("values", {}),
                      "detail": (v.get("detail") or {}).get("detail")} for v in res.verdicts)
    signoffs = tuple({"seq": s.seq, "signer": s.printed_name, "org": s.org, "meaning": s.meaning,
                      "reason": s.reason, "document_sha256": s.document_sha256, "time": s.time}
                     for s in list_signoffs(platform, principal, run_id))
    return Report(
        run_id=info.id,
        view={"min_cell": res.min_cell, "suppressed_cells": res.suppressed,
              "suppression": res.min_cell > 0, "case_level_data": False},
        run={"state": info.state, "complete": info.complete, "isolation": info.isolation, "executor": info.executor,
             "error": info.error, "created_at": info.created_at, "mlflow_run_id": info.mlflow_run_id,
             "sites": run_sites},
        model=model,
        intended_use={"model_card": card.get("intended_use"), "protocol": proto.intended_use,
                      "training_data": card.get("training_data"), "contact": card.get("contact")},
        protocol={"id": proto.id, "version": proto.version, "title": proto.title, "sha256": published.sha256,
                  "published_at": published.published_at, "task": proto.task, "input": proto.input.model_dump(),
                  "label": proto.label.model_dump(), "metrics": list(proto.metrics),
                  "subgroups": list(proto.subgroups), "min_cases_per_group": proto.min_cases_per_group,
                  "acceptance": [{"id": c.id, "rule": c.rule} for c in proto.acceptance]},
        corpus=corpus,
        participant_flow=flow,
        pooled=tuple(overall.values()),
        table_2x2=table,
        sites=tuple(site_rows),
        forest=forest,
        heterogeneity=parse_heterogeneity(re_row) if re_row else None,
        site_gaps=tuple(r for r in rows if r["group_kind"] == "site_gap"),
        subgroups=tuple(_mark(r) for r in rows if r["group_kind"].startswith("subgroup:")),
        verdicts=verdicts,
        signoffs=signoffs,
        curves=_stored_curves(stored_results),
        hashes={"results_sha256": info.results_sha256, "protocol_sha256": published.sha256,
                "model_sha256": info.model_sha256, "corpus_id": info.corpus_id},
    )


class _Detached:
    """The fields of a corpus row read inside the session (so they stay readable after it closes)."""

    __slots__ = ("id", "name", "quality_ok", "usable", "accepted_reason", "quarantined")

    def __init__(self, row) -> None:
        self.id, self.name, self.quality_ok = row.id, row.name, row.quality_ok
        self.usable, self.accepted_reason, self.quarantined = row.usable, row.accepted_reason, dict(row.quarantined)
