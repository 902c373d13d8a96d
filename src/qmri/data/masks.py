"""Masks and noise levels read from the images themselves: where the object is, and how noisy the air is."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from qmri.errors import QmriError

#: background values needed for a noise estimate, and the share of them that must be non-zero
#: (scanners that zero-fill the background leave nothing to measure)
BACKGROUND_MIN_VALUES, BACKGROUND_MIN_NONZERO = 1000, 0.5


def auto_mask(data: np.ndarray) -> np.ndarray:
    """Return voxels whose maximum |value| over the series exceeds both 5 % of the 99th percentile of that
    maximum and the noise floor (``noise_floor``).

    Excludes air, where noise follows no relaxation curve and would only cost time. Absolute values,
    so that the negative early images of a signed inversion-recovery series count as signal. At low SNR
    the noise maxima of air exceed 5 % of the bright signal; the noise floor then keeps them out.
    """
    finite_data = np.where(np.isfinite(data), np.abs(data), -np.inf)
    mip = np.max(finite_data, axis=-1)
    finite = np.isfinite(mip)
    if not finite.any():
        raise QmriError("the input holds no finite voxel")
    return finite & (mip > max(0.05 * np.percentile(mip[finite], 99), noise_floor(data)))


#: share of darkest voxels taken as air, the fewest of them that count, the largest SD of their mean
#: across images relative to the overall mean (noise has no time course), and the largest
#: Kolmogorov-Smirnov distance of their values from the Rayleigh distribution of their median
AIR_SHARE, AIR_MIN_VOXELS, AIR_FLAT, AIR_KS = 0.2, 100, 0.1, 0.05


def noise_floor(data: np.ndarray) -> float:
    """Return the value that the series maximum of a pure-noise magnitude voxel exceeds with probability 1e-3, or 0.

    The darkest ``AIR_SHARE`` of the voxels (by their mean over the even images) are taken as air when
    their values in the odd images have no time course (mean per image within ``AIR_FLAT`` of the
    overall mean) and are Rayleigh distributed (Kolmogorov-Smirnov distance under ``AIR_KS``); their median gives
    sigma (median / sqrt(2 ln 2)), and the max of N Rayleigh values stays below
    ``sigma sqrt(-2 ln(1 - 0.999^(1/N)))`` with probability 0.999. 0 when the dark voxels are not noise
    (an object filling the field of view, a zero-filled background, signed images).
    """
    flat = data.reshape(-1, data.shape[-1])  # a view: large volumes are not copied
    if flat.shape[1] < 2 or (flat < 0).any():
        return 0.0
    # chosen on the even images, measured on the odd ones: the values are not biased low by the choice
    chooser = flat[:, 0::2].mean(axis=1)  # NaN where a voxel has a non-finite value
    finite = np.isfinite(chooser) & np.isfinite(flat[:, 1::2]).all(axis=1)
    if not finite.any():
        return 0.0
    dark = flat[finite & (chooser <= np.quantile(chooser[finite], AIR_SHARE)), 1::2]  # (voxels, odd images)
    mean, per_image = dark.mean(), dark.mean(axis=0)
    if len(dark) < AIR_MIN_VOXELS or not mean > 0 or per_image.std() > AIR_FLAT * mean:
        return 0.0  # too few, or they relax or decay: tissue, not noise
    sigma = rayleigh_sigma(dark)
    if stats.kstest(dark.ravel(), stats.rayleigh(scale=sigma).cdf).statistic > AIR_KS:
        return 0.0
    return float(sigma * math.sqrt(-2 * math.log(1 - 0.999 ** (1 / data.shape[-1]))))


def background_sigma(data: np.ndarray, mask: np.ndarray) -> float | None:
    """Return the noise SD from the magnitude background (every image of the voxels outside ``mask``), or None.

    Pure noise in a magnitude image is Rayleigh distributed (``rayleigh_sigma``); the median resists ghosts
    and the odd object voxel outside the mask. None when fewer than
    ``BACKGROUND_MIN_VALUES`` values lie outside the mask or most are exactly zero (a zero-filled
    background).
    """
    values = data[~mask]
    values = values[np.isfinite(values)]
    if values.size < BACKGROUND_MIN_VALUES or np.mean(values != 0) < BACKGROUND_MIN_NONZERO:
        return None
    return rayleigh_sigma(values)


def rayleigh_sigma(values: np.ndarray) -> float:
    """Return the scale sigma of Rayleigh-distributed ``values`` (pure magnitude noise): median / sqrt(2 ln 2)."""
    return float(np.median(values) / math.sqrt(2 * math.log(2)))
