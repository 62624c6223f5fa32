"""The tables the quality suites look at, as pandas DataFrames read from a corpus version."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from datasets.quality.errors import QualityError

__all__ = ["Frames", "load_frames", "LOINC", "LAB_UNITS", "CREATININE_CODES", "UMOL_PER_MGDL"]

LOINC = "http://loinc.org"
LAB_UNITS = {"2160-0": "mg/dL", "14682-9": "umol/L", "3094-0": "mg/dL", "22664-7": "mmol/L", "2823-3": "mmol/L"}
"""UCUM unit expected per LOINC code (creatinine mass and molar, urea nitrogen, urea, potassium)."""
CREATININE_CODES = ("2160-0", "14682-9")
UMOL_PER_MGDL = 88.42
"""Creatinine: 1 mg/dL = 88.42 umol/L (molar mass 113.12 g/mol)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Frames:
    """DataFrames of one corpus version (pseudonymous only)."""

    index: object
    labels: object
    dicom: object
    labs: object
    creatinine: object
    aki_cases: object
    columns: object


def _read_parquet(path: Path, what: str):
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is one message
        raise QualityError(f"cannot read {what} {path.parent.name}/{path.name} ({type(exc).__name__}); the "
                           "corpus version is damaged: re-ingest the export.") from None


def _lab_rows(case_id: str, bundle: dict) -> list[dict]:
    rows = []
    for e in bundle.get("entry", ()):
        r = e.get("resource") if isinstance(e, dict) else None
        if not isinstance(r, dict) or r.get("resourceType") != "Observation":
            continue
        cats = {c.get("code") for cat in r.get("category") or () if isinstance(cat, dict)
                for c in cat.get("coding") or () if isinstance(c, dict)}
        q = r.get("valueQuantity")
        if "laboratory" not in cats or not isinstance(q, dict):
            continue
        codings = [c for c in (r.get("code") or {}).get("coding") or () if isinstance(c, dict)]
        loinc = next((c for c in codings if c.get("system") == LOINC), None)
        c = loinc or (codings[0] if codings else {})
        value = q.get("value")
        rows.append({"case_id": case_id, "system": str(c.get("system") or ""), "code": str(c.get("code") or ""),
                     "unit": str(q.get("code") or q.get("unit") or ""),
                     "value": float(value) if isinstance(value, (int, float)) else float("nan")})
    return rows


def load_frames(corpus_path: Path, sites: tuple[str, ...]) -> Frames:
    """Read every site's index and labels, the image rows, and the laboratory values of the FHIR inputs."""
    import numpy as np
    import pandas as pd

    index = pd.concat([_read_parquet(corpus_path / "sites" / s / "index.parquet", "index") for s in sites]
                      or [pd.DataFrame()], ignore_index=True)
    labels = pd.concat([_read_parquet(corpus_path / "labels" / s / "labels.parquet", "labels") for s in sites]
                       or [pd.DataFrame()], ignore_index=True)
    columns = pd.DataFrame({"column": [*map(str, index.columns), *map(str, labels.columns)],
                            "table": ["index"] * len(index.columns) + ["labels"] * len(labels.columns)})
    dicom = index[index["task"] == "cxr-pneumonia"].reset_index(drop=True) if "task" in index else index.iloc[:0]
    lab_rows: list[dict] = []
    aki_ids: list[str] = []
    if {"task", "input_path", "case_id"} <= set(index.columns):
        base = corpus_path.resolve()
        for cid, rel in index.loc[index["task"] == "aki-48h", ["case_id", "input_path"]].itertuples(index=False):
            aki_ids.append(cid)
            p = (corpus_path / str(rel)).resolve()
            try:
                if not p.is_relative_to(base / "sites"):
                    raise OSError("input path outside the corpus")  # flagged by index.input_path_content_addressed
                bundle = json.loads(p.read_bytes())
            except (OSError, ValueError, RecursionError):
                bundle = {}
            lab_rows.extend(_lab_rows(cid, bundle if isinstance(bundle, dict) else {}))
    labs = pd.DataFrame(lab_rows, columns=["case_id", "system", "code", "unit", "value"])
    is_crea = (labs["system"] == LOINC) & labs["code"].isin(CREATININE_CODES)
    crea = labs[is_crea].reset_index(drop=True).copy()
    factor = np.where((crea["code"] == "2160-0") & (crea["unit"] == "mg/dL"), 1.0,
                      np.where((crea["code"] == "14682-9") & (crea["unit"] == "umol/L"), 1.0 / UMOL_PER_MGDL,
                               np.nan))
    crea["value_mgdl"] = crea["value"].to_numpy(dtype=float) * factor
    n_crea = crea.groupby("case_id").size() if len(crea) else pd.Series(dtype=int)
    aki_cases = pd.DataFrame({"case_id": aki_ids})
    aki_cases["creatinine_measurements"] = [int(n_crea.get(c, 0)) for c in aki_ids]
    return Frames(index=index, labels=labels, dicom=dicom, labs=labs.reset_index(drop=True), creatinine=crea,
                  aki_cases=aki_cases, columns=columns)
