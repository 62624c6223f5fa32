"""Example vendor model for ``cxr-pneumonia`` that never looks at PhotometricInterpretation (MLflow
models-from-code): otherwise the same pipeline (:mod:`cxr_features`) and logistic regression as ``cxr_opacity``.

A deliberately flawed example. It was developed on the public DEV site, whose images are all MONOCHROME2, so it
assumes bright means dense everywhere. At a MONOCHROME1 site (high values stored as dark) every image reaches it
inverted: the lungs are the brightest part of the chest, both lung fields look densely consolidated and its score
saturates near 1 for every case: specificity about 0 and next to no ranking there. A multi-site validation must
show the MONOCHROME1 sites failing.
"""

import json

import mlflow.models
import mlflow.pyfunc
import numpy as np
import pandas as pd

from cxr_features import features, fit_template


def _first(value) -> float:
    try:
        return float(value[0])
    except TypeError:
        return float(value)


def display_image(ds) -> np.ndarray:
    """Pixel data in [0, 1] (Modality LUT, VOI window), bright = dense always assumed."""
    x = ds.pixel_array.astype(np.float64)
    x = x * float(getattr(ds, "RescaleSlope", 1) or 1) + float(getattr(ds, "RescaleIntercept", 0) or 0)
    if "WindowCenter" in ds and "WindowWidth" in ds and _first(ds.WindowWidth) > 1:
        center, width = _first(ds.WindowCenter), _first(ds.WindowWidth)
        x = (x - (center - 0.5 - (width - 1) / 2)) / (width - 1)
    else:
        x = x / (2 ** int(ds.BitsStored) - 1)
    return np.clip(x, 0.0, 1.0)


def read_image(path: str) -> tuple[np.ndarray, float]:
    import pydicom

    ds = pydicom.dcmread(path)
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing") or [0.35, 0.35]
    return display_image(ds), float(spacing[0])


def fit_preprocessing(paths, labels) -> dict:
    images = [read_image(p) for p, y in zip(paths, labels) if y == 0]
    template = fit_template([x for x, _ in images], [s for _, s in images])
    return {k: np.round(v, 5).tolist() for k, v in template.items()}


def features_of_path(path: str, template: dict) -> list[float]:
    display, spacing = read_image(path)
    return features(display, spacing, template)


def logistic(weights: dict, x: np.ndarray) -> np.ndarray:
    z = (x - np.asarray(weights["mean"])) / np.asarray(weights["scale"])
    return 1.0 / (1.0 + np.exp(-(z @ np.asarray(weights["coef"]) + weights["intercept"])))


class CxrMonoBlindModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["weights"], encoding="utf-8") as fh:
            self.weights = json.load(fh)
        self.template = {k: np.asarray(self.weights[k]) for k in ("display_mean", "rank_mean", "rank_sd")}

    def predict(self, context, model_input, params=None):
        x = np.array([features_of_path(p, self.template) for p in model_input["path"]], dtype=float)
        scores = logistic(self.weights, x) if len(x) else np.array([])
        return pd.DataFrame({"case_id": list(model_input["case_id"]), "score": scores})


mlflow.models.set_model(CxrMonoBlindModel())
