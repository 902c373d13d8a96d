"""Noise models of measured images and the negative log-likelihood they give (eq. 2, 4 and beyond).

A noise model says how a measured image ``S`` scatters around the model's signal before the
modulus, ``g`` (``qmri.physics.signal.SignalModel.signed``), for a noise SD ``sigma``:

- ``Gaussian(signed=False)``: magnitude images, ``S ~ N(|g|, sigma^2)`` (the paper's model; close to
  Rician above an SNR of about 3, section 2.1).
- ``Gaussian(signed=True)``: real-valued (phase-sensitive) images, ``S ~ N(g, sigma^2)``; no modulus,
  so the sign of an inversion-recovery signal is data, not ambiguity.
- ``Rician()``: magnitude images of complex Gaussian noise, ``S ~ Rice(|g|, sigma)``, exact at any SNR;
  the noise floor of late echoes is modelled instead of fitted as signal.

Each gives, elementwise on tensors of any shape, the negative log-likelihood (constants in S dropped),
its derivative with respect to ``g`` (the score; ``dNLL/dkappa = dg/dkappa^T score``), the expected
Fisher information with respect to ``g`` (for Fisher scoring in the MLE and for Cramér-Rao bounds),
and the expected measurement ``E[S]`` (for residuals and fit quality). ``Likelihood`` combines a
signal model and a noise model into ``L(kappa)`` and its gradient.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from functools import lru_cache

import numpy as np
import torch
from scipy import special

from qmri.errors import QmriError
from qmri.physics.signal import SignalModel


def _sigma_view(sigma: torch.Tensor | float, ref: torch.Tensor) -> torch.Tensor:
    """Return sigma (a scalar, or one value per batch item) shaped to broadcast against ``ref``."""
    sigma = torch.as_tensor(sigma, dtype=ref.dtype, device=ref.device)
    if sigma.ndim == 1:  # one value per batch item
        sigma = sigma.reshape(-1, *([1] * (ref.ndim - 1)))
    return sigma


def _inv_var(sigma: torch.Tensor | float, ref: torch.Tensor) -> torch.Tensor | float:
    """Return ``1 / sigma^2``: a float for a scalar sigma (a multiply, the fast path), else shaped like ``_sigma_view``."""
    if isinstance(sigma, (int, float)):
        return 1.0 / float(sigma) ** 2
    return 1.0 / _sigma_view(sigma, ref) ** 2


class NoiseModel(ABC):
    """The distribution of a measured image given the signal ``g`` before the modulus."""

    name: str
    #: the images are real-valued (the model is fitted without the modulus)
    signed: bool

    @abstractmethod
    def nll(self, g: torch.Tensor, signal: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """Return the negative log-likelihood of each element, constants in ``signal`` dropped."""

    @abstractmethod
    def score(self, g: torch.Tensor, signal: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """Return ``d nll / d g`` elementwise."""

    @abstractmethod
    def fisher(self, g: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor | float:
        """Return the expected Fisher information about ``g`` of each element (a float when constant)."""

    def score_and_curvature(self, g: torch.Tensor, signal: torch.Tensor, sigma: torch.Tensor | float
                            ) -> tuple[torch.Tensor, torch.Tensor | float]:
        """Return the score and a positive curvature of ``nll`` in ``g`` for Newton-type steps (by default
        the Fisher information; a float where it is constant)."""
        return self.score(g, signal, sigma), self.fisher(g, sigma)

    @abstractmethod
    def expected(self, g: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """Return the expected measurement ``E[S]`` elementwise."""


class Gaussian(NoiseModel):
    """Gaussian noise on magnitude images (``signed=False``, the paper's) or on real-valued images."""

    def __init__(self, signed: bool = False):
        self.signed = signed
        self.name = "gaussian-signed" if signed else "gaussian"

    def _model(self, g: torch.Tensor) -> torch.Tensor:
        return g if self.signed else g.abs()

    def nll(self, g: torch.Tensor, signal: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        r = signal - self._model(g)
        return r * r * (0.5 * _inv_var(sigma, r))

    def score(self, g: torch.Tensor, signal: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        # magnitude: d|g|/dg = sign(g), the subgradient 0 at g = 0 as autograd's
        misfit = g - signal if self.signed else g - signal * torch.sign(g)
        return misfit * _inv_var(sigma, g)

    def fisher(self, g: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor | float:
        inv_var = _inv_var(sigma, g)
        return inv_var if isinstance(inv_var, float) else torch.ones_like(g) * inv_var

    def expected(self, g: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        return self._model(g)


#: the Rician Fisher information is tabulated on a = |g| / sigma in [0, RICE_TABLE_MAX]; beyond, Gaussian
RICE_TABLE_MAX, RICE_TABLE_STEP = 40.0, 0.02


@lru_cache(maxsize=1)
def rice_fisher_table() -> np.ndarray:
    """Return ``phi(a) = E[u^2 R(u a)^2] - a^2`` on ``a = 0, 0.02, ..., 40``: sigma^2 times the Fisher
    information about ``|g|`` of one Rician measurement at SNR ``a`` (``u = S / sigma``, ``R = I1 / I0``).

    Computed once by quadrature of the Rice density on a fine grid of u; phi rises from 0 at a = 0
    (no information at zero signal) to 1, the Gaussian value, at high SNR.
    """
    a = np.arange(0.0, RICE_TABLE_MAX + RICE_TABLE_STEP / 2, RICE_TABLE_STEP)
    phi = np.empty_like(a)
    for rows in np.array_split(np.arange(len(a)), 4):  # bounds memory: 500 x 1001 per block
        a_b = a[rows, None]
        # the density is negligible beyond 10 SDs of a (and u >= 0)
        lo = np.maximum(a_b - 10.0, 0.0)
        u = lo + (a_b + 10.0 - lo) * np.linspace(0.0, 1.0, 1001)[None, :]
        au = a_b * u
        density = u * np.exp(-0.5 * (u - a_b) ** 2) * special.i0e(au)  # Rice(a, 1), stably
        weight = density * (u[:, 1:2] - u[:, 0:1])
        ratio = special.i1e(au) / special.i0e(au)
        phi[rows] = (weight * (u * ratio) ** 2).sum(axis=1) / weight.sum(axis=1) - a[rows] ** 2
    return np.clip(phi, 0.0, 1.0)


class Rician(NoiseModel):
    """Rician noise on magnitude images: ``p(S) = S / sigma^2 exp(-(S^2 + f^2) / 2 sigma^2) I0(S f / sigma^2)``, f = |g|.

    ``nll = (S - f)^2 / (2 sigma^2) - log(i0e(S f / sigma^2))``, which equals the exact
    ``-log p(S)`` up to terms free of f, written with the exponentially scaled Bessel function so it
    never overflows.
    """

    name = "rician"
    signed = False

    def nll(self, g: torch.Tensor, signal: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        f = g.abs()
        var = _sigma_view(sigma, f) ** 2
        return (signal - f) ** 2 / (2.0 * var) - torch.log(torch.special.i0e(signal * f / var))

    @staticmethod
    def _bessel_terms(g: torch.Tensor, signal: torch.Tensor, sigma: torch.Tensor | float
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``|g|``, sigma^2, ``z = S |g| / sigma^2`` (floored at 1e-6: ``R / z -> 1/2``) and ``R = I1(z) / I0(z)``."""
        f = g.abs()
        var = _sigma_view(sigma, f) ** 2
        z = (signal * f / var).clamp_min(1e-6)
        return f, var, z, torch.special.i1e(z) / torch.special.i0e(z)

    def score(self, g: torch.Tensor, signal: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        f, var, _, ratio = self._bessel_terms(g, signal, sigma)
        return torch.sign(g) * (f - signal * ratio) / var

    def fisher(self, g: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        s = _sigma_view(sigma, g)
        table = torch.as_tensor(rice_fisher_table(), dtype=g.dtype, device=g.device)
        pos = (g.abs() / s / RICE_TABLE_STEP).clamp(max=len(table) - 1)
        low = pos.floor().long().clamp(max=len(table) - 2)
        frac = pos - low
        return torch.lerp(table[low], table[low + 1], frac) / s**2

    def score_and_curvature(self, g: torch.Tensor, signal: torch.Tensor, sigma: torch.Tensor | float
                            ) -> tuple[torch.Tensor, torch.Tensor]:
        """The score and the observed ``d2 nll / d|g|^2 = (1 - u^2 R'(z)) / sigma^2`` (u = S / sigma,
        ``R' = 1 - R / z - R^2``), floored at a tenth of the Fisher information.

        Near the optimum the observed curvature makes the steps Newton's (Fisher scoring alone converges
        slowly where the noise floor bends the likelihood); it can be negative far from it, hence the floor.
        """
        f, var, z, ratio = self._bessel_terms(g, signal, sigma)
        score = torch.sign(g) * (f - signal * ratio) / var
        observed = (1 - signal * signal / var * (1 - ratio / z - ratio * ratio)) / var
        return score, torch.maximum(observed, 0.1 * self.fisher(g, sigma))

    def expected(self, g: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """The Rice mean ``sigma sqrt(pi/2) L_{1/2}(-a^2/2)``, a = |g| / sigma, through scaled Bessel functions."""
        s = _sigma_view(sigma, g)
        h = (g / s) ** 2 / 2  # a^2 / 2
        return s * math.sqrt(math.pi / 2) * ((1 + h) * torch.special.i0e(h / 2) + h * torch.special.i1e(h / 2))


NOISE_MODELS = ("gaussian", "rician")


def noise_model(noise: str, signed: bool) -> NoiseModel:
    """Return the noise model named ``noise`` ("gaussian" or "rician") for magnitude or signed images."""
    if noise == "gaussian":
        return Gaussian(signed)
    if noise == "rician":
        if signed:
            raise QmriError("Rician noise applies to magnitude images; signed images are Gaussian")
        return Rician()
    raise QmriError(f"unknown noise model {noise!r}: choose one of {', '.join(NOISE_MODELS)}")


class Likelihood:
    """``L(kappa) = sum_n nll(g_n(kappa), S_n)`` of a signal model under a noise model, with its gradient."""

    def __init__(self, model: SignalModel, noise: NoiseModel | None = None):
        self.model = model
        self.noise = noise or Gaussian()

    def nll(self, kappa: torch.Tensor, signal: torch.Tensor, tau_ms: torch.Tensor,
            sigma: torch.Tensor | float) -> torch.Tensor:
        """Return the per-voxel negative log-likelihood, shape ``(batch, *spatial)``."""
        return self.noise.nll(self.model.signed(kappa, tau_ms), signal, sigma).sum(dim=1)

    def gradient(self, kappa: torch.Tensor, signal: torch.Tensor, tau_ms: torch.Tensor,
                 sigma: torch.Tensor | float) -> torch.Tensor:
        """Return ``dL/dkappa = sum_n score_n dg_n/dkappa``, shape ``(batch, Q, *spatial)`` (closed form where the
        model has one: ``SignalModel.pullback``)."""
        return self.model.pullback(kappa, tau_ms, lambda g: self.noise.score(g, signal, sigma))

    def fisher_information(self, kappa: torch.Tensor, tau_ms: torch.Tensor, sigma: torch.Tensor | float
                           ) -> torch.Tensor:
        """Return the Fisher information matrix per voxel, ``(batch, *spatial, Q, Q)``."""
        g, dg = self.model.signed_and_jacobian(kappa, tau_ms)
        weight = self.noise.fisher(g, sigma)
        weighted = dg * (weight.unsqueeze(1) if torch.is_tensor(weight) else weight)
        return torch.einsum("bqn...,bpn...->b...qp", weighted, dg)
