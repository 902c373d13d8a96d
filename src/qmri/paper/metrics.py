"""Accuracy and precision over repeated experiments (eq. 7 and 8)."""

from __future__ import annotations

import numpy as np


def relative_bias(estimates: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Return the per-pixel relative bias in percent (eq. 7).

    ``estimates`` has shape ``(C, *pixels)`` (C repetitions), ``truth`` shape ``(*pixels)``.
    """
    estimates = np.asarray(estimates, dtype=np.float64)
    return ((estimates - truth) / truth).mean(axis=0) * 100.0


def coefficient_of_variation(estimates: np.ndarray) -> np.ndarray:
    """Return the per-pixel coefficient of variation in percent (eq. 8).

    The paper writes SD over the C estimates without saying which; we use the sample
    standard deviation (``ddof=1``), unbiased for the variance, which matters for C = 2.
    """
    estimates = np.asarray(estimates, dtype=np.float64)
    return estimates.std(axis=0, ddof=1) / estimates.mean(axis=0) * 100.0
