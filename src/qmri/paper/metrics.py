"""Accuracy and precision over repeated experiments (eq. 7 and 8), per pixel and summarised over a region."""

from __future__ import annotations

import numpy as np

#: columns of a box-plot summary row, after the identifying ones
BOX_STATS = ("min", "q1", "median", "q3", "max", "mean", "sd", "n")


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


def box_summary(values: np.ndarray) -> dict[str, float]:
    """Return the box-plot numbers (min, quartiles, max), mean, SD and count of the finite values."""
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return dict.fromkeys(BOX_STATS, float("nan")) | {"n": 0}
    q1, median, q3 = np.percentile(v, [25, 50, 75])
    return {"min": float(v.min()), "q1": float(q1), "median": float(median), "q3": float(q3),
            "max": float(v.max()), "mean": float(v.mean()), "sd": float(v.std()), "n": int(len(v))}


def pixel_metrics(estimates: np.ndarray, truth: np.ndarray, region: np.ndarray) -> dict[str, np.ndarray]:
    """Return per-pixel ``{"rb": (Q, P), "cv": (Q, P)}`` in percent for the P pixels of ``region``.

    ``estimates`` (C, Q, H, W), ``truth`` (Q, H, W), ``region`` (H, W) boolean.
    """
    est = estimates[:, :, region]  # shape (C, Q, P)
    return {"rb": relative_bias(est, truth[:, region]), "cv": coefficient_of_variation(est)}


#: an estimate more than this far off the truth (relative) is an outlier (figures 5, 6 and the audit)
OUTLIER_TOLERANCE = 0.5


def outliers(estimate: np.ndarray, truth: np.ndarray, region: np.ndarray, tolerance: float = OUTLIER_TOLERANCE
             ) -> np.ndarray:
    """Return the pixels of ``region`` whose estimate is off the truth by more than ``tolerance`` (relative), or
    not finite: the paper's "estimation outliers" (fig. 5 arrows), counted against the simulated truth."""
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.abs(estimate / truth - 1) > tolerance
    return region & (off | ~np.isfinite(estimate))
