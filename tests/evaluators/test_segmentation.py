"""Segmentation metrics: MONAI's published Hausdorff values, hand-worked cases, spacing, empty-mask convention."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluators import InvalidInputError, assd, dice, hausdorff, hd95, iou, nsd, surface_distances


def sphere(radius, centre=(20, 33, 22), shape=(99, 99, 99)):
    """Ball of voxels within ``radius`` of ``centre``, built like MONAI's test helper."""
    grid = np.ogrid[tuple(slice(-c, n - c) for c, n in zip(centre, shape))]
    return sum(g * g for g in grid) <= radius * radius


def test_monai_published_hausdorff():
    # MONAI tests/test_hausdorff_distance.py: spheres r=20 and r=40 centred (20, 33, 22) on a 99^3 grid
    a, b = sphere(20), sphere(40)
    assert hausdorff(a, b) == pytest.approx(20.223748416156685, abs=1e-12)
    assert hd95(a, b) == pytest.approx(20.09975124224178, abs=1e-12)


def _surface_bruteforce(mask):
    out = np.zeros_like(mask)
    padded = np.pad(mask, 1)
    for idx in zip(*np.nonzero(mask)):
        p = tuple(i + 1 for i in idx)
        for axis in range(mask.ndim):
            for step in (-1, 1):
                q = list(p)
                q[axis] += step
                if not padded[tuple(q)]:
                    out[idx] = True
    return out


def test_distances_match_bruteforce_with_anisotropic_spacing(rng):
    a = np.zeros((12, 10, 9), dtype=bool)
    b = np.zeros_like(a)
    a[2:8, 3:7, 1:6] = True
    b[4:11, 2:6, 3:8] = True
    b[5, 9, 8] = True
    spacing = (0.7, 1.3, 2.5)
    sa, sb = _surface_bruteforce(a), _surface_bruteforce(b)
    pa = np.argwhere(sa) * spacing
    pb = np.argwhere(sb) * spacing
    dist = np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(-1))
    d_ab, d_ba = dist.min(axis=1), dist.min(axis=0)
    got_ab, got_ba = surface_distances(a, b, spacing=spacing)
    np.testing.assert_allclose(np.sort(got_ab), np.sort(d_ab))
    np.testing.assert_allclose(np.sort(got_ba), np.sort(d_ba))
    assert hausdorff(a, b, spacing=spacing) == pytest.approx(max(d_ab.max(), d_ba.max()))
    assert hd95(a, b, spacing=spacing) == pytest.approx(max(np.percentile(d_ab, 95), np.percentile(d_ba, 95)))
    assert assd(a, b, spacing=spacing) == pytest.approx((d_ab.sum() + d_ba.sum()) / (d_ab.size + d_ba.size))
    tol = 2.0
    assert nsd(a, b, tolerance=tol, spacing=spacing) == pytest.approx(
        ((d_ab <= tol).sum() + (d_ba <= tol).sum()) / (d_ab.size + d_ba.size))


def test_overlap_hand_worked():
    a = np.array([[1, 1, 0], [1, 0, 0]], dtype=bool)
    b = np.array([[0, 1, 1], [1, 0, 0]], dtype=bool)
    assert dice(a, b) == pytest.approx(2 * 2 / 6)
    assert iou(a, b) == pytest.approx(2 / 4)


def test_spacing_scales_distances():
    a = np.zeros((20, 20), dtype=bool)
    b = np.zeros_like(a)
    a[5:10, 5:10] = True
    b[5:10, 8:13] = True
    assert hausdorff(a, b) == 3.0
    assert hausdorff(a, b, spacing=(1.0, 2.0)) == 6.0
    assert hausdorff(a, b, spacing=(5.0, 2.0)) == 6.0
    assert nsd(a, b, tolerance=2.9) < 1.0 and nsd(a, b, tolerance=3.0) == 1.0


def test_identical_masks():
    a = sphere(6, centre=(10, 10, 10), shape=(21, 21, 21))
    assert (dice(a, a), iou(a, a), hausdorff(a, a), hd95(a, a), assd(a, a), nsd(a, a, tolerance=0)) == (
        1.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def test_empty_mask_convention():
    empty = np.zeros((5, 5), dtype=bool)
    full = np.zeros((5, 5), dtype=bool)
    full[1:3, 1:3] = True
    # both empty: perfect agreement
    assert (dice(empty, empty), iou(empty, empty), nsd(empty, empty, tolerance=1)) == (1.0, 1.0, 1.0)
    assert (hausdorff(empty, empty), hd95(empty, empty), assd(empty, empty)) == (0.0, 0.0, 0.0)
    # one empty: worst value, never NaN
    for a, b in ((empty, full), (full, empty)):
        assert (dice(a, b), iou(a, b), nsd(a, b, tolerance=1)) == (0.0, 0.0, 0.0)
        assert all(math.isinf(f(a, b)) for f in (hausdorff, hd95, assd))


def test_input_errors():
    with pytest.raises(InvalidInputError, match="same shape"):
        dice(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(InvalidInputError, match="binary"):
        dice(np.array([0, 2]), np.array([0, 1]))
    with pytest.raises(ValueError, match="spacing"):
        hausdorff(np.ones((2, 2)), np.ones((2, 2)), spacing=(1.0, -1.0))
