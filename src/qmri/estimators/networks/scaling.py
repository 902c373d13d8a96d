"""How images and parameters are scaled for the networks, so one model serves any scanner scale,
noise level and number of images.

- Images are divided by ``s``, the 99th percentile over pixels of each item's maximum intensity
  projection: A becomes O(1) and the network never sees the scanner's units (A is scaled back).
- Parameters in network units: ``A / s``, ``(B - 2) / 0.12``, and ``log(T / 1 s)`` for T1 and T2;
  the paper leaves these units unstated. Log times make the squared error of eq. 3 and 6 a
  relative error, so CSF (T1 3.5 s, barely determined by inversion times below 1 s) does not drown
  the grey and white matter in the loss. B is in units of its training spread: in raw units a 2 %
  error of B cost the loss almost nothing, and a RIM trained so returned the training mean of B
  whatever the data, which the B/T1 trade-off turned into a T1 bias of several percent.
- The likelihood gradient fed to the RIM is that of the mean squared residual with respect to the
  network units, ``-(1/N) sum_n (S_n - f_n) df_n/dkappa * dkappa/dkappa_net``: sigma^2 / N times
  the gradient of the Gaussian NLL, the same direction without needing sigma (unknown at inference)
  and with a size that does not grow with the number of images N.

The authors' code (``qmri.estimators.networks.form``, ``units="physical"``) divides the images by the
series' maximum and works in A / s, B and T in seconds.
"""

from __future__ import annotations

import torch

from qmri.physics.signal import SignalModel

#: reference time for the log units of T1 and T2 (ms)
TIME_UNIT_MS = 1000.0
#: B in network units is (B - B_CENTRE) / B_SPREAD: centred on perfect inversion, in units of the SD
#: of the training distribution 2 - |N(0, 0.2)|, which is 0.2 sqrt(1 - 2 / pi) = 0.12
B_CENTRE, B_SPREAD = 2.0, 0.12


def intensity_scale(signal: torch.Tensor, normalisation: str = "percentile") -> torch.Tensor:
    """Return the per-item scale ``s`` (batch, 1, 1, 1): the 99th percentile of the MIP over pixels ("percentile"),
    or the series' maximum ("max", the authors')."""
    mip = torch.nan_to_num(signal, nan=0.0).amax(dim=1).flatten(1)  # shape (batch, pixels)
    s = mip.amax(dim=1) if normalisation == "max" else torch.quantile(mip.float(), 0.99, dim=1)
    return s.clamp_min(1e-12).to(signal.dtype).view(-1, 1, 1, 1)


def _kind(model: SignalModel) -> list[str]:
    """Return each parameter's unit rule: "amplitude", "efficiency" or "time" (``Parameter.kind``)."""
    return [p.kind for p in model.parameters]


def to_network(kappa: torch.Tensor, model: SignalModel, s: torch.Tensor) -> torch.Tensor:
    """Return kappa in network units: A / s, (B - 2) / 0.12, log(T / 1 s). Times must be positive."""
    channels = []
    for q, kind in enumerate(_kind(model)):
        x = kappa[:, q:q + 1]
        channels.append(x / s if kind == "amplitude" else (x - B_CENTRE) / B_SPREAD if kind == "efficiency"
                        else torch.log(x.clamp_min(1e-3) / TIME_UNIT_MS))
    return torch.cat(channels, dim=1)


def from_network(kappa_net: torch.Tensor, model: SignalModel, s: torch.Tensor) -> torch.Tensor:
    """Return kappa in physical units (A in the image's units, times in ms)."""
    channels = []
    for q, kind in enumerate(_kind(model)):
        x = kappa_net[:, q:q + 1]
        channels.append(x * s if kind == "amplitude" else B_CENTRE + B_SPREAD * x if kind == "efficiency"
                        else torch.exp(x.clamp(-20, 20)) * TIME_UNIT_MS)
    return torch.cat(channels, dim=1)


def physical_per_network(kappa: torch.Tensor, model: SignalModel) -> torch.Tensor:
    """Return ``d kappa / d kappa_net`` at physical ``kappa`` (s = 1): 1 for A, 0.12 for B, T for times."""
    return torch.cat([torch.ones_like(kappa[:, q:q + 1]) if kind == "amplitude" else
                      torch.full_like(kappa[:, q:q + 1], B_SPREAD) if kind == "efficiency" else kappa[:, q:q + 1]
                      for q, kind in enumerate(_kind(model))], dim=1)


def _per_second_unit(kappa: torch.Tensor, model: SignalModel, s: torch.Tensor) -> torch.Tensor:
    """Return the physical value of one of the authors' units per channel, broadcast like ``kappa``: ``s`` for A,
    1 for B and 1000 ms for times."""
    ones = torch.ones_like(kappa[:, :1])
    return torch.cat([ones * s if kind == "amplitude" else ones * TIME_UNIT_MS if kind == "time" else ones
                      for kind in _kind(model)], dim=1)


def to_units(kappa: torch.Tensor, model: SignalModel, s: torch.Tensor, units: str = "network") -> torch.Tensor:
    """Return kappa in ``units``: "network" (``to_network``) or "physical" (A / s, B, T in seconds)."""
    return to_network(kappa, model, s) if units == "network" else kappa / _per_second_unit(kappa, model, s)


def from_units(x: torch.Tensor, model: SignalModel, s: torch.Tensor, units: str = "network") -> torch.Tensor:
    """Return kappa in physical units (A in the image's units, times in ms) from ``units`` (``to_units``)."""
    return from_network(x, model, s) if units == "network" else x * _per_second_unit(x, model, s)


def convert(x: torch.Tensor, model: SignalModel, source: str, target: str) -> torch.Tensor:
    """Return ``x`` (images already divided by s) from ``source`` units in ``target`` units (``to_units``)."""
    if source == target:
        return x
    ones = torch.ones_like(x[:, :1, :1, :1])
    return to_units(from_units(x, model, ones, source), model, ones, target)


def physical_per_unit(kappa: torch.Tensor, model: SignalModel, units: str = "network") -> torch.Tensor:
    """Return ``d kappa / d x`` at physical ``kappa`` (s = 1) for ``x`` in ``units``: ``physical_per_network``, or
    1 for A and B and 1000 ms per second for times."""
    if units == "network":
        return physical_per_network(kappa, model)
    return _per_second_unit(kappa, model, torch.ones_like(kappa[:, :1, :1, :1]))
