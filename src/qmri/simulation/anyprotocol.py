"""Training data for our RIM (``arim``; beyond the paper): maps that do not teach anatomy as the answer,
and a protocol drawn for every batch.

Each batch is, with probability ``brain_share``, brain patches of the pipeline's training set, else
structure-agnostic maps of ``image_size`` pixels square:

- random regions (a Voronoi partition of 3-16 seeds; the first region is background, A = 0, in half
  the maps) with 0-6 disks of radius 2-14 pixels on top, each region and disk with its own values;
- T1 log-uniform over ``t1_range_ms`` (T2 over ``t2_range_ms``), A uniform over 0.2-1 times a smooth
  linear receive field of +-30 %; in half the maps the log time also has a linear gradient over the
  image (up to +-0.3);
- B uniform over ``b_range``, constant over the map in half of them, else plus a smooth cosine field
  of amplitude up to ``b_field`` (clipped to ``b_range`` widened by the field); in ``recovery_share``
  of the maps B also follows the incomplete recovery of a repetition time TR (log-uniform over
  ``tr_range_ms``): ``|A (1 - B e^(-TI/T1) + (B - 1) e^(-TR/T1))|`` is the paper's model with
  ``B' = B / (1 + (B - 1) e^(-TR/T1))`` and ``A' = A (1 + (B - 1) e^(-TR/T1))``, so B' differs between
  regions of different T1 (the real NIST phantom at TR 4.5 s);
- noise SD from an SNR log-uniform over ``snr_range`` against the mean A of the object.

A pixel whose noise-free signal stays below the noise SD in every image (a T2 far below the first
echo time) is left out of the loss like background (``measurable``): nothing in its data says A.
Over such wide ranges many pixels are barely determined by their protocol (T1 = 5 s with inversion
times below 1 s); an unweighted loss then rewards pulling every estimate towards the middle of the
range. ``identifiability_weights`` weighs A and the time by how well the data can determine them.

Protocols (the same for every item of a batch): T1: 6-40 inversion times from 20-200 ms to
700-4000 ms; T2: 4-40 echo times from 5-30 ms to 80-640 ms; linear or geometric spacing, half each.
Where real scanners' protocols are given (``t1_real``, ``t2_real``: the NIST plates' irregular times, never
their images), ``real_share`` of the batches take one of them instead.
The paper's protocols (IV_T1 139-937 ms, 31 TIs; 23 and 25 TIs from 172 ms; T2 10-320 ms, 6 echoes)
and the NIST phantom scans (10 TIs 35-3000 ms, 32 echoes 10-320 ms) lie inside these ranges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from qmri.physics.likelihood import Gaussian, Likelihood
from qmri.physics.signal import SignalModel


@dataclass(frozen=True)
class AnyProtocolSettings:
    """What the generator draws from (times in ms)."""

    image_size: int = 64
    brain_share: float = 0.25
    t1_range_ms: tuple[float, float] = (20.0, 5000.0)
    t2_range_ms: tuple[float, float] = (5.0, 2000.0)
    b_range: tuple[float, float] = (1.3, 2.05)
    b_field: float = 0.08
    recovery_share: float = 0.25
    tr_range_ms: tuple[float, float] = (1500.0, 8000.0)
    snr_range: tuple[float, float] = (5.0, 200.0)
    #: (count low, count high, first time low/high, last time low/high) per task
    t1_protocols: tuple[int, int, float, float, float, float] = (6, 40, 20.0, 200.0, 700.0, 4000.0)
    t2_protocols: tuple[int, int, float, float, float, float] = (4, 40, 5.0, 30.0, 80.0, 640.0)
    #: real protocols' times (ms) per task, drawn as they are in ``real_share`` of the batches
    t1_real: tuple[tuple[float, ...], ...] = ()
    t2_real: tuple[tuple[float, ...], ...] = ()
    real_share: float = 0.25

    def __post_init__(self):
        for name in ("t1_real", "t2_real"):
            object.__setattr__(self, name, tuple(tuple(float(t) for t in times) for times in getattr(self, name)))


def draw_protocol(task: str, settings: AnyProtocolSettings, rng: np.random.Generator) -> np.ndarray:
    """Return sorted preparation times (ms) drawn for one batch: one of the task's real protocols in ``real_share``
    of the batches where there are any, else the count, the range and the spacing at random."""
    real = settings.t1_real if task == "t1" else settings.t2_real
    if real and settings.real_share > 0 and rng.random() < settings.real_share:  # else no draw: old streams stay
        return np.sort(np.asarray(real[int(rng.integers(len(real)))]))
    n_lo, n_hi, first_lo, first_hi, last_lo, last_hi = settings.t1_protocols if task == "t1" else settings.t2_protocols
    n = int(rng.integers(n_lo, n_hi + 1))
    first = math.exp(rng.uniform(math.log(first_lo), math.log(first_hi)))
    last = max(math.exp(rng.uniform(math.log(last_lo), math.log(last_hi))), 3 * first)
    times = np.geomspace(first, last, n) if rng.random() < 0.5 else np.linspace(first, last, n)
    return np.round(times, 1)


def _log_uniform(low: float, high: float, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    return torch.exp(math.log(low) + (math.log(high) - math.log(low)) * torch.rand(shape, generator=gen))


def _uniform(low: float, high: float, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=gen)


def draw_maps(model: SignalModel, batch: int, settings: AnyProtocolSettings, gen: torch.Generator
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return structure-agnostic ``kappa`` (batch, Q, H, W) in physical units, the object mask (batch, H, W) and
    each map's noise SD (batch,)."""
    size, seeds, disks = settings.image_size, 16, 6
    time_range = settings.t1_range_ms if model.task == "t1" else settings.t2_range_ms
    axis = torch.linspace(-1, 1, size)
    y, x = torch.meshgrid(axis, axis, indexing="ij")  # shape (H, W)
    # Voronoi regions: 3-16 seeds per map (unused seeds are moved far away)
    centres = _uniform(-1, 1, (batch, seeds, 2), gen)
    used = torch.arange(seeds) < torch.randint(3, seeds + 1, (batch, 1), generator=gen)
    centres = torch.where(used[..., None], centres, torch.full_like(centres, 1e3))
    distance = (y - centres[..., 0, None, None]) ** 2 + (x - centres[..., 1, None, None]) ** 2  # (batch, K, H, W)
    labels = distance.argmin(dim=1)  # shape (batch, H, W)
    n_values = seeds + disks
    log_time = torch.log(_log_uniform(*time_range, (batch, n_values), gen))
    amplitude = _uniform(0.2, 1.0, (batch, n_values), gen)
    background = torch.rand(batch, generator=gen) < 0.5
    amplitude[:, 0] = torch.where(background, torch.zeros(batch), amplitude[:, 0])
    # disks of their own values on top of the regions
    radius = _uniform(2.0, 14.0, (batch, disks), gen) * 2 / size
    middle = _uniform(-1, 1, (batch, disks, 2), gen)
    present = torch.rand((batch, disks), generator=gen) < 0.5
    inside = ((y - middle[..., 0, None, None]) ** 2 + (x - middle[..., 1, None, None]) ** 2
              < radius[..., None, None] ** 2) & present[..., None, None]  # (batch, D, H, W)
    for d in range(disks):  # at most 6 overlays, each vectorised over the batch and the pixels
        labels = torch.where(inside[:, d], torch.full_like(labels, seeds + d), labels)
    flat = labels.flatten(1)
    log_time = log_time.gather(1, flat).view(batch, size, size)
    amplitude = amplitude.gather(1, flat).view(batch, size, size)
    # smooth variation: receive field on A; a log-time gradient in half the maps
    slope = _uniform(-0.3, 0.3, (batch, 2, 1, 1), gen)
    amplitude = amplitude * (1 + slope[:, 0] * x + slope[:, 1] * y)
    tilt = _uniform(-0.3, 0.3, (batch, 2, 1, 1), gen) * (torch.rand((batch, 1, 1, 1), generator=gen) < 0.5)
    log_time = log_time + (tilt[:, 0] * x + tilt[:, 1] * y)
    times = torch.exp(log_time).clamp(*time_range)
    mask = amplitude > 0
    channels = {"amplitude": amplitude, "time": times}
    if any(p.kind == "efficiency" for p in model.parameters):
        b = _uniform(*settings.b_range, (batch, 1, 1), gen)
        field = _uniform(0, settings.b_field, (batch, 1, 1), gen) * (torch.rand((batch, 1, 1), generator=gen) < 0.5)
        freq, phase = _uniform(0, math.pi, (batch, 2, 1, 1), gen), _uniform(0, 2 * math.pi, (batch, 2, 1, 1), gen)
        b = b + field * torch.cos(freq[:, 0] * x + phase[:, 0]) * torch.cos(freq[:, 1] * y + phase[:, 1])
        b = b.clamp(settings.b_range[0] - settings.b_field, settings.b_range[1] + settings.b_field)
        tr = _log_uniform(*settings.tr_range_ms, (batch, 1, 1), gen)
        recovery = torch.where(torch.rand((batch, 1, 1), generator=gen) < settings.recovery_share,
                               (b - 1) * torch.exp(-tr / times), torch.zeros_like(times))
        channels["efficiency"] = b / (1 + recovery)
        channels["amplitude"] = amplitude * (1 + recovery)
    kappa = torch.stack([channels[p.kind] for p in model.parameters], dim=1)
    level = (amplitude * mask).sum(dim=(1, 2)) / mask.sum(dim=(1, 2)).clamp_min(1)
    return kappa, mask, level / _log_uniform(*settings.snr_range, (batch,), gen)


def measurable(model: SignalModel, kappa: torch.Tensor, tau_ms: torch.Tensor, sigma: torch.Tensor,
               mask: torch.Tensor) -> torch.Tensor:
    """Return ``mask`` without the pixels whose noise-free signal is below ``sigma`` (batch,) in every image."""
    peak = model.forward(kappa, tau_ms).amax(dim=1)  # shape (batch, H, W)
    return mask & (peak > sigma.view(-1, 1, 1))


def identifiability_weights(model: SignalModel, kappa: torch.Tensor, tau_ms: torch.Tensor, sigma: torch.Tensor,
                            s: torch.Tensor, scale: float = 0.1) -> torch.Tensor:
    """Return loss weights ``1 / (1 + (sd / scale)^2)`` (batch, Q, H, W) for A and the time, 1 for B.

    ``sd`` is the Cramer-Rao SD of the parameter in network units (A / s, log T) with B known (B comes
    from many pixels, not from one): about 1 where a pixel's data pin it to better than ``scale``,
    ``(scale / sd)^2`` where they do not, so an efficient estimate costs every pixel about the same.
    ``sigma`` is per item (batch,), ``s`` the intensity scale (batch, 1, 1, 1). Zero where undefined.
    """
    kinds = [p.kind for p in model.parameters]
    keep = [q for q, kind in enumerate(kinds) if kind != "efficiency"]
    info = Likelihood(model, Gaussian()).fisher_information(kappa.double(), tau_ms.double(),
                                                            sigma.double().view(-1, 1, 1, 1))
    info = info[..., keep, :][..., :, keep]  # shape (batch, H, W, Q', Q')
    cov, status = torch.linalg.inv_ex(info)
    sd = torch.diagonal(cov, dim1=-2, dim2=-1).clamp_min(0).sqrt().permute(0, 3, 1, 2)  # (batch, Q', H, W)
    weights = torch.ones_like(kappa, dtype=torch.float64)
    for j, q in enumerate(keep):
        unit = s.double() if kinds[q] == "amplitude" else kappa[:, q:q + 1].double().clamp_min(1e-6)
        weights[:, q] = 1 / (1 + (sd[:, j] / unit[:, 0] / scale) ** 2)
    weights = torch.where((status == 0)[:, None], torch.nan_to_num(weights, nan=0.0), torch.zeros_like(weights))
    return weights.float()
