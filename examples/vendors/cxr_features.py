"""Image features of the example ``cxr-pneumonia`` models, shared by their model code (shipped with each model as a
code path). Numpy only.

The pipeline a careful vendor runs on every radiograph, so that what reaches the classifier depends on the patient
more than on the hospital's scanner:

1. :func:`to_physical`: resample the display image onto a fixed grid in millimetres (4 mm pixels over the central
   336 mm), using PixelSpacing, so that a lung is the same size in the grid whatever the detector's field of view;
   a light Gaussian blur first (area averaging, less pixel noise).
2. :func:`flatten_field`: fit, robustly (Huber weights), a smooth gain field (linear B-splines with knots at the
   detector's edges and centre, the coarsest level of an N4-style bias fit) beside a quadratic of the vendor's
   normal-chest template, and remove the field: heel effect, scatter and detector calibration differ by room.
3. :func:`rank_image`: replace every value by its rank within the image, which undoes any monotone processing curve
   (contrast, gamma, window) the site applied.
4. :func:`lung_features`: compare with the template of normal DEV chests (mean and spread per grid pixel), smooth
   the z-map at the scale of a consolidation (12 mm) and summarise it in each lung field.

The template (:func:`fit_template`) is fitted on the normal DEV chests only; the classifier on top is a logistic
regression fitted on DEV. Trying generic augmentation (contrast curves, bias fields, noise) on DEV during fitting
changed the hospitals' AUROCs by about 0.01, so the examples stay without it and build in seconds.
"""

from __future__ import annotations

import functools

import numpy as np

GRID_N = 84
GRID_MM = 4.0
KNOTS = 3  # bias field knots per direction: edges and centre of the detector
SMOOTH_PX = 3.0  # 12 mm: the scale of a consolidation on the grid


@functools.lru_cache(maxsize=32)
def _gauss_matrix(n: int, sigma: float) -> np.ndarray:
    """(n, n) matrix of a 1-D Gaussian blur with edge replication."""
    radius = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    out = np.zeros((n, n))
    rows = np.arange(n)
    for j, w in enumerate(k):
        np.add.at(out, (rows, np.clip(rows + j - radius, 0, n - 1)), w)
    return out


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a square image (``sigma`` in pixels)."""
    if sigma < 0.25:
        return img
    g = _gauss_matrix(img.shape[0], round(float(sigma), 4))
    return g @ img @ g.T


def _grid_mm() -> np.ndarray:
    return (np.arange(GRID_N) - (GRID_N - 1) / 2.0) * GRID_MM


def to_physical(x: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Resample a square image with pixel pitch ``spacing_mm`` onto the (GRID_N, GRID_N) millimetre grid."""
    size = x.shape[0]
    x = blur(x, 0.75 * GRID_MM / spacing_mm)
    idx = _grid_mm() / spacing_mm + (size - 1) / 2.0
    i0 = np.clip(np.floor(idx).astype(int), 0, size - 2)
    f = np.clip(idx - i0, 0.0, 1.0)
    w = np.zeros((GRID_N, size))
    w[np.arange(GRID_N), i0] += 1.0 - f
    w[np.arange(GRID_N), i0 + 1] += f
    return w @ x @ w.T


@functools.lru_cache(maxsize=32)
def field_basis(detector_mm: float, knots: int | None = None) -> np.ndarray:
    """(GRID_N**2, knots**2) linear B-splines (tensor-product hats) with ``knots`` evenly spaced knots across the
    detector in each direction: a smooth bias field model in the spirit of N4's B-spline fit."""
    knots = knots or KNOTS
    t = np.clip((_grid_mm() / (detector_mm / 2.0) + 1.0) * (knots - 1) / 2.0, 0.0, knots - 1.0)
    hats = np.stack([np.clip(1.0 - np.abs(t - k), 0.0, 1.0) for k in range(knots)])
    return np.column_stack([np.outer(hats[a], hats[b]).ravel() for a in range(knots) for b in range(knots)])


def flatten_field(p: np.ndarray, template: np.ndarray, detector_mm: float, *, iterations: int = 4) -> np.ndarray:
    """``p`` minus a smooth gain field fitted robustly next to a quadratic of the normal-chest ``template``."""
    basis = field_basis(round(float(detector_mm), 3))
    t = template.ravel()
    a = np.column_stack([basis, t, t * t])
    y = p.ravel()
    w = np.ones_like(y)
    coef = np.zeros(a.shape[1])
    for _ in range(iterations):
        aw = a * w[:, None]
        coef = np.linalg.solve(aw.T @ aw + 1e-6 * np.eye(a.shape[1]), aw.T @ (y * w))
        r = y - a @ coef
        s = 1.4826 * np.median(np.abs(r)) + 1e-6
        w = np.sqrt(np.clip(1.5 * s / np.maximum(np.abs(r), 1e-12), 0.0, 1.0))
    return p - (basis @ coef[: basis.shape[1]]).reshape(p.shape)


def rank_image(p: np.ndarray) -> np.ndarray:
    """Each value replaced by its rank in the image, scaled to [0, 1] (ties broken by position)."""
    flat = p.ravel()
    r = np.empty(flat.size)
    r[np.argsort(flat, kind="stable")] = np.arange(flat.size)
    return (r / (flat.size - 1)).reshape(p.shape)


def lung_masks(rank_mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right and left lung fields (image left is the patient's right): the darkest 30% of the normal template."""
    lung = rank_mean < np.quantile(rank_mean, 0.30)
    right = np.zeros_like(lung)
    right[:, : GRID_N // 2] = True
    return lung & right, lung & ~right


def normalised(display: np.ndarray, spacing_mm: float, display_template: np.ndarray) -> np.ndarray:
    """Steps 1-3: physical grid, smooth field removed, rank-normalised."""
    p = to_physical(display, spacing_mm)
    return rank_image(flatten_field(p, display_template, display.shape[0] * spacing_mm))


def lung_features(r: np.ndarray, template: dict) -> list[float]:
    """Step 4: six numbers per image from its rank-normalised grid ``r`` and the normal-chest ``template``."""
    mean, sd = np.asarray(template["rank_mean"]), np.asarray(template["rank_sd"])
    z = blur((r - mean) / sd, SMOOTH_PX)
    out: list[float] = []
    for mask in lung_masks(mean):
        v = z[mask]
        out += [float(v.max()), float(np.percentile(v, 90)), float(v.mean())]
    return out


def fit_template(displays: list[np.ndarray], spacings: list[float]) -> dict:
    """The normal-chest template from display images of normal DEV chests: display mean, rank mean and spread."""
    phys = np.stack([to_physical(x, s) for x, s in zip(displays, spacings)])
    display_mean = phys.mean(axis=0)
    ranks = np.stack([rank_image(flatten_field(p, display_mean, x.shape[0] * s))
                      for p, x, s in zip(phys, displays, spacings)])
    return {"display_mean": display_mean, "rank_mean": ranks.mean(axis=0), "rank_sd": ranks.std(axis=0) + 0.02}


def features(display: np.ndarray, spacing_mm: float, template: dict) -> list[float]:
    """The classifier's input for one display image (bright = dense, values in [0, 1])."""
    r = normalised(display, spacing_mm, np.asarray(template["display_mean"]))
    return lung_features(r, template)


def _first(value) -> float:
    """First number of a DICOM value that may be multi-valued (WindowCenter is VM 1-n)."""
    try:
        return float(value[0])
    except TypeError:
        return float(value)


def windowed(ds) -> np.ndarray:
    """Stored pixels through the Modality LUT (RescaleSlope/Intercept when present) and the VOI window
    (WindowCenter/Width when present, else the stored bit depth), clipped to [0, 1]; PhotometricInterpretation is
    left to the model."""
    x = ds.pixel_array.astype(np.float64)
    x = x * float(getattr(ds, "RescaleSlope", 1) or 1) + float(getattr(ds, "RescaleIntercept", 0) or 0)
    if "WindowCenter" in ds and "WindowWidth" in ds and _first(ds.WindowWidth) > 1:
        center, width = _first(ds.WindowCenter), _first(ds.WindowWidth)
        x = (x - (center - 0.5 - (width - 1) / 2)) / (width - 1)  # PS3.3 C.11.2.1.2 linear window, to [0, 1]
    else:
        x = x / (2 ** int(ds.BitsStored) - 1)
    return np.clip(x, 0.0, 1.0)


def read_image(path: str, display_image) -> tuple[np.ndarray, float]:
    """Display image (``display_image(dataset)``: each model's own reading of the pixels) and pixel spacing in mm
    (PixelSpacing, else ImagerPixelSpacing) of one DICOM file."""
    import pydicom

    ds = pydicom.dcmread(path)
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing") or [0.35, 0.35]
    return display_image(ds), float(spacing[0])


def fit_preprocessing(paths, labels, display_image) -> dict:
    """The normal-chest template, from the DEV cases labelled negative (part of the saved weights)."""
    images = [read_image(p, display_image) for p, y in zip(paths, labels) if y == 0]
    template = fit_template([x for x, _ in images], [s for _, s in images])
    return {k: np.round(v, 5).tolist() for k, v in template.items()}


def features_of_path(path: str, template: dict, display_image) -> list[float]:
    """The model's features of one DICOM file."""
    display, spacing = read_image(path, display_image)
    return features(display, spacing, template)

