"""Recurrent Inference Machine for relaxometry (section 3 and 4.4.4 of the paper).

``kappa_{j+1} = kappa_j + g(kappa_j, grad_j, h_j)`` for J steps (eq. 4, 5); g is the RNNCell of
Fig. 1a: 3x3 conv to 36 + tanh, GRU 36, two 3x3 convs 36 + tanh, GRU 36, 1x1 conv to Q, zero
padding. The cell's input has 2Q channels (estimate and gradient), never N: any number of
weighted images works.

Choices: the GRUs are convolutional GRUs with 1 x 1 kernels (per-pixel memory); spatial context
comes from the three 3 x 3 convolutions, whose receptive field grows by 6 pixels per step. The
likelihood gradient is an input computed analytically and not differentiated through in training
(back-propagation runs through the estimates and memory states only), which keeps a training step
cheap; its scaling is described in ``qmri.estimators.networks.scaling``.
"""

from __future__ import annotations

import torch
from torch import nn

from qmri.estimators.networks import scaling
from qmri.physics.likelihood import Gaussian, Likelihood
from qmri.physics.signal import SignalModel


class ConvGRU(nn.Module):
    """A GRU applied at every pixel (1 x 1 convolutions), input and hidden ``(batch, C, H, W)``."""

    def __init__(self, in_channels: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(in_channels + hidden, 2 * hidden, 1)  # reset and update gates
        self.candidate_x = nn.Conv2d(in_channels, hidden, 1)
        self.candidate_h = nn.Conv2d(hidden, hidden, 1, bias=False)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        reset, update = torch.sigmoid(self.gates(torch.cat([x, h], dim=1))).chunk(2, dim=1)
        candidate = torch.tanh(self.candidate_x(x) + self.candidate_h(reset * h))
        return candidate + update * (h - candidate)  # update * h + (1 - update) * candidate


class RNNCell(nn.Module):
    """The RIM's recurrent cell: ``(kappa, grad, h1, h2) -> (delta, h1, h2)``."""

    def __init__(self, n_params: int, features: int = 36):
        super().__init__()
        self.conv_in = nn.Conv2d(2 * n_params, features, 3, padding=1)
        self.gru1 = ConvGRU(features, features)
        self.conv_mid = nn.Sequential(nn.Conv2d(features, features, 3, padding=1), nn.Tanh(),
                                      nn.Conv2d(features, features, 3, padding=1), nn.Tanh())
        self.gru2 = ConvGRU(features, features)
        self.conv_out = nn.Conv2d(features, n_params, 1)

    def forward(self, kappa: torch.Tensor, grad: torch.Tensor, h1: torch.Tensor, h2: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = torch.tanh(self.conv_in(torch.cat([kappa, grad], dim=1)))  # shape (batch, 36, H, W)
        h1 = self.gru1(x, h1)
        h2 = self.gru2(self.conv_mid(h1), h2)
        return self.conv_out(h2), h1, h2


class RIM(nn.Module):
    """Recurrent Inference Machine for one signal model; works in network units (``scaling``)."""

    def __init__(self, model: SignalModel, steps: int = 6, features: int = 36):
        super().__init__()
        if steps < 1 or features < 1:
            raise ValueError(f"steps and features must be positive, got {steps}, {features}")
        self.model, self.steps, self.features = model, steps, features
        self.cell = RNNCell(model.n_params, features)
        #: the paper's Gaussian likelihood on magnitudes; at sigma = 1 its gradient is ``J^T (f - S)``
        self.likelihood = Likelihood(model, Gaussian())
        bounds = torch.tensor([p.bounds for p in model.parameters])  # shape (Q, 2)
        self.register_buffer("lower", bounds[:, 0].view(1, -1, 1, 1), persistent=False)
        self.register_buffer("upper", bounds[:, 1].view(1, -1, 1, 1), persistent=False)

    def gradient(self, kappa_net: torch.Tensor, signal_net: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        """Return the scaled likelihood gradient (see ``scaling``) at ``kappa_net``, ``(batch, Q, H, W)``.

        The estimate is first clamped to the physical box of the parameters' ``bounds``: an early, untrained
        update can leave it, and the signal model must stay finite.
        """
        ones = torch.ones_like(signal_net[:, :1, :1, :1])  # images are already divided by s
        kappa = scaling.from_network(kappa_net, self.model, ones)
        kappa = torch.clamp(kappa, self.lower.to(kappa), self.upper.to(kappa))
        grad = self.likelihood.gradient(kappa, signal_net, tau_ms, 1.0) / signal_net.shape[1]
        return grad * scaling.physical_per_network(kappa, self.model)

    def forward(self, signal_net: torch.Tensor, tau_ms: torch.Tensor) -> list[torch.Tensor]:
        """Return the J estimates ``[kappa_1 ... kappa_J]`` in network units for normalised images.

        The estimates and the likelihood gradient stay in the images' dtype; the cell runs in the
        dtype of its weights (``rim.cell.bfloat16()`` gives a fast inference cell on CPUs and GPUs
        with bfloat16 units, with no per-step casts of weights or memory states).
        """
        signal_net = signal_net.contiguous()  # the gradient reduces over N: keep each image contiguous
        kappa = scaling.to_network(self.model.initial_guess(signal_net), self.model,
                                   torch.ones_like(signal_net[:, :1, :1, :1]))
        cell_dtype = self.cell.conv_out.weight.dtype
        b, _, h, w = signal_net.shape
        h1 = torch.zeros((b, self.features, h, w), dtype=cell_dtype, device=signal_net.device
                         ).to(memory_format=torch.channels_last)  # shape (batch, 36, H, W)
        h2 = torch.zeros_like(h1)
        estimates = []
        for _ in range(self.steps):
            # physics in the images' precision, outside any autocast region and the autograd graph
            with torch.no_grad(), torch.autocast(signal_net.device.type, enabled=False):
                grad = self.gradient(kappa.detach(), signal_net, tau_ms)  # shape (batch, Q, H, W)
            delta, h1, h2 = self.cell(kappa.to(cell_dtype), grad.to(cell_dtype), h1, h2)
            kappa = kappa + delta.to(kappa.dtype)
            estimates.append(kappa)
        return estimates
