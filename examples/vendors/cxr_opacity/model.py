"""Example vendor model for ``cxr-pneumonia`` (MLflow models-from-code): logistic regression on lung-field
intensity features of the radiograph.

A careful reader: pixel values are scaled by the stored bit depth and MONOCHROME1 images are inverted, so that
bright means dense at every site. Nothing else adapts to the site, so acquisition differences (noise, field of
view) still move its scores: which is what a multi-site validation should find out.
"""

import json

import mlflow.models
import mlflow.pyfunc
import numpy as np
import pandas as pd

GRID = 16


def image_features(ds) -> list[float]:
    """Seven features of lung-field regions on a 16x16 grid of block means."""
    x = ds.pixel_array.astype(np.float64) / (2 ** int(ds.BitsStored) - 1)
    if str(ds.PhotometricInterpretation) == "MONOCHROME1":
        x = 1.0 - x
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


class CxrOpacityModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["weights"], encoding="utf-8") as fh:
            self.weights = json.load(fh)

    def predict(self, context, model_input, params=None):
        x = np.array([features_of_path(p) for p in model_input["path"]], dtype=float)
        scores = logistic(self.weights, x) if len(x) else np.array([])
        return pd.DataFrame({"case_id": list(model_input["case_id"]), "score": scores})


mlflow.models.set_model(CxrOpacityModel())
