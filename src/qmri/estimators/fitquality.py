"""How well a fit explains each voxel's images, and which relaxation times a protocol can determine."""

from __future__ import annotations

import math

import numpy as np
import torch

from qmri.estimators.mle import crlb_sd
from qmri.physics.likelihood import NoiseModel
from qmri.physics.signal import SignalModel

#: a relaxation time counts as determined where its Cramér-Rao SD is below this fraction of it
RELATIVE_SD_LIMIT = 0.2
#: warn when the time is undetermined in more than this share of the fitted voxels
UNDETERMINED_SHARE = 0.5


def fit_quality(model: SignalModel, noise: NoiseModel, kappa: torch.Tensor, signal: torch.Tensor,
                tau_ms: torch.Tensor | list[float], sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(R^2, residual RMS / sigma)`` per voxel, each ``(batch, H, W)``, NaN where kappa is NaN.

    Residuals are taken against the expected measurement of the noise model (for Rician noise the
    Rice mean, which sits above the signal on the noise floor). ``R^2 = 1 - RSS / TSS`` with TSS the
    spread of the voxel's images about their mean; the residual RMS is ``sqrt(RSS / (N - Q))``, so
    its ratio to sigma is about 1 where the model fits and the noise level is right.
    """
    tau = torch.as_tensor(tau_ms, dtype=torch.float64, device=kappa.device)
    kappa, signal = kappa.to(torch.float64), signal.to(torch.float64)
    missing = ~torch.isfinite(kappa).all(dim=1)
    expected = noise.expected(model.signed(torch.nan_to_num(kappa, nan=1.0), tau), sigma)
    rss = ((signal - expected) ** 2).sum(dim=1)
    tss = ((signal - signal.mean(dim=1, keepdim=True)) ** 2).sum(dim=1)
    r2 = 1.0 - rss / tss
    rms = torch.sqrt(rss / (signal.shape[1] - model.n_params)) / sigma
    nan = torch.full_like(r2, float("nan"))
    return torch.where(missing, nan, r2), torch.where(missing, nan, rms)


def determinable_range(model: SignalModel, noise: NoiseModel, tau_ms: np.ndarray, sigma: float,
                       typical: np.ndarray) -> tuple[float, float] | None:
    """Return the interval of relaxation times (ms) whose CRLB SD is under ``RELATIVE_SD_LIMIT`` of them.

    ``typical`` holds the other parameters (A, and B for T1) at which to evaluate, e.g. the medians
    of a fit; the time (the model's last parameter) is swept log-uniformly over 5 ms to 10 s. None if
    no time in that sweep is determined.
    """
    times = np.logspace(math.log10(5.0), 4.0, 400)
    kappa = np.repeat(np.asarray(typical, dtype=float)[None], len(times), axis=0)
    kappa[:, -1] = times
    kappa = torch.from_numpy(kappa.T[None, :, :, None].copy())  # shape (1, Q, 400, 1)
    sd = crlb_sd(model, kappa, tau_ms, sigma, noise)[0, -1, :, 0].numpy()
    ok = np.flatnonzero(sd < RELATIVE_SD_LIMIT * times)
    if len(ok) == 0:
        return None
    # the run of determined times around the best-determined one
    best = int(np.nanargmin(sd / times))
    runs = np.split(ok, np.flatnonzero(np.diff(ok) > 1) + 1)
    run = next((r for r in runs if r[0] <= best <= r[-1]), max(runs, key=len))
    return float(times[run[0]]), float(times[run[-1]])


def undetermined_warning(model: SignalModel, noise: NoiseModel, kappa: np.ndarray, crlb: np.ndarray,
                         tau_ms: np.ndarray, sigma: float) -> str | None:
    """Return a one-line warning when the time (last parameter) is undetermined in most fitted voxels, else None.

    ``kappa`` and ``crlb`` are ``(..., Q)`` maps; the range the protocol can determine is evaluated at
    the medians of the other fitted parameters.
    """
    fitted = np.isfinite(kappa).all(axis=-1)
    if not fitted.any():
        return None
    time, sd = kappa[fitted][:, -1], crlb[fitted][:, -1]
    share = float(np.mean(~(sd < RELATIVE_SD_LIMIT * time)))  # NaN SD counts as undetermined
    if share <= UNDETERMINED_SHARE:
        return None
    name, images = model.param_names[-1], len(tau_ms)
    typical = np.median(kappa[fitted], axis=0)
    window = determinable_range(model, noise, tau_ms, sigma, typical)
    can = ("no time between 5 ms and 10 s" if window is None else
           f"{name} between {window[0]:.0f} and {window[1]:.0f} ms")
    return (f"{name} is poorly determined (Cramer-Rao SD above {RELATIVE_SD_LIMIT:.0%} of {name}) in "
            f"{share:.0%} of the fitted voxels; at this noise level and signal these {images} images "
            f"determine {can}")
