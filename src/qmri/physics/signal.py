"""Relaxometry signal models (section 4.1 of Sabidussi et al. 2021).

Every model maps parameter maps ``kappa`` of shape ``(batch, Q, *spatial)`` and
preparation/inversion times ``tau_ms`` of shape ``(N,)`` to magnitude images of
shape ``(batch, N, *spatial)``. Times are in milliseconds throughout.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from qmri.errors import QmriError

#: a function of the signal before the modulus ``g``, elementwise (a noise model's score)
Score = Callable[[torch.Tensor], torch.Tensor]


def _tau_view(tau_ms: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
    """Return tau reshaped to ``(1, N, 1, ...)`` so it broadcasts against one kappa channel."""
    tau = torch.as_tensor(tau_ms, dtype=kappa.dtype, device=kappa.device)
    return tau.reshape(1, -1, *([1] * (kappa.ndim - 2)))


@dataclass(frozen=True)
class Parameter:
    """One tissue parameter of a signal model: what every estimator and output needs to know about it.

    ``kind`` is "amplitude" (linear in the signal; solved in closed form by the MLE's start, scaled by
    the image for the networks), "efficiency" (the inversion factor B) or "time" (a relaxation time:
    log-spaced start grid, log units in the networks).
    """

    name: str
    #: internal unit (times in ms)
    unit: str
    kind: str
    #: box constraint of the fits, internal units (A relative to the normalised data)
    bounds: tuple[float, float]
    #: the section 4.4.4 initial value; NaN where it comes from the data (A = maximum intensity projection)
    initial: float
    #: the MLE's start grid (low, high, count); None for the amplitude, which is solved in closed form
    grid: tuple[float, float, int] | None
    #: BIDS qMRI map suffix, the factor from internal to BIDS units, and the BIDS unit
    bids_suffix: str
    bids_factor: float
    bids_unit: str

    def grid_values(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Return the start grid's values: log-spaced for a time, linear otherwise (``grid`` must be set)."""
        lo, hi, count = self.grid
        if self.kind == "time":
            return torch.logspace(math.log10(lo), math.log10(hi), count, dtype=dtype)
        return torch.linspace(lo, hi, count, dtype=dtype)


AMPLITUDE = Parameter("A", "a.u.", "amplitude", (0.0, 100.0), float("nan"), None, "M0map", 1.0, "arbitrary")
INVERSION = Parameter("B", "1", "efficiency", (0.2, 3.0), 2.0, (1.0, 2.2, 13), "Bmap", 1.0, "1")
T1 = Parameter("T1", "ms", "time", (1.0, 2.0e4), 1000.0, (30.0, 6000.0, 64), "T1map", 1e-3, "s")
T2 = Parameter("T2", "ms", "time", (0.5, 1.0e4), 100.0, (3.0, 3000.0, 96), "T2map", 1e-3, "s")


class SignalModel(ABC):
    """A parametric magnitude signal model ``f_n(kappa) = |g_n(kappa)|``."""

    task: str
    #: the parameters, in the channel order of kappa
    parameters: tuple[Parameter, ...]
    #: the signal before the modulus, as written in output sidecars
    equation: str

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def units(self) -> tuple[str, ...]:
        return tuple(p.unit for p in self.parameters)

    @property
    def n_params(self) -> int:
        """Number of tissue parameters Q."""
        return len(self.parameters)

    @property
    def measured(self) -> Parameter:
        """The relaxation time the model maps (its last parameter): the fit and its outputs are named after it."""
        return self.parameters[-1]

    def index(self, name: str) -> int:
        """Return the channel index of parameter ``name``."""
        return self.param_names.index(name)

    @abstractmethod
    def signed(self, kappa: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        """Return the signal before the modulus, ``g``, shape ``(batch, N, *spatial)``."""

    @abstractmethod
    def signed_and_jacobian(self, kappa: torch.Tensor, tau_ms: torch.Tensor
                            ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``g`` and ``dg/dkappa``, shapes ``(batch, N, *spatial)`` and ``(batch, Q, N, *spatial)``.

        The Jacobian keeps the N images contiguous per parameter, the layout that makes
        ``J^T J`` and ``J^T r`` fast.
        """

    def forward(self, kappa: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        """Return the noise-free magnitude images ``|g|``, shape ``(batch, N, *spatial)``."""
        return self.signed(kappa, tau_ms).abs()

    def forward_and_jacobian(self, kappa: torch.Tensor, tau_ms: torch.Tensor
                             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``|g|`` and ``df/dkappa = sign(g) dg/dkappa``, shapes ``(batch, N, *spatial)``, ``(batch, Q, N, *spatial)``.

        At ``g = 0`` the modulus has no derivative; we use the subgradient 0, which is
        what autograd returns for ``abs`` as well.
        """
        g, dg = self.signed_and_jacobian(kappa, tau_ms)
        return g.abs(), torch.sign(g).unsqueeze(1) * dg

    def jacobian(self, kappa: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        """Return ``df/dkappa``, shape ``(batch, Q, N, *spatial)`` (see ``forward_and_jacobian``)."""
        return self.forward_and_jacobian(kappa, tau_ms)[1]

    def pullback(self, kappa: torch.Tensor, tau_ms: torch.Tensor, score: Score) -> torch.Tensor:
        """Return ``sum_n w_n dg_n/dkappa`` with ``w = score(g)``, shape ``(batch, Q, *spatial)``.

        With ``score`` a noise model's ``d nll / dg`` this is the likelihood gradient
        (``qmri.physics.likelihood.Likelihood.gradient``). The generic version builds the Jacobian;
        models override it with a closed form that never holds the ``(batch, Q, N, *spatial)`` array
        (the RIM calls it J times per inference, on every pixel).
        """
        g, jac = self.signed_and_jacobian(kappa, tau_ms)
        return (jac * score(g).unsqueeze(1)).sum(dim=2)

    def initial_guess(self, signal: torch.Tensor) -> torch.Tensor:
        """Return the section 4.4.4 start: A = maximum intensity projection, fixed values otherwise.

        ``signal`` has shape ``(batch, N, *spatial)``; the result ``(batch, Q, *spatial)``.
        """
        mip = signal.amax(dim=1)
        channels = [mip if p.kind == "amplitude" else torch.full_like(mip, p.initial) for p in self.parameters]
        return torch.stack(channels, dim=1)


class InversionRecovery(SignalModel):
    """Look-Locker / inversion recovery T1 model ``|A (1 - B exp(-tau/T1))|``, kappa = (A, B, T1)."""

    task = "t1"
    parameters = (AMPLITUDE, INVERSION, T1)
    equation = "A (1 - B exp(-TI/T1))"

    def signed(self, kappa: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        a, b, t1 = kappa[:, 0:1], kappa[:, 1:2], kappa[:, 2:3]  # shape (batch, 1, *spatial)
        decay = torch.exp(_tau_view(tau_ms, kappa) * (-1.0 / t1))  # shape (batch, N, *spatial)
        return a * (1.0 - b * decay)

    def signed_and_jacobian(self, kappa: torch.Tensor, tau_ms: torch.Tensor
                            ) -> tuple[torch.Tensor, torch.Tensor]:
        a, b, t1 = kappa[:, 0:1], kappa[:, 1:2], kappa[:, 2:3]  # shape (batch, 1, *spatial)
        tau = _tau_view(tau_ms, kappa)
        decay = torch.exp(tau * (-1.0 / t1))  # shape (batch, N, *spatial)
        jac = decay.new_empty((decay.shape[0], 3, *decay.shape[1:]))  # shape (batch, 3, N, *spatial)
        torch.addcmul(torch.ones_like(decay), decay, b, value=-1.0, out=jac[:, 0])  # 1 - B e
        torch.mul(decay, -a, out=jac[:, 1])  # -A e
        torch.mul(jac[:, 1], tau * (b / t1**2), out=jac[:, 2])  # -A B e tau / T1^2
        return jac[:, 0] * a, jac

    def pullback(self, kappa: torch.Tensor, tau_ms: torch.Tensor, score: Score) -> torch.Tensor:
        """Closed form: with ``w = score(g)`` and ``e = exp(-tau/T1)``,
        ``(sum w - B sum w e, -A sum w e, -A B sum w e tau / T1^2)``."""
        a, b, t1 = kappa[:, 0:1], kappa[:, 1:2], kappa[:, 2:3]  # shape (batch, 1, *spatial)
        tau = _tau_view(tau_ms, kappa)
        decay = torch.exp(tau * (-1.0 / t1))  # shape (batch, N, *spatial)
        w = score(a - a * b * decay)
        we = w * decay
        sum_w, sum_we = w.sum(dim=1, keepdim=True), we.sum(dim=1, keepdim=True)
        sum_wet = (we * tau).sum(dim=1, keepdim=True)  # shape (batch, 1, *spatial)
        return torch.cat([sum_w - b * sum_we, -a * sum_we, -a * b * sum_wet / t1**2], dim=1)


class InversionRecoveryTR(InversionRecovery):
    """Inversion recovery with each image's repetition time, ``|A (1 - B e^(-TI/T1) + (B - 1) e^(-TR/T1))|``.

    ``B - 1`` is the inversion efficiency (1 for a perfect inversion) and the magnetisation is taken
    as saturated by each readout, so it recovers for TR before the next inversion. Protocols that
    lengthen TR with TI (many vendors' inversion-recovery series) need it: the paper's model folds
    the TR term into A and B, which is only possible when TR is the same for every image. With a
    constant TR the two models describe the same curves (``A' = A (1 + (B - 1) e^(-TR/T1))``,
    ``B' = B A / A'``), so T1 is the same. Parameters, units and start are the paper model's.
    """

    equation = "A (1 - B exp(-TI/T1) + (B - 1) exp(-TR/T1))"

    def __init__(self, tr_ms: torch.Tensor | list[float]):
        self.tr_ms = torch.as_tensor(tr_ms, dtype=torch.float64)

    # the paper model's closed form does not hold here: use the generic one
    pullback = SignalModel.pullback

    def signed(self, kappa: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        a, b, t1 = kappa[:, 0:1], kappa[:, 1:2], kappa[:, 2:3]  # shape (batch, 1, *spatial)
        e_ti = torch.exp(_tau_view(tau_ms, kappa) * (-1.0 / t1))  # shape (batch, N, *spatial)
        e_tr = torch.exp(_tau_view(self.tr_ms, kappa) * (-1.0 / t1))
        return a * (1.0 - b * e_ti + (b - 1.0) * e_tr)

    def signed_and_jacobian(self, kappa: torch.Tensor, tau_ms: torch.Tensor
                            ) -> tuple[torch.Tensor, torch.Tensor]:
        a, b, t1 = kappa[:, 0:1], kappa[:, 1:2], kappa[:, 2:3]  # shape (batch, 1, *spatial)
        ti, tr = _tau_view(tau_ms, kappa), _tau_view(self.tr_ms, kappa)
        e_ti, e_tr = torch.exp(ti * (-1.0 / t1)), torch.exp(tr * (-1.0 / t1))  # shape (batch, N, *spatial)
        shape = 1.0 - b * e_ti + (b - 1.0) * e_tr
        jac = torch.stack([shape, a * (e_tr - e_ti), a * ((b - 1.0) * e_tr * tr - b * e_ti * ti) / t1**2], dim=1)
        return a * shape, jac  # shapes (batch, N, *spatial), (batch, 3, N, *spatial)


class T2Decay(SignalModel):
    """T2-prepared mono-exponential decay ``|A exp(-tau/T2)|``, kappa = (A, T2)."""

    task = "t2"
    parameters = (AMPLITUDE, T2)
    equation = "A exp(-TE/T2)"

    def signed(self, kappa: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        a, t2 = kappa[:, 0:1], kappa[:, 1:2]
        return a * torch.exp(_tau_view(tau_ms, kappa) * (-1.0 / t2))

    def signed_and_jacobian(self, kappa: torch.Tensor, tau_ms: torch.Tensor
                            ) -> tuple[torch.Tensor, torch.Tensor]:
        a, t2 = kappa[:, 0:1], kappa[:, 1:2]  # shape (batch, 1, *spatial)
        tau = _tau_view(tau_ms, kappa)
        decay = torch.exp(tau * (-1.0 / t2))  # shape (batch, N, *spatial)
        g = a * decay
        return g, torch.stack([decay, g * tau / t2**2], dim=1)  # shapes (batch, N, ...), (batch, 2, N, ...)

    def pullback(self, kappa: torch.Tensor, tau_ms: torch.Tensor, score: Score) -> torch.Tensor:
        """Closed form: ``(sum w e, A sum w e tau / T2^2)`` with ``w = score(g)``, ``e = exp(-tau/T2)``."""
        a, t2 = kappa[:, 0:1], kappa[:, 1:2]  # shape (batch, 1, *spatial)
        tau = _tau_view(tau_ms, kappa)
        decay = torch.exp(tau * (-1.0 / t2))  # shape (batch, N, *spatial)
        we = score(a * decay) * decay
        sum_we, sum_wet = we.sum(dim=1, keepdim=True), (we * tau).sum(dim=1, keepdim=True)
        return torch.cat([sum_we, a * sum_wet / t2**2], dim=1)


MODELS: dict[str, type[SignalModel]] = {"t1": InversionRecovery, "t2": T2Decay}


def varies(tr_ms: np.ndarray | list[float] | None) -> bool:
    """Return whether repetition times differ by more than 0.1 % across a series (None: not known)."""
    if tr_ms is None:
        return False
    tr = np.asarray(tr_ms, dtype=float)
    return bool(np.ptp(tr) > 1e-3 * np.abs(tr).max())


def model_for_task(task: str, tr_ms: np.ndarray | list[float] | None = None) -> SignalModel:
    """Return the signal model of a mapping task (``"t1"`` or ``"t2"``).

    For T1 with repetition times ``tr_ms`` (one per image) that vary, the TR-aware
    ``InversionRecoveryTR``; otherwise the paper's model (a constant TR is absorbed by A and B).
    """
    if task not in MODELS:
        raise QmriError(f"unknown task {task!r}: choose one of {sorted(MODELS)}")
    if task == "t1" and varies(tr_ms):
        return InversionRecoveryTR(np.asarray(tr_ms, dtype=float))
    return MODELS[task]()
