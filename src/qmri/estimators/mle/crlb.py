"""The Cramér-Rao lower bound of a fit's parameters."""

from __future__ import annotations

import torch

from qmri.physics.likelihood import Likelihood, NoiseModel
from qmri.physics.signal import SignalModel


def crlb_sd(model: SignalModel, kappa: torch.Tensor, tau_ms: torch.Tensor | list[float], sigma: float,
            noise: NoiseModel | None = None) -> torch.Tensor:
    """Return the Cramér-Rao lower bound on the SD of each parameter, ``(batch, Q, H, W)``.

    Fisher information of the noise model (default Gaussian: ``I = J^T J / sigma^2``) per voxel, no
    prior. NaN where ``kappa`` is NaN or I is singular.
    """
    kappa = kappa.to(torch.float64)
    tau = torch.as_tensor(tau_ms, dtype=torch.float64, device=kappa.device)
    info = Likelihood(model, noise).fisher_information(torch.nan_to_num(kappa, nan=1.0), tau, float(sigma))
    cov, status = torch.linalg.inv_ex(info)  # shape (batch, H, W, Q, Q)
    sd = torch.diagonal(cov, dim1=-2, dim2=-1).clamp_min(0).sqrt().permute(0, 3, 1, 2)
    bad = (status != 0)[:, None] | ~torch.isfinite(kappa).all(dim=1, keepdim=True)
    return torch.where(bad, torch.full_like(sd, float("nan")), sd)
