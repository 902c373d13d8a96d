"""Finding the 14 spheres of an array in an image, naming them, and sampling a disc inside each."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy import signal as scipy_signal

from qmri.errors import QmriError
from qmri.paper.phantom.reference import SPHERES, nominal

#: the ROI is a disc of this fraction of the sphere's wall radius: clear of the wall and partial volume
ROI_FRACTION = 0.6


def disc_offsets(radius_px: float) -> np.ndarray:
    """Return the integer pixel offsets ``(K, 2)`` within ``radius_px`` of a centre pixel."""
    r = int(np.floor(radius_px))
    dr, dc = np.mgrid[-r:r + 1, -r:r + 1]
    keep = np.hypot(dr, dc) <= radius_px
    return np.stack([dr[keep], dc[keep]], axis=1)


def sphere_samples(maps: np.ndarray, centres: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Return ``(C, Q, S, K)``: each scan's maps (C, Q, H, W) at the K offsets around its S centres (C, S, 2).

    Centres are rounded to the nearest pixel; pixel k of a sphere is the same offset in every scan.
    """
    pixels = np.rint(centres).astype(int)[:, :, None, :] + offsets[None, None]  # shape (C, S, K, 2)
    scan = np.arange(maps.shape[0])[:, None, None]
    return np.moveaxis(maps[scan, :, pixels[..., 0], pixels[..., 1]], -1, 1)


def _ring_kernel(radius_px: float) -> np.ndarray:
    """Return a zero-mean matched filter for a dark wall of ``radius_px``: +1 on the wall, -1 just outside."""
    r = int(np.ceil(radius_px + 4))
    dr, dc = np.mgrid[-r:r + 1, -r:r + 1]
    distance = np.hypot(dr, dc)
    wall = np.abs(distance - radius_px) <= 1.0
    outside = (distance >= radius_px + 2) & (distance <= radius_px + 4)
    return wall / wall.sum() - outside / outside.sum()


def find_spheres(images: np.ndarray, pixel_mm: float, count: int = SPHERES,
                 radius_mm: tuple[float, float] = (5.0, 10.0)) -> tuple[np.ndarray, float]:
    """Return ``(centres (count, 2) px, sphere radius px)`` of the spheres in one session's images (N, H, W).

    Spheres are found by their walls: on the darkness of the maximum intensity projection inside
    the phantom, a ring filter (dark wall, bright fluid just outside; a dark sphere answers as
    well as a bright one) is swept over radii in ``radius_mm``; the radius with the strongest
    ``count`` separated peaks wins. Peaks closer than two radii to a stronger one are dropped.
    """
    mip = np.nanmax(images, axis=0)
    level = np.percentile(mip, 99)
    body = ndimage.binary_fill_holes(mip > 0.1 * level)
    labelled, n = ndimage.label(body)
    if n == 0:
        raise QmriError("no phantom found in the images (all below 10 % of the 99th percentile)")
    body = labelled == np.argmax(np.bincount(labelled.ravel())[1:]) + 1
    darkness = np.where(body, 1 - np.clip(mip / level, 0, 1), 0.0)
    best: tuple[float, np.ndarray, float] | None = None
    for radius in np.arange(radius_mm[0], radius_mm[1] + 1e-9, 0.5) / pixel_mm:
        response = scipy_signal.fftconvolve(darkness, _ring_kernel(radius)[::-1, ::-1], mode="same")
        inside = ndimage.binary_erosion(body, iterations=int(np.ceil(radius + 4)))
        response = np.where(inside, response, -np.inf)
        peaks = _strongest_peaks(response, count, 2 * radius)
        if len(peaks) < count:
            continue
        score = float(response[peaks[:, 0], peaks[:, 1]].sum())
        if best is None or score > best[0]:
            best = (score, peaks, float(radius))
    if best is None:
        raise QmriError(f"could not find {count} spheres in the phantom images")
    return best[1].astype(float), best[2]


def _strongest_peaks(response: np.ndarray, count: int, separation: float) -> np.ndarray:
    """Return up to ``count`` pixel positions ``(k, 2)`` of the largest values, pairwise >= ``separation`` apart."""
    local_max = response == ndimage.maximum_filter(response, size=3)
    candidates = np.argwhere(local_max & np.isfinite(response))
    candidates = candidates[np.argsort(-response[candidates[:, 0], candidates[:, 1]])]
    kept: list[np.ndarray] = []
    for position in candidates:  # a few hundred local maxima at most, not pixels
        if all(np.hypot(*(position - k)) >= separation for k in kept):
            kept.append(position)
            if len(kept) == count:
                break
    return np.array(kept).reshape(-1, 2)


def identify(times_ms: np.ndarray, task: str) -> np.ndarray:
    """Return, for each detected sphere, its index into the task's array (0 = sphere 1), by rank.

    ``times_ms`` (S,) are relaxation times measured in the detected spheres (a fit of each sphere's
    mean signal): the longest is sphere 1, the shortest sphere 14, as the array is ordered by its
    nominal values. (MR-BIAS registers a template instead; ranking needs no knowledge of the
    plate's orientation, and is exact when the fit is monotone in the true time.)
    """
    _, times = nominal(task)
    if len(times_ms) != len(times):
        raise QmriError(f"{len(times_ms)} spheres measured, the {task} array has {len(times)}")
    order = np.argsort(-np.asarray(times_ms))  # detected spheres, longest first
    index = np.empty(len(times), int)
    index[order] = np.argsort(-times)
    return index


