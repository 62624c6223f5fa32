"""Synthetic chest radiographs: an anatomical attenuation map, then the site's acquisition chain.

:func:`render_attenuation` draws a frontal chest in detector millimetres: soft tissue of the thorax, two lung fields
bounded by the diaphragm domes, the heart and mediastinum, the spine, posterior and anterior ribs and the clavicles.
Pneumonia adds focal or patchy opacity confined to one lung field. :func:`acquire` then plays the site's imaging
chain (blur, processing curve, gain non-uniformity, noise, quantisation to the detector bit depth, MONOCHROME1
inversion), so that the same patient looks different at different sites, as real radiographs do.

All geometry is in millimetres on the detector; the pixel grid is ``size`` x ``size`` over the site's field of view.
The model is a cartoon of the anatomy, not a physical simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datasets.sites import ImagingProfile


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """Where the pneumonia was drawn (empty ``pattern`` when there is none)."""

    pattern: str  # "", "focal" or "patchy"
    side: str  # "", "right" or "left" (patient side)
    zone: str  # "", "upper", "middle" or "lower"


def _soft(x: np.ndarray, sharpness: float) -> np.ndarray:
    """Smooth step from 0 (x <= 0) to 1 (x >= 1/sharpness)."""
    return np.clip(x * sharpness, 0.0, 1.0)


def render_attenuation(
    rng: np.random.Generator, *, size: int, fov_mm: float, pneumonia: bool, ap_view: bool
) -> tuple[np.ndarray, Finding]:
    """Draw one chest as a map of attenuation (0 = air, about 1 = dense), float32 of shape (size, size)."""
    pix = fov_mm / size
    coords = (np.arange(size, dtype=np.float32) - (size - 1) / 2.0) * pix
    scale = float(np.clip(rng.normal(1.0, 0.06), 0.85, 1.15))
    half_width = 150.0 * scale * (1.06 if ap_view else 1.0)
    height = 300.0 * scale
    dx, dy = (float(d) for d in rng.normal(0.0, 8.0, size=2))
    u = ((coords - dx) / half_width)[None, :]  # columns; image left is the patient's right
    v = ((coords - (dy - 0.57 * height)) / height)[:, None]  # rows; 0 at the lung apices, about 0.85 at the domes
    au = np.abs(u)

    # Soft tissue of the trunk: thicker in the middle; neck and shoulders narrower above the apices.
    width_at_v = np.where(v < 0.0, 1.15 - 0.55 * np.clip(-v / 0.25, 0, 1), 1.15)
    body = np.sqrt(np.clip(1.0 - (u / width_at_v) ** 2, 0.0, 1.0))
    att = 0.36 * body

    # Diaphragm domes: right (image left) higher than left; costophrenic angles deeper laterally.
    dome_r = 0.83 + float(rng.normal(0, 0.02)) + 0.10 * ((u + 0.52) / 0.38) ** 2
    dome_l = 0.87 + float(rng.normal(0, 0.02)) + 0.10 * ((u - 0.52) / 0.36) ** 2
    dome = np.where(u < 0, dome_r, dome_l)
    below = _soft(v - dome, 25.0)
    att = att + 0.22 * below * body

    # Lung fields: a rounded apex widening to the costophrenic angles, medial edge behind the mediastinum.
    lateral = 0.88 * np.sqrt(np.clip((v + 0.03) / 0.45, 0.0, 1.0)) - 0.04 * np.clip(v - 0.6, 0.0, None)
    lungs = _soft(lateral - au, 12.0) * _soft(au - 0.07, 12.0) * _soft(dome - v, 30.0) * _soft(v + 0.03, 30.0)

    # Heart and mediastinum hide the medial lung.
    heart_w = 0.40 * (1.12 if ap_view else 1.0) * float(np.clip(rng.normal(1.0, 0.07), 0.85, 1.25))
    heart = _soft(1.0 - ((u - 0.13) / heart_w) ** 2 - ((v - 0.74) / 0.21) ** 2, 4.0) * _soft(dome + 0.03 - v, 30)
    medi_half = 0.14 + 0.06 * np.clip(v, 0.0, 1.0)
    medi = _soft(medi_half - au, 12.0) * _soft(0.80 - v, 20.0)
    cover = np.maximum(heart, medi)
    air = lungs * (1.0 - cover)
    depth = 0.55 + 0.45 * np.clip(1.0 - ((au - 0.5) / 0.45) ** 2, 0.0, 1.0)
    att = att - 0.30 * air * depth + 0.13 * cover
    att = att + 0.10 * _soft(0.075 - au, 30.0)  # spine

    # Ribs: posterior ribs slope down laterally, anterior ribs (fainter) slope the other way.
    thorax = _soft(0.97 - au, 10.0) * _soft(v + 0.02, 20.0) * _soft(dome + 0.04 - v, 20.0)
    phase = float(rng.uniform(0.0, 1.0))
    period = 0.082 * float(np.clip(rng.normal(1.0, 0.05), 0.9, 1.1))
    post = np.cos(2.0 * np.pi * ((v - 0.22 * au) / period + phase))
    ant = np.cos(2.0 * np.pi * ((v + 0.16 * au) / (period * 1.3) + phase * 0.7))
    ribs = 0.075 * np.clip(post - 0.45, 0.0, None) / 0.55 + 0.03 * np.clip(ant - 0.6, 0.0, None) / 0.4
    att = att + ribs * thorax * _soft(au - 0.06, 15.0)
    clav = np.exp(-(((v - (0.03 + 0.11 * au)) / 0.018) ** 2)) * _soft(au - 0.08, 20) * _soft(0.72 - au, 20)
    att = att + 0.09 * clav

    finding = Finding(pattern="", side="", zone="")
    if pneumonia:
        side = "right" if rng.random() < 0.55 else "left"
        zone = str(rng.choice(("lower", "middle", "upper"), p=(0.55, 0.3, 0.15)))
        uc = (-0.5 if side == "right" else 0.53) + float(rng.normal(0.0, 0.07))
        vc = {"upper": 0.26, "middle": 0.48, "lower": 0.68}[zone] + float(rng.normal(0.0, 0.04))
        severity = float(rng.uniform(0.65, 1.25))
        aspect = half_width / height
        if rng.random() < 0.55:
            pattern = "focal"
            r = float(rng.uniform(0.13, 0.24))
            blob = (np.exp(-((u - uc) ** 2) / (2 * r * r)) * np.exp(-((v - vc) ** 2) / (2 * (r * aspect) ** 2)))
            opacity = severity * float(rng.uniform(0.42, 0.58)) * blob
        else:
            pattern = "patchy"
            opacity = np.zeros((size, size), dtype=np.float32)
            for _ in range(int(rng.integers(5, 10))):
                bu, bv = uc + float(rng.normal(0.0, 0.09)), vc + float(rng.normal(0.0, 0.06))
                r = float(rng.uniform(0.05, 0.10))
                opacity = opacity + float(rng.uniform(0.6, 1.0)) * (
                    np.exp(-((u - bu) ** 2) / (2 * r * r)) * np.exp(-((v - bv) ** 2) / (2 * (r * aspect) ** 2))
                )
            opacity = severity * 0.50 * np.clip(opacity, 0.0, 1.3)
        # Air spaces fill unevenly, and consolidation is at most as dense as the soft tissue it replaces.
        texture = _interp_weights(size, 7) @ rng.uniform(0.7, 1.0, size=(7, 7)).astype(np.float32)
        opacity = opacity * (texture @ _interp_weights(size, 7).T)
        att = att + 0.40 * (1.0 - np.exp(-opacity / 0.40)) * lungs
        finding = Finding(pattern=pattern, side=side, zone=zone)
    return att.astype(np.float32, copy=False), finding


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with edge replication; a no-op below a quarter pixel."""
    if sigma < 0.25:
        return img
    radius = max(1, int(np.ceil(2.5 * sigma)))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2).astype(np.float32)
    k /= k.sum()
    n = img.shape[0]
    padded = np.pad(img, radius, mode="edge")
    rows = sum(w * padded[i:i + n, :] for i, w in enumerate(k))
    return sum(w * rows[:, i:i + n] for i, w in enumerate(k))


def _interp_weights(size: int, points: int = 3) -> np.ndarray:
    """(size, points) weights interpolating ``points`` control points linearly across ``size`` samples."""
    t = np.linspace(0.0, points - 1.0, size, dtype=np.float32)
    return np.stack([np.clip(1.0 - np.abs(t - k), 0.0, 1.0) for k in range(points)], axis=1)


def _smooth_field(rng: np.random.Generator, size: int, amplitude: float) -> np.ndarray:
    """Low-frequency gain field: a random 3x3 grid, bilinearly interpolated, plus a linear heel-effect ramp."""
    grid = rng.normal(0.0, amplitude, size=(3, 3)).astype(np.float32)
    w = _interp_weights(size)
    ramp = np.float32(amplitude * float(rng.normal(0.0, 1.0))) * np.linspace(-1.0, 1.0, size, dtype=np.float32)
    return w @ grid @ w.T + ramp[None, :]


def acquire(att: np.ndarray, rng: np.random.Generator, imaging: ImagingProfile) -> np.ndarray:
    """Turn an attenuation map into stored pixel values with the site's imaging chain.

    Returns
    -------
    numpy.ndarray of shape (size, size), dtype uint16
        Values in ``0 .. 2**bits_stored - 1``; high means bright (dense) for MONOCHROME2, dark for MONOCHROME1.
    """
    size = att.shape[0]
    pix = imaging.field_of_view_mm / size
    img = _blur(att, imaging.blur_mm / pix)

    def curve(x):
        return 1.0 / (1.0 + np.exp(-(x - imaging.lut_center) / imaging.lut_width))

    lo, hi = curve(-0.05), curve(0.85)
    disp = np.clip((curve(img) - lo) / (hi - lo), 0.0, 1.0) ** imaging.contrast_gamma
    if imaging.nonuniformity > 0:
        disp = disp + _smooth_field(rng, size, imaging.nonuniformity)
    disp = disp + np.float32(imaging.noise_sigma) * rng.standard_normal(size=disp.shape, dtype=np.float32)
    top = (1 << imaging.bits_stored) - 1
    stored = np.rint(np.clip(disp, 0.0, 1.0) * top).astype(np.uint16)
    if imaging.photometric_interpretation == "MONOCHROME1":
        stored = np.uint16(top) - stored
    return stored
