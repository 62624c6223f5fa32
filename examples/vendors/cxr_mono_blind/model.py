"""Example vendor model for ``cxr-pneumonia`` that never looks at PhotometricInterpretation (MLflow
models-from-code): the same lung-field intensity features and logistic regression as ``cxr_opacity``.

A deliberately flawed example. It was developed on the public DEV site, whose images are all MONOCHROME2, so it
assumes bright means dense everywhere. At a MONOCHROME1 site (high values stored as dark) every image reaches it
inverted, both lungs look densely consolidated and its score saturates at 1 for every case: specificity 0 and no
ranking at all (AUROC 0.5) there. A multi-site validation must show the MONOCHROME1 sites failing.
"""

import json

import mlflow.models
import mlflow.pyfunc
import numpy as np
import pandas as pd

GRID = 16


def image_features(ds) -> list[float]:
    """Seven features of lung-field regions on a 16x16 grid of block means."""
    x = ds.pixel_array.astype(np.float64) / (2 ** int(ds.BitsStored) - 1)  # bright = dense, always assumed
    rows, cols = x.shape
    b_r, b_c = rows // GRID, cols // GRID
    blocks = x[: b_r * GRID, : b_c * GRID].reshape(GRID, b_r, GRID, b_c).mean(axis=(1, 3))
    right, left = blocks[3:12, 2:7], blocks[3:12, 9:14]
    lung = np.concatenate([right.ravel(), left.ravel()])
    return [
        float(right[5:].mean()), float(left[5:].mean()), float(right[:5].mean()), float(left[:5].mean()),
        float(lung.max() - np.median(lung)), float(np.percentile(lung, 90) - np.percentile(lung, 10)),
        float(abs(right.mean() - left.mean())),
    ]


def features_of_path(path: str) -> list[float]:
    import pydicom

    return image_features(pydicom.dcmread(path))


def logistic(weights: dict, x: np.ndarray) -> np.ndarray:
    z = (x - np.asarray(weights["mean"])) / np.asarray(weights["scale"])
    return 1.0 / (1.0 + np.exp(-(z @ np.asarray(weights["coef"]) + weights["intercept"])))


class CxrMonoBlindModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["weights"], encoding="utf-8") as fh:
            self.weights = json.load(fh)

    def predict(self, context, model_input, params=None):
        x = np.array([features_of_path(p) for p in model_input["path"]], dtype=float)
        scores = logistic(self.weights, x) if len(x) else np.array([])
        return pd.DataFrame({"case_id": list(model_input["case_id"]), "score": scores})


mlflow.models.set_model(CxrMonoBlindModel())
