"""Example vendor model for ``cxr-pneumonia`` (MLflow models-from-code): logistic regression on lung-field
features of the radiograph, made comparable across hospitals before the classifier sees them.

A careful reader of DICOM: stored values go through the Modality LUT (RescaleSlope/Intercept when present) and the
VOI window (WindowCenter/Width when present) or else the stored bit depth, and MONOCHROME1 images are inverted, so
that bright means dense at every site. :mod:`cxr_features` (shipped with the model as a code path) then resamples
to millimetres with PixelSpacing, removes the smooth gain field of the detector, rank-normalises away the site's
contrast curve and compares the lungs with a template of normal DEV chests. What is left differs between sites
(noise, blur, projection, label quality), which is what a multi-site validation measures.
"""

import json

import mlflow.models
import mlflow.pyfunc
import numpy as np
import pandas as pd

import cxr_features


def display_image(ds) -> np.ndarray:
    """Pixel data as a display image in [0, 1] with bright = dense (Modality LUT, VOI window, photometric)."""
    x = cxr_features.windowed(ds)
    if str(ds.PhotometricInterpretation) == "MONOCHROME1":
        x = 1.0 - x
    return x


def read_image(path: str) -> tuple[np.ndarray, float]:
    return cxr_features.read_image(path, display_image)


def fit_preprocessing(paths, labels) -> dict:
    return cxr_features.fit_preprocessing(paths, labels, display_image)


def features_of_path(path: str, template: dict) -> list[float]:
    return cxr_features.features_of_path(path, template, display_image)


def logistic(weights: dict, x: np.ndarray) -> np.ndarray:
    z = (x - np.asarray(weights["mean"])) / np.asarray(weights["scale"])
    return 1.0 / (1.0 + np.exp(-(z @ np.asarray(weights["coef"]) + weights["intercept"])))


class CxrOpacityModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["weights"], encoding="utf-8") as fh:
            self.weights = json.load(fh)
        self.template = {k: np.asarray(self.weights[k]) for k in ("display_mean", "rank_mean", "rank_sd")}

    def predict(self, context, model_input, params=None):
        x = np.array([features_of_path(p, self.template) for p in model_input["path"]], dtype=float)
        scores = logistic(self.weights, x) if len(x) else np.array([])
        return pd.DataFrame({"case_id": list(model_input["case_id"]), "score": scores})


mlflow.models.set_model(CxrOpacityModel())
