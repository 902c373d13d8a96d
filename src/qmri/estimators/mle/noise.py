"""The noise level of a fit: sigma from the residuals of a voxel-wise Gaussian fit."""

from __future__ import annotations

import math

import torch
from scipy import stats

from qmri.errors import QmriError
from qmri.physics.signal import SignalModel


def estimate_sigma(model: SignalModel, signal: torch.Tensor, kappa: torch.Tensor, tau: torch.Tensor,
                   signed: bool = False) -> float:
    """Return the noise SD from the residuals of a voxel-wise Gaussian fit of ``signal`` (M, N).

    ``sigma^2 = median_m(RSS_m) / median(chi2_{N-Q})``: the median is robust to the few voxels a
    fit leaves in a local minimum, and the chi-square median makes it consistent for Gaussian noise.
    """
    n, q = signal.shape[1], model.n_params
    if n <= q:
        raise QmriError(f"cannot estimate the noise level from {n} images and {q} parameters; give --sigma")
    fitted = model.signed(kappa, tau) if signed else model.forward(kappa, tau)
    rss = ((signal - fitted) ** 2).sum(dim=1)
    return math.sqrt(rss.median().item() / stats.chi2.median(n - q))
