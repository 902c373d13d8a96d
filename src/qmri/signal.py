"""Relaxometry signal models (section 4.1 of Sabidussi et al. 2021).

Every model maps parameter maps ``kappa`` of shape ``(batch, Q, *spatial)`` and
preparation/inversion times ``tau_ms`` of shape ``(N,)`` to magnitude images of
shape ``(batch, N, *spatial)``. Times are in milliseconds throughout.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch


def _tau_view(tau_ms: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
    """Return tau reshaped to ``(1, N, 1, ...)`` so it broadcasts against one kappa channel."""
    tau = torch.as_tensor(tau_ms, dtype=kappa.dtype, device=kappa.device)
    return tau.reshape(1, -1, *([1] * (kappa.ndim - 2)))


class SignalModel(ABC):
    """A parametric magnitude signal model ``f_n(kappa) = |g_n(kappa)|``."""

    task: str
    param_names: tuple[str, ...]
    units: tuple[str, ...]
    #: values of the section 4.4.4 initialisation, NaN where it comes from the data (A = MIP)
    init_values: tuple[float, ...]

    @property
    def n_params(self) -> int:
        """Number of tissue parameters Q."""
        return len(self.param_names)

    def index(self, name: str) -> int:
        """Return the channel index of parameter ``name``."""
        return self.param_names.index(name)

    @abstractmethod
    def signed(self, kappa: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        """Return the signal before the modulus, ``g``, shape ``(batch, N, *spatial)``."""

    @abstractmethod
    def signed_jacobian(self, kappa: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        """Return ``dg/dkappa``, shape ``(batch, N, Q, *spatial)``."""

    def forward(self, kappa: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        """Return the noise-free magnitude images ``|g|``, shape ``(batch, N, *spatial)``."""
        return self.signed(kappa, tau_ms).abs()

    def jacobian(self, kappa: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        """Return ``df/dkappa = sign(g) dg/dkappa``, shape ``(batch, N, Q, *spatial)``.

        At ``g = 0`` the modulus has no derivative; we use the subgradient 0, which is
        what autograd returns for ``abs`` as well.
        """
        sign = torch.sign(self.signed(kappa, tau_ms)).unsqueeze(2)
        return sign * self.signed_jacobian(kappa, tau_ms)

    def initial_guess(self, signal: torch.Tensor) -> torch.Tensor:
        """Return the section 4.4.4 start: A = maximum intensity projection, fixed values otherwise.

        ``signal`` has shape ``(batch, N, *spatial)``; the result ``(batch, Q, *spatial)``.
        """
        mip = signal.amax(dim=1)
        channels = [mip if name == "A" else torch.full_like(mip, value)
                    for name, value in zip(self.param_names, self.init_values)]
        return torch.stack(channels, dim=1)


class InversionRecovery(SignalModel):
    """Look-Locker / inversion recovery T1 model ``|A (1 - B exp(-tau/T1))|``, kappa = (A, B, T1)."""

    task = "t1"
    param_names = ("A", "B", "T1")
    units = ("a.u.", "1", "ms")
    init_values = (float("nan"), 2.0, 1000.0)

    def signed(self, kappa: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        a, b, t1 = kappa[:, 0:1], kappa[:, 1:2], kappa[:, 2:3]  # shape (batch, 1, *spatial)
        decay = torch.exp(-_tau_view(tau_ms, kappa) / t1)  # shape (batch, N, *spatial)
        return a * (1.0 - b * decay)

    def signed_jacobian(self, kappa: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        a, b, t1 = kappa[:, 0:1], kappa[:, 1:2], kappa[:, 2:3]
        tau = _tau_view(tau_ms, kappa)
        decay = torch.exp(-tau / t1)
        d_a = 1.0 - b * decay
        d_b = -a * decay
        d_t1 = -a * b * decay * tau / t1**2
        return torch.stack([d_a, d_b, d_t1], dim=2)  # shape (batch, N, 3, *spatial)


class T2Decay(SignalModel):
    """T2-prepared mono-exponential decay ``|A exp(-tau/T2)|``, kappa = (A, T2)."""

    task = "t2"
    param_names = ("A", "T2")
    units = ("a.u.", "ms")
    init_values = (float("nan"), 100.0)

    def signed(self, kappa: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        a, t2 = kappa[:, 0:1], kappa[:, 1:2]
        return a * torch.exp(-_tau_view(tau_ms, kappa) / t2)

    def signed_jacobian(self, kappa: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        a, t2 = kappa[:, 0:1], kappa[:, 1:2]
        tau = _tau_view(tau_ms, kappa)
        decay = torch.exp(-tau / t2)
        return torch.stack([decay, a * decay * tau / t2**2], dim=2)  # shape (batch, N, 2, *spatial)


MODELS: dict[str, type[SignalModel]] = {"t1": InversionRecovery, "t2": T2Decay}


def model_for_task(task: str) -> SignalModel:
    """Return the signal model of a mapping task (``"t1"`` or ``"t2"``)."""
    from qmri.errors import QmriError

    try:
        return MODELS[task]()
    except KeyError:
        raise QmriError(f"unknown task {task!r}: choose one of {sorted(MODELS)}") from None
