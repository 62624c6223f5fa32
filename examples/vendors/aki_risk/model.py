"""Example vendor model for ``aki-48h`` (MLflow models-from-code): logistic regression on what the FHIR record
shows at the index time: age band, baseline creatinine (mg/dL or umol/L, LOINC or a local code), chronic kidney
disease, sepsis, diabetes, nephrotoxic drugs, lowest systolic pressure."""

import json
import math

import mlflow.models
import mlflow.pyfunc
import numpy as np
import pandas as pd

CREATININE_LOINC = {"2160-0": "mg/dL", "14682-9": "umol/L"}
UMOL_PER_MGDL = 88.4  # creatinine molar mass conversion
NEPHROTOXIC_ATC = {"J01XA01", "J01GB03", "M01AE01", "V08AB02"}  # vancomycin, gentamicin, ibuprofen, contrast
CKD, SEPSIS, DIABETES = "709044004", "91302008", "44054006"  # SNOMED CT
SYSTOLIC_LOINC = "8480-6"


def _age(patient: dict) -> float:
    for ext in patient.get("extension", []):
        if ext.get("url", "").endswith("age-band"):
            band = ext.get("valueString", "")
            if band.endswith("+"):
                return float(band[:-1]) + 5
            lo, _, hi = band.partition("-")
            if lo.isdigit() and hi.isdigit():
                return (float(lo) + float(hi)) / 2
    return 60.0


def _creatinine(obs: dict) -> float | None:
    code = obs.get("code", {})
    unit = None
    for c in code.get("coding", []):
        if c.get("system") == "http://loinc.org" and c.get("code") in CREATININE_LOINC:
            unit = CREATININE_LOINC[c["code"]]
    named = "肌酐" in code.get("text", "") or any("肌酐" in c.get("display", "") for c in code.get("coding", []))
    q = obs.get("valueQuantity")
    if (unit is None and not named) or not q or q.get("value") is None:
        return None
    unit = q.get("code") or q.get("unit") or unit
    value = float(q["value"])
    return value / UMOL_PER_MGDL if unit and "umol" in unit.lower() else value


def _systolic(obs: dict) -> list[float]:
    out = []
    for comp in obs.get("component", []):
        if any(c.get("code") == SYSTOLIC_LOINC for c in comp.get("code", {}).get("coding", [])):
            v = (comp.get("valueQuantity") or {}).get("value")
            if v is not None:
                out.append(float(v))
    if any(c.get("code") == SYSTOLIC_LOINC for c in obs.get("code", {}).get("coding", [])):
        v = (obs.get("valueQuantity") or {}).get("value")
        if v is not None:
            out.append(float(v))
    return out


def bundle_features(bundle: dict) -> list[float]:
    resources = [e.get("resource", {}) for e in bundle.get("entry", [])]
    patient = next((r for r in resources if r.get("resourceType") == "Patient"), {})
    creat, sbp, conds, nephro = [], [], set(), 0
    for r in resources:
        kind = r.get("resourceType")
        if kind == "Observation":
            v = _creatinine(r)
            if v is not None:
                creat.append(v)
            sbp.extend(_systolic(r))
        elif kind == "Condition":
            conds.update(c.get("code") for c in r.get("code", {}).get("coding", []))
        elif kind == "MedicationRequest":
            codes = {c.get("code") for c in r.get("medicationCodeableConcept", {}).get("coding", [])}
            nephro += bool(codes & NEPHROTOXIC_ATC)
    return [_age(patient), math.log(min(creat)) if creat else 0.0, float(CKD in conds), float(SEPSIS in conds),
            float(DIABETES in conds), float(nephro), min(sbp) if sbp else 120.0]


def features_of_path(path: str) -> list[float]:
    with open(path, encoding="utf-8") as fh:
        return bundle_features(json.load(fh))


def logistic(weights: dict, x: np.ndarray) -> np.ndarray:
    z = (x - np.asarray(weights["mean"])) / np.asarray(weights["scale"])
    return 1.0 / (1.0 + np.exp(-(z @ np.asarray(weights["coef"]) + weights["intercept"])))


class AkiRiskModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["weights"], encoding="utf-8") as fh:
            self.weights = json.load(fh)

    def predict(self, context, model_input, params=None):
        x = np.array([features_of_path(p) for p in model_input["path"]], dtype=float)
        scores = logistic(self.weights, x) if len(x) else np.array([])
        return pd.DataFrame({"case_id": list(model_input["case_id"]), "score": scores})


mlflow.models.set_model(AkiRiskModel())
