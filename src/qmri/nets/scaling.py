"""How images and parameters are scaled for the networks, so one model serves any scanner scale,
noise level and number of images.

- Images are divided by ``s``, the 99th percentile over pixels of each item's maximum intensity
  projection: A becomes O(1) and the network never sees the scanner's units (A is scaled back).
- Parameters in network units: ``A / s``, ``B``, and ``log(T / 1 s)`` for T1 and T2. Log times make
  the squared error of eq. 3 and 6 a relative error, so CSF (T1 3.5 s, barely determined by
  inversion times below 1 s) does not drown the grey and white matter in the loss; the paper
  leaves these units unstated.
- The likelihood gradient fed to the RIM is that of the mean squared residual with respect to the
  network units, ``-(1/N) sum_n (S_n - f_n) df_n/dkappa * dkappa/dkappa_net``: sigma^2 / N times
  the gradient of the Gaussian NLL, the same direction without needing sigma (unknown at inference)
  and with a size that does not grow with the number of images N.
"""

from __future__ import annotations

import torch

from qmri.signal import SignalModel

#: reference time for the log units of T1 and T2 (ms)
TIME_UNIT_MS = 1000.0


def intensity_scale(signal: torch.Tensor) -> torch.Tensor:
    """Return the per-item scale ``s`` (batch, 1, 1, 1): 99th percentile of the MIP over pixels."""
    mip = torch.nan_to_num(signal, nan=0.0).amax(dim=1).flatten(1)  # shape (batch, pixels)
    s = torch.quantile(mip.float(), 0.99, dim=1).clamp_min(1e-12).to(signal.dtype)
    return s.view(-1, 1, 1, 1)


def _is_time(model: SignalModel) -> list[bool]:
    return [name.startswith("T") for name in model.param_names]


def to_network(kappa: torch.Tensor, model: SignalModel, s: torch.Tensor) -> torch.Tensor:
    """Return kappa in network units: A / s, B, log(T / 1 s). Times must be positive."""
    channels = [kappa[:, 0:1] / s]
    for q, is_time in enumerate(_is_time(model)[1:], start=1):
        x = kappa[:, q:q + 1]
        channels.append(torch.log(x.clamp_min(1e-3) / TIME_UNIT_MS) if is_time else x)
    return torch.cat(channels, dim=1)


def from_network(kappa_net: torch.Tensor, model: SignalModel, s: torch.Tensor) -> torch.Tensor:
    """Return kappa in physical units (A in the image's units, times in ms)."""
    channels = [kappa_net[:, 0:1] * s]
    for q, is_time in enumerate(_is_time(model)[1:], start=1):
        x = kappa_net[:, q:q + 1]
        channels.append(torch.exp(x.clamp(-20, 20)) * TIME_UNIT_MS if is_time else x)
    return torch.cat(channels, dim=1)


def physical_per_network(kappa: torch.Tensor, model: SignalModel) -> torch.Tensor:
    """Return ``d kappa / d kappa_net`` at physical ``kappa`` (s = 1): 1 for A and B, T for times."""
    return torch.cat([kappa[:, q:q + 1] if is_time else torch.ones_like(kappa[:, q:q + 1])
                      for q, is_time in enumerate(_is_time(model))], dim=1)
