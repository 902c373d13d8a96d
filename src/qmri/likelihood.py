"""Gaussian negative log-likelihood of magnitude images and its gradient (eq. 2, 4).

For SNR above about 3 the magnitude noise is close to Gaussian (section 2.1), so
``L(kappa) = sum_n (S_n - f_n(kappa))^2 / (2 sigma^2)`` per voxel (constants dropped).
"""

from __future__ import annotations

import torch

from qmri.signal import SignalModel


def _sigma_view(sigma: torch.Tensor | float, ref: torch.Tensor) -> torch.Tensor:
    """Return sigma (a scalar, or one value per batch item) shaped to broadcast against ``ref``."""
    sigma = torch.as_tensor(sigma, dtype=ref.dtype, device=ref.device)
    if sigma.ndim == 1:  # one value per batch item
        sigma = sigma.reshape(-1, *([1] * (ref.ndim - 1)))
    return sigma


class GaussianLikelihood:
    """Gaussian data fidelity for a signal model, with analytic gradients."""

    def __init__(self, model: SignalModel):
        self.model = model

    def residual(self, kappa: torch.Tensor, signal: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        """Return ``S - f(kappa)``, shape ``(batch, N, *spatial)``."""
        return signal - self.model.forward(kappa, tau_ms)

    def nll(self, kappa: torch.Tensor, signal: torch.Tensor, tau_ms: torch.Tensor,
            sigma: torch.Tensor | float) -> torch.Tensor:
        """Return the per-voxel negative log-likelihood, shape ``(batch, *spatial)``."""
        r = self.residual(kappa, signal, tau_ms)
        return (r**2).sum(dim=1) / (2.0 * _sigma_view(sigma, r[:, 0]) ** 2)

    def gradient(self, kappa: torch.Tensor, signal: torch.Tensor, tau_ms: torch.Tensor,
                 sigma: torch.Tensor | float) -> torch.Tensor:
        """Return ``dL/dkappa = -sum_n (S_n - f_n) df_n/dkappa / sigma^2``, shape ``(batch, Q, *spatial)``."""
        return self.model.sse_gradient(kappa, tau_ms, signal) / _sigma_view(sigma, kappa) ** 2
