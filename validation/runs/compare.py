"""Comparing two models evaluated on the same corpus version: paired DeLong on the shared cases, pooled and
per site (``clinval compare RUN_A RUN_B``)."""

from __future__ import annotations

import math

from validation.exceptions import Conflict
from validation.identity import Principal
from validation.platform import Platform
from validation.policy import enforce

__all__ = ["compare_runs"]


def _predictions(platform: Platform, run_id: str, sites):
    import pandas as pd

    from validation.runs.service import run_dir

    frames = []
    for site in sites:
        files = sorted((run_dir(platform, run_id) / "predictions" / site).glob("batch-*.parquet"))
        for f in files:
            part = pd.read_parquet(f)
            part["site"] = site
            frames.append(part)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["case_id", "score", "site"])


def compare_runs(platform: Platform, principal: Principal, run_a: str, run_b: str) -> list[dict]:
    """Paired DeLong comparison of AUROC (A minus B) on the cases both runs scored, pooled and per site.

    Raises
    ------
    Conflict
        The runs are not both scored, or were evaluated on different corpus versions or tasks.
    """
    import pandas as pd

    from evaluators import EvaluatorError, compare_auroc
    from validation.corpora import corpus_dir
    from validation.runs.service import get_run, run_resource
    from validation.schema import Run

    infos = []
    for run_id in (run_a, run_b):
        info = get_run(platform, principal, run_id)
        with platform.db.read() as session:
            enforce(platform.db, principal, "results.read", run_resource(session.get(Run, run_id)))
        if info.state != "scored":
            raise Conflict(f"run {run_id} is {info.state}; only scored runs can be compared")
        infos.append(info)
    a, b = infos
    if a.corpus_id != b.corpus_id:
        raise Conflict("the runs used different corpus versions; a paired comparison needs the same cases",
                       hint="evaluate both submissions on one corpus version")
    if a.protocol_id != b.protocol_id:
        raise Conflict(f"the runs follow different protocols ({a.protocol_id} and {b.protocol_id})")
    sites = sorted({s.site for s in a.sites if s.state == "done"} & {s.site for s in b.sites if s.state == "done"})
    pa, pb = _predictions(platform, a.id, sites), _predictions(platform, b.id, sites)
    joined = pa.merge(pb[["case_id", "score"]], on="case_id", suffixes=("_a", "_b"))
    cdir = corpus_dir(platform, a.corpus_id)
    labels = pd.concat([pd.read_parquet(cdir / "labels" / s / "labels.parquet", columns=["case_id", "label"])
                        for s in sites]) if sites else pd.DataFrame(columns=["case_id", "label"])
    joined = joined.merge(labels, on="case_id")
    rows = []
    groups = [("overall", "all", joined)] + [("site", s, joined[joined["site"] == s]) for s in sites]
    for kind, group, part in groups:
        y = part["label"].to_numpy(dtype=int)
        row = {"group_kind": kind, "group": group, "n": int(len(part)), "n_pos": int(y.sum()),
               "difference": None, "ci_low": None, "ci_high": None, "z": None, "p_value": None,
               "method": "paired DeLong", "note": ""}
        if len(part) and 0 < y.sum() < len(y):
            try:
                c = compare_auroc(y, part["score_a"].to_numpy(float), part["score_b"].to_numpy(float))
                row.update({k: (None if not math.isfinite(getattr(c, k)) else float(getattr(c, k)))
                            for k in ("difference", "ci_low", "ci_high", "z", "p_value")})
                row["note"] = c.note or ""
            except EvaluatorError as exc:
                row["note"] = f"undefined: {exc}"
        else:
            row["note"] = "undefined: one class only" if len(part) else "empty group"
        rows.append(row)
    return rows
