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

from cxr_features import features, fit_template


def _first(value) -> float:
    """First number of a DICOM value that may be multi-valued (WindowCenter is VM 1-n)."""
    try:
        return float(value[0])
    except TypeError:
        return float(value)


def display_image(ds) -> np.ndarray:
    """Pixel data as a display image in [0, 1] with bright = dense (Modality LUT, VOI window, photometric)."""
    x = ds.pixel_array.astype(np.float64)
    x = x * float(getattr(ds, "RescaleSlope", 1) or 1) + float(getattr(ds, "RescaleIntercept", 0) or 0)
    if "WindowCenter" in ds and "WindowWidth" in ds and _first(ds.WindowWidth) > 1:
        center, width = _first(ds.WindowCenter), _first(ds.WindowWidth)
        x = (x - (center - 0.5 - (width - 1) / 2)) / (width - 1)  # PS3.3 C.11.2.1.2 linear window, to [0, 1]
    else:
        x = x / (2 ** int(ds.BitsStored) - 1)
    x = np.clip(x, 0.0, 1.0)
    if str(ds.PhotometricInterpretation) == "MONOCHROME1":
        x = 1.0 - x
    return x


def read_image(path: str) -> tuple[np.ndarray, float]:
    """Display image and pixel spacing in mm (PixelSpacing, else ImagerPixelSpacing) of one DICOM file."""
    import pydicom

    ds = pydicom.dcmread(path)
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing") or [0.35, 0.35]
    return display_image(ds), float(spacing[0])


def fit_preprocessing(paths, labels) -> dict:
    """The normal-chest template, from the DEV cases labelled negative (part of the saved weights)."""
    images = [read_image(p) for p, y in zip(paths, labels) if y == 0]
    template = fit_template([x for x, _ in images], [s for _, s in images])
    return {k: np.round(v, 5).tolist() for k, v in template.items()}


def features_of_path(path: str, template: dict) -> list[float]:
    display, spacing = read_image(path)
    return features(display, spacing, template)


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
