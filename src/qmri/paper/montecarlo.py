"""Repeated-noise experiments on a simulated slice (sections 5.1.1 and 5.1.2 of the paper).

Every method sees the same C noise realisations of the same ground truth; relative bias (eq. 7) and
CV (eq. 8) are computed per pixel over the C estimates and summarised over a region as the five
numbers of a box plot (the paper's whiskers are the minimum and maximum over the region).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from qmri.estimators.methods import Estimator, map_all
from qmri.paper.metrics import coefficient_of_variation, relative_bias
from qmri.paper.simulate import Truth, sigma_for_snr, synthesise

#: columns of a box-plot summary row, after the identifying ones
BOX_STATS = ("min", "q1", "median", "q3", "max", "mean", "sd", "n")


def repeated_estimates(truth: Truth, tau_ms: list[float], sigma: float, repetitions: int,
                       estimators: dict[str, Estimator], generator: torch.Generator, batch: int = 10,
                       progress: bool = False) -> dict[str, np.ndarray]:
    """Return ``{method: estimates (C, Q, H, W)}`` for C noise realisations shared by all methods.

    Realisations are drawn and fitted ``batch`` at a time to bound memory; each method gets the
    true noise SD (the networks ignore it).
    """
    kappa = torch.from_numpy(truth.kappa[None]).to(torch.float64)  # shape (1, Q, H, W)
    tau = torch.as_tensor(tau_ms, dtype=torch.float64)
    mask = torch.from_numpy(truth.fit_mask)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in estimators}
    for start in tqdm(range(0, repetitions, batch), desc=f"sigma {sigma:.3g}", disable=not progress):
        c = min(batch, repetitions - start)
        signal = synthesise(kappa.expand(c, -1, -1, -1), sigma, tau, truth.model, generator).float()
        for name, maps in map_all(estimators, signal, mask.expand(c, -1, -1), sigma).items():
            parts[name].append(maps)
    return {name: np.concatenate(p) for name, p in parts.items()}


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


def summarise(estimates: dict[str, np.ndarray], truth: Truth, region: np.ndarray, **labels) -> list[dict]:
    """Return one row per method, parameter and metric with the box-plot numbers over ``region``."""
    rows = []
    for method, est in estimates.items():
        for metric, values in pixel_metrics(est, truth.kappa, region).items():
            for q, name in enumerate(truth.model.param_names):
                rows.append({**labels, "method": method, "parameter": name, "metric": metric,
                             **box_summary(values[q])})
    return rows


def noise_robustness(truth: Truth, tau_ms: list[float], snrs: list[float], repetitions: int,
                     estimators: dict[str, Estimator], seed: int, progress: bool = False) -> pd.DataFrame:
    """Return the section 5.1.1 table: per SNR, method, parameter and metric, box-plot numbers over the brain.

    SNR is defined against white matter (``qmri.paper.simulate.sigma_for_snr``).
    """
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for snr in snrs:
        sigma = float(sigma_for_snr(snr))
        estimates = repeated_estimates(truth, tau_ms, sigma, repetitions, estimators, generator, progress=progress)
        rows += summarise(estimates, truth, truth.score_mask, snr=snr)
    return pd.DataFrame(rows)
