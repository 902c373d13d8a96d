"""Grey/white-matter boundary sharpness (section 5.3, figure 7): sigmoid slopes along profile lines.

The paper draws 20 lines by hand across the GM/WM interface, interpolates T1 linearly along each and
fits ``y(x) = V / (1 + exp(-nu (x - x0))) + b`` by least squares; |nu| measures sharpness, and a
paired t-test compares methods. Here the lines are placed automatically on the volunteer's tissue
labels, so every method is measured on the same lines: see ``boundary_lines``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import ndimage, optimize, stats

from qmri.errors import QmriError
from qmri.simulation import tissues as T

#: samples per profile line (linear interpolation between pixels)
SAMPLES = 41


def boundary_lines(labels: np.ndarray, count: int = 20, half_length_mm: float = 3.0, pixel_mm: float = 0.82
                   ) -> np.ndarray:
    """Return ``count`` lines ``(count, 2, 2)``: start and end (row, column) in pixels, GM end first.

    Candidates are WM pixels touching GM; a line runs along the normal of the smoothed WM mask
    through the candidate, ``half_length_mm`` each way (the paper gives no length: 3 mm spans the
    cortical ribbon without reaching CSF in most places), and is kept only when its GM end lies in
    GM and its WM end in WM. Lines are spread evenly by angle around the brain's centre.
    """
    wm, gm = labels == T.WM, labels == T.GM
    candidates = np.argwhere(wm & ndimage.binary_dilation(gm))
    if len(candidates) == 0:
        raise QmriError("no grey/white matter boundary in the labels")
    smooth = ndimage.gaussian_filter(wm.astype(float), 1.5)
    gradient = np.stack(np.gradient(smooth))[:, candidates[:, 0], candidates[:, 1]].T  # shape (K, 2)
    normal = gradient / np.maximum(np.linalg.norm(gradient, axis=1, keepdims=True), 1e-12)  # towards WM
    half = half_length_mm / pixel_mm
    starts, ends = candidates - half * normal, candidates + half * normal
    at = lambda points: ndimage.map_coordinates(labels, points.T, order=0, mode="constant")  # noqa: E731
    keep = (at(starts) == T.GM) & (at(ends) == T.WM)
    if keep.sum() < count:
        raise QmriError(f"only {keep.sum()} GM/WM boundary lines fit; {count} asked for")
    starts, ends, points = starts[keep], ends[keep], candidates[keep]
    centre = np.argwhere(np.isin(labels, T.BRAIN_LABELS)).mean(axis=0)
    angle = np.arctan2(*(points - centre).T)
    order = np.argsort(angle)
    picked = order[np.linspace(0, len(order), count, endpoint=False).astype(int)]
    return np.stack([starts[picked], ends[picked]], axis=1)


def profiles(image: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Return the image linearly interpolated along each line, ``(lines, SAMPLES)``."""
    t = np.linspace(0, 1, SAMPLES)
    points = lines[:, 0, None, :] + t[None, :, None] * (lines[:, 1] - lines[:, 0])[:, None, :]  # (L, S, 2)
    return ndimage.map_coordinates(image, points.reshape(-1, 2).T, order=1, mode="nearest").reshape(len(lines), -1)


def sigmoid(x: np.ndarray, v: float, nu: float, x0: float, b: float) -> np.ndarray:
    """The paper's boundary model ``V / (1 + exp(-nu (x - x0))) + b``."""
    return v / (1 + np.exp(-np.clip(nu * (x - x0), -50, 50))) + b


def fit_sigmoid(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return the least-squares ``(V, nu, x0, b)`` of ``sigmoid`` to one profile (NaN where it fails).

    Started from the profile's ends (b = first value, V = last - first), its middle and a slope of
    one unit of x; ``nu`` is bounded to +-50 per unit of x, a step already sharper than the pixels.
    """
    keep = np.isfinite(y)
    if keep.sum() < 5:
        return np.full(4, np.nan)
    start = [y[keep][-1] - y[keep][0], 1.0, float(np.mean(x)), y[keep][0]]
    bounds = ([-np.inf, -50, x.min(), -np.inf], [np.inf, 50, x.max(), np.inf])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optimize.OptimizeWarning)
            params, _ = optimize.curve_fit(sigmoid, x[keep], y[keep], p0=start, bounds=bounds, maxfev=5000)
    except RuntimeError:
        return np.full(4, np.nan)
    return params


def positions_mm(lines: np.ndarray, pixel_mm: float) -> np.ndarray:
    """Return the distance (mm) of each of the SAMPLES points from a line's GM end (all lines share a length)."""
    return np.linspace(0, 1, SAMPLES) * np.linalg.norm(lines[0, 1] - lines[0, 0]) * pixel_mm


def slopes(maps: dict[str, np.ndarray], lines: np.ndarray, pixel_mm: float) -> pd.DataFrame:
    """Return one row per method and line: the fitted ``V``, ``nu`` (1/mm), ``x0`` (mm), ``b`` and ``abs_nu``."""
    x = positions_mm(lines, pixel_mm)
    rows = []
    for method, image in maps.items():
        for k, y in enumerate(profiles(image, lines)):
            v, nu, x0, b = fit_sigmoid(x, y)
            rows.append({"method": method, "line": k, "V": v, "nu": nu, "x0_mm": x0, "b": b, "abs_nu": abs(nu)})
    return pd.DataFrame(rows)


def paired_tests(table: pd.DataFrame) -> pd.DataFrame:
    """Return the paired t-test of |nu| over the lines for every pair of methods (lines failing a fit dropped)."""
    wide = table.pivot(index="line", columns="method", values="abs_nu").dropna()
    methods = list(wide.columns)
    rows = []
    for i, a in enumerate(methods):
        for b in methods[i + 1:]:
            result = stats.ttest_rel(wide[a], wide[b])
            rows.append({"a": a, "b": b, "lines": len(wide), "t": float(result.statistic), "p": float(result.pvalue)})
    return pd.DataFrame(rows)
