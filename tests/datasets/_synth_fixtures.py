"""Shared helpers and fixtures of the synthetic-centre tests: small exports built once per session, readers.

Exports are cached per key for the whole session (a session fixture imported into several modules would otherwise
be built once per module).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from datasets.synthetic import generate_export

# Sites that together cover every variation: DEV (reference), H04 (CR, MONOCHROME1, umol/L), H07 (local creatinine
# code), H09 (GB18030), H10 (Latin-1, Western names, degF, separate blood pressure), H12 (implicit VR), H15 (deflated).
SMALL_SITES = ("DEV", "H04", "H07", "H09", "H10", "H12", "H15")
SMALL_SEED = 7
_CACHE: dict[str, tuple[Path, object]] = {}


def build(tmp_path_factory, key: str, **kwargs):
    """Generate (once per session and key) an export; return (directory, summary)."""
    if key not in _CACHE:
        out = tmp_path_factory.mktemp(f"synth-{key}") / "export"
        _CACHE[key] = (out, generate_export(out, **kwargs))
    return _CACHE[key]


@pytest.fixture(scope="session")
def small_export(tmp_path_factory):
    """Seven sites x 12 cases x both tasks at 64 x 64 pixels, seed 7."""
    return build(tmp_path_factory, "small", sites=SMALL_SITES, cases=12, image_size=64, seed=SMALL_SEED)


def tree_hash(root: Path) -> str:
    """sha256 over every file's relative path and bytes, in sorted path order."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def read_ndjson(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_reference(root: Path, site: str, task: str) -> list[dict]:
    with (root / site / "reference" / f"{task}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def dicom_files(root: Path, site: str) -> list[Path]:
    return sorted((root / site / "dicom").rglob("*.dcm"))


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# --- a naive image model's features (what a vendor might compute without thinking about sites) -----------------

def cxr_features(ds) -> list[float]:
    """Regional intensity statistics of fixed boxes over where the lungs usually are.

    Pixels are scaled by the stored bit depth and MONOCHROME1 is inverted (a sensible reader does both); nothing
    else adapts to the site.
    """
    x = ds.pixel_array.astype(np.float64) / (2 ** int(ds.BitsStored) - 1)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        x = 1.0 - x
    g = 16
    b = x.shape[0] // g
    blocks = x.reshape(g, b, g, b).mean(axis=(1, 3))
    right, left = blocks[3:12, 2:7], blocks[3:12, 9:14]
    lung = np.concatenate([right.ravel(), left.ravel()])
    return [right[5:].mean(), left[5:].mean(), right[:5].mean(), left[:5].mean(),
            lung.max() - np.median(lung), np.percentile(lung, 90) - np.percentile(lung, 10),
            abs(right.mean() - left.mean())]


# --- AKI features read from the FHIR export, handling each site's coding conventions ----------------------------

CREATININE_CODES = {("http://loinc.org", "2160-0"): "mg/dL", ("http://loinc.org", "14682-9"): "umol/L"}
NEPHROTOXIC_ATC = {"J01XA01", "J01GB03", "M01AE01", "V08AB02"}


def creatinine_mgdl(obs: dict) -> float | None:
    """Serum creatinine of an Observation in mg/dL, or None if it is not a creatinine result.

    Recognises LOINC 2160-0 / 14682-9 and local codes whose display or text names creatinine (肌酐); converts
    umol/L with 88.4 umol/L per mg/dL.
    """
    code = obs["code"]
    is_creat = any((c.get("system"), c.get("code")) in CREATININE_CODES for c in code.get("coding", []))
    is_creat = is_creat or "肌酐" in code.get("text", "") or any("肌酐" in c.get("display", "")
                                                                for c in code.get("coding", []))
    if not is_creat or "valueQuantity" not in obs:
        return None
    q = obs["valueQuantity"]
    return q["value"] / 88.4 if q["code"] == "umol/L" else q["value"]


def admissions(root: Path, site: str) -> dict[str, dict]:
    """Per visit number: encounter id, admission time, patient id and the resources of that encounter."""
    fhir = root / site / "fhir"
    enc = {e["id"]: e for e in read_ndjson(fhir / "Encounter.ndjson") if e["class"]["code"] == "IMP"}
    out = {e["identifier"][0]["value"]: {"encounter": e, "obs": [], "cond": [], "med": []} for e in enc.values()}
    by_enc = {e["id"]: out[e["identifier"][0]["value"]] for e in enc.values()}
    for kind, key in (("Observation", "obs"), ("Condition", "cond"), ("MedicationRequest", "med")):
        path = fhir / f"{kind}.ndjson"
        if not path.exists():
            continue
        for r in read_ndjson(path):
            ref = r["encounter"]["reference"].split("/")[1]
            if ref in by_enc:
                by_enc[ref][key].append(r)
    return out


def systolic_values(obs: dict) -> list[float]:
    """Systolic pressures of an Observation, whether recorded alone (8480-6) or as a panel component."""
    out = []
    if any(x["code"] == "8480-6" for x in obs["code"]["coding"]):
        out.append(obs["valueQuantity"]["value"])
    for comp in obs.get("component", []):
        if any(x["code"] == "8480-6" for x in comp["code"]["coding"]):
            out.append(comp["valueQuantity"]["value"])
    return out


def aki_features(adm: dict, index_time: dt.datetime, birth: dt.date) -> list[float]:
    """Features recorded at or before the index time: age, log baseline creatinine, CKD, sepsis, diabetes,
    nephrotoxic drugs and lowest systolic pressure."""
    pre = [o for o in adm["obs"] if parse_time(o["effectiveDateTime"]) <= index_time]
    creat = [v for v in (creatinine_mgdl(o) for o in pre) if v is not None]
    sbp = [v for o in pre for v in systolic_values(o)]
    conds = {c["code"]["coding"][0]["code"] for c in adm["cond"]}
    nephro = sum(1 for m in adm["med"] if parse_time(m["authoredOn"]) <= index_time
                 and m["medicationCodeableConcept"]["coding"][0]["code"] in NEPHROTOXIC_ATC)
    age = (index_time.date() - birth).days / 365.25
    return [age, float(np.log(min(creat))), float("709044004" in conds), float("91302008" in conds),
            float("44054006" in conds), float(nephro), float(min(sbp))]
