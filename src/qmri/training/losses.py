"""The training losses: eq. 3 and 6 as ours and as the authors' code has them.

Ours is the mean squared error in network units over non-background pixels: background has no signal, so
its parameters cannot be learnt and are not asked for. The authors' is over every pixel in A / s, B and T in
seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from qmri.estimators.networks import scaling
from qmri.estimators.networks.form import NetworkForm
from qmri.physics.signal import SignalModel


def masked_mse(outputs: list[torch.Tensor], target: torch.Tensor, mask: torch.Tensor,
               weights: torch.Tensor | None = None) -> torch.Tensor:
    """Return eq. 6 (eq. 3 for one output): mean over outputs of the MSE over masked pixels and channels.

    ``weights`` (batch, Q, H, W) weigh each squared error (our RIM's ``identifiability_weights``); the
    paper's networks have none.
    """
    keep = mask.unsqueeze(1)  # shape (batch, 1, H, W)
    total = keep.sum().clamp_min(1) * target.shape[1]
    zero = target.new_zeros(())
    scale = 1.0 if weights is None else weights
    return sum(torch.where(keep, scale * (o.float() - target) ** 2, zero).sum() / total for o in outputs) / len(outputs)


def physical_mse(outputs: list[torch.Tensor], target: torch.Tensor, mask: torch.Tensor,
                 weights: torch.Tensor | None = None, *, model: SignalModel) -> torch.Tensor:
    """Return the authors' loss: mean over outputs of the MSE over every pixel and channel in A / s, B and T in
    seconds (estimates and target given in network units; ``mask`` and ``weights`` are not read)."""
    goal = scaling.convert(target, model, "network", "physical")
    return sum(((scaling.convert(o.float(), model, "network", "physical") - goal) ** 2).mean()
               for o in outputs) / len(outputs)


def loss_function(form: NetworkForm, model: SignalModel) -> Callable:
    """Return the training loss ``(outputs, target, mask, weights) -> loss`` of ``form``: ``masked_mse`` (ours) or
    ``physical_mse`` (the authors')."""
    return masked_mse if form.loss == "network" else partial(physical_mse, model=model)
