"""Mini-batches of training: the paper's patches for one protocol, and our RIM's (a protocol and maps drawn per
batch, ``qmri.simulation.anyprotocol``)."""

from __future__ import annotations

import os

import numpy as np
import torch

from qmri.data.io import load_arrays
from qmri.estimators.networks import scaling
from qmri.physics.signal import SignalModel
from qmri.simulation.anyprotocol import (
    AnyProtocolSettings,
    draw_maps,
    draw_protocol,
    identifiability_weights,
    measurable,
)
from qmri.simulation.simulate import synthesise, task_kappa


def load_trainsets(paths: list[str | os.PathLike]) -> dict[str, np.ndarray]:
    """Return the concatenated ``kappa``, ``sigma`` and ``labels`` of several training-set archives."""
    parts = [load_arrays(p) for p in paths]
    return {key: np.concatenate([p[key] for p in parts]) for key in ("kappa", "sigma", "labels")}


class Batches:
    """Mini-batches ``(signal_net, target_net, mask, tau_ms)`` of the paper's patches for one protocol,
    reproducible from two generator states."""

    def __init__(self, trainset: dict[str, np.ndarray] | None, model: SignalModel, tau: torch.Tensor | None,
                 batch_size: int, seed: int, device: torch.device, normalisation: str = "percentile"):
        self.normalisation = normalisation
        self.patches = None if trainset is None else (task_kappa(torch.from_numpy(trainset["kappa"]), model),
                                                      torch.from_numpy(trainset["sigma"]),
                                                      torch.from_numpy(trainset["labels"] > 0))
        self.model, self.tau, self.batch_size, self.device = model, tau, batch_size, device
        self.rng = np.random.default_rng(seed)
        self.noise = torch.Generator().manual_seed(seed)

    def draw(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(kappa, sigma, mask, tau)`` of one batch before synthesis (CPU, physical units)."""
        return self.patch_batch(self.tau)

    def patch_batch(self, tau: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(kappa, sigma, mask, tau)`` of patches of the training set drawn for the protocol ``tau``."""
        pick = torch.from_numpy(self.rng.integers(0, len(self.patches[1]), self.batch_size))
        return (*(x[pick] for x in self.patches), tau.cpu())

    def next(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Return ``(signal_net, target_net, mask, tau_ms, loss weights or None)`` for one mini-batch."""
        kappa, sigma, mask, tau = self.draw()
        signal = synthesise(kappa, sigma, tau, self.model, self.noise)
        s = scaling.intensity_scale(signal, self.normalisation)
        target = scaling.to_network(kappa, self.model, s)
        weights = self.weights(kappa, sigma, tau, s)
        return tuple(None if x is None else x.to(self.device) for x in (signal / s, target, mask, tau, weights))

    def weights(self, kappa: torch.Tensor, sigma: torch.Tensor, tau: torch.Tensor, s: torch.Tensor
                ) -> torch.Tensor | None:
        """Return the loss weights of a batch: none for the paper's networks (eq. 3 and 6)."""
        return None

    def state(self) -> dict:
        return {"numpy": self.rng.bit_generator.state, "torch": self.noise.get_state()}

    def restore(self, state: dict) -> None:
        self.rng.bit_generator.state = state["numpy"]
        self.noise.set_state(state["torch"])


class AnyProtocolBatches(Batches):
    """Our RIM's batches (``qmri.simulation.anyprotocol``): a protocol drawn per batch; brain patches of ``trainset``
    with probability ``brain_share``, else structure-agnostic maps with an SNR of their own."""

    def __init__(self, trainset: dict[str, np.ndarray] | None, model: SignalModel, batch_size: int,
                 settings: AnyProtocolSettings, seed: int, device: torch.device):
        super().__init__(trainset, model, None, batch_size, seed, device)
        self.settings = settings

    def draw(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        tau = torch.from_numpy(draw_protocol(self.model.task, self.settings, self.rng)).float()
        if self.patches is not None and self.rng.random() < self.settings.brain_share:
            return self.patch_batch(tau)
        kappa, mask, sigma = draw_maps(self.model, self.batch_size, self.settings, self.noise)
        return kappa, sigma, measurable(self.model, kappa, tau, sigma, mask), tau

    def weights(self, kappa: torch.Tensor, sigma: torch.Tensor, tau: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return identifiability_weights(self.model, kappa, tau, torch.as_tensor(sigma).expand(len(kappa)), s)
