"""Section 6.1: wall time to map one slice with each method, next to the paper's seconds."""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from qmri.estimators.methods import Estimator, default_device
from qmri.estimators.mle import grid_search, reference_fit
from qmri.paper.audit.evidence import VOXELWISE_MLE
from qmri.physics.signal import SignalModel


def median_seconds(call, repeats: int) -> float:
    """Return the median wall time of ``call()`` over ``repeats`` runs after one warm-up."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


#: section 6.1 of the paper: seconds for one 256 x 256 slice with 31 inversion times (laptop CPU)
PAPER_SECONDS = {"rim": 3.8, "resnet": 27.0, "mle": 575.0}


#: voxels whose per-voxel fit is timed for the paper's kind of MLE; the time is scaled to the whole slice
VOXEL_SAMPLE = 200


def _row(method: str, seconds: float, signal: torch.Tensor, paper: str | None = None) -> dict:
    return {"method": method, "seconds": seconds, "paper_seconds": PAPER_SECONDS.get(paper or method),
            "n_images": signal.shape[1], "matrix": "x".join(map(str, signal.shape[2:])),
            "threads": torch.get_num_threads(), "device": default_device(), "cpus": os.cpu_count()}


def time_estimators(estimators: dict[str, Estimator], signal: torch.Tensor, mask: torch.Tensor, sigma: float,
                    repeats: int = 3) -> list[dict]:
    """Return one row per method: median wall seconds to map ``signal`` (1, N, H, W), after a warm-up."""
    rows = []
    for method, estimate in estimators.items():
        # .cpu() waits for a GPU to finish: the time includes getting the maps back
        seconds = median_seconds(lambda estimate=estimate: estimate(signal, mask, sigma).cpu(), repeats)
        rows.append(_row(method, seconds, signal))
    return rows


def time_voxelwise_mle(model: SignalModel, signal: torch.Tensor, mask: torch.Tensor, tau_ms: list[float],
                       voxels: int = VOXEL_SAMPLE, seed: int = 0) -> dict:
    """Return the row of the paper's kind of MLE (``VOXELWISE_MLE``): one trust-region fit per voxel.

    ``scipy.optimize.least_squares`` ("trf", analytic Jacobian, from the grid-search start;
    ``qmri.estimators.mle.reference_fit``) is timed on ``voxels`` masked voxels of ``signal`` (1, N, H, W) drawn
    with ``seed``, and its time per voxel scaled to every masked voxel of the slice.
    """
    tau = torch.as_tensor(tau_ms, dtype=torch.float64)
    flat = signal[0].permute(1, 2, 0)[mask[0].bool()].to(torch.float64)  # shape (V, N)
    pick = np.random.default_rng(seed).choice(len(flat), size=min(voxels, len(flat)), replace=False)
    sample = flat[pick]
    start = time.perf_counter()
    reference_fit(model, sample.numpy(), tau.numpy(), grid_search(model, sample, tau).numpy())
    seconds = (time.perf_counter() - start) / len(pick) * len(flat)
    return _row(VOXELWISE_MLE, seconds, signal, paper="mle")
