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

import cxr_features


def display_image(ds) -> np.ndarray:
    """Pixel data in [0, 1] (Modality LUT, VOI window), bright = dense always assumed."""
    return cxr_features.windowed(ds)


def read_image(path: str) -> tuple[np.ndarray, float]:
    return cxr_features.read_image(path, display_image)


def fit_preprocessing(paths, labels) -> dict:
    return cxr_features.fit_preprocessing(paths, labels, display_image)


def features_of_path(path: str, template: dict) -> list[float]:
    return cxr_features.features_of_path(path, template, display_image)


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
