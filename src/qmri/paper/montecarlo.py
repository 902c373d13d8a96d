"""Repeated-noise experiments on a simulated slice (sections 5.1.1 and 5.1.2 of the paper).

Every method sees the same C noise realisations of the same ground truth; relative bias (eq. 7) and
CV (eq. 8) are computed per pixel over the C estimates and summarised over a region as the five
numbers of a box plot (the paper's whiskers are the minimum and maximum over the region).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import torch

from qmri.estimators.methods import Estimator, map_all
from qmri.paper.acquisitions import BATCH, Acquisitions, Batch, fit_all, noisy_batches
from qmri.paper.metrics import box_summary, pixel_metrics
from qmri.simulation.simulate import Truth, sigma_for_snr


def repeated_estimates(truth: Truth, tau_ms: list[float], sigma: float, repetitions: int,
                       estimators: dict[str, Estimator], generator: torch.Generator, batch: int = BATCH
                       ) -> dict[str, np.ndarray]:
    """Return ``{method: estimates (C, Q, H, W)}`` for C noise realisations shared by all methods.

    Realisations are drawn and fitted ``batch`` at a time to bound memory; each method gets the
    true noise SD (the networks ignore it).
    """
    parts: dict[str, list[np.ndarray]] = {name: [] for name in estimators}
    for b in noisy_batches(truth, tau_ms, sigma, repetitions, generator, batch):
        for name, maps in map_all(estimators, b.images, b.mask, b.sigma).items():
            parts[name].append(maps)
    return {name: np.concatenate(p) for name, p in parts.items()}


def acquisitions(truth: Truth, tau_ms: list[float], snrs: list[float], repetitions: int, seed: int
                 ) -> Acquisitions:
    """Return the section 5.1.1 scans: C realisations per SNR (against white matter), one noise stream from
    ``seed``; their maps stack to ``(len(snrs), C, Q, H, W)``."""

    def batches() -> Iterator[Batch]:
        generator = torch.Generator().manual_seed(seed)
        for snr in snrs:
            yield from noisy_batches(truth, tau_ms, float(sigma_for_snr(snr)), repetitions, generator)

    return Acquisitions(batches, (len(snrs), repetitions), "Monte Carlo")


def summarise(estimates: dict[str, np.ndarray], truth: Truth, region: np.ndarray, **labels) -> list[dict]:
    """Return one row per method, parameter and metric with the box-plot numbers over ``region``."""
    rows = []
    for method, est in estimates.items():
        for metric, values in pixel_metrics(est, truth.kappa, region).items():
            for q, name in enumerate(truth.model.param_names):
                rows.append({**labels, "method": method, "parameter": name, "metric": metric,
                             **box_summary(values[q])})
    return rows


def noise_robustness_table(truth: Truth, snrs: list[float], estimates: dict[str, np.ndarray]) -> pd.DataFrame:
    """Return the section 5.1.1 table from each method's maps ``(len(snrs), C, Q, H, W)`` of ``acquisitions``:
    per SNR, method, parameter and metric, box-plot numbers over the brain."""
    rows = []
    for s, snr in enumerate(snrs):
        rows += summarise({method: est[s] for method, est in estimates.items()}, truth, truth.score_mask, snr=snr)
    return pd.DataFrame(rows)


def noise_robustness(truth: Truth, tau_ms: list[float], snrs: list[float], repetitions: int,
                     estimators: dict[str, Estimator], seed: int) -> pd.DataFrame:
    """Return the section 5.1.1 table with every method fitted here (the pipeline fits each in a job of its own)."""
    scans = acquisitions(truth, tau_ms, snrs, repetitions, seed)
    return noise_robustness_table(truth, snrs, fit_all(scans, estimators))
