"""The ResNet baseline of section 4.4.3: 1 x 1 conv N -> 40, BN, ReLU, 12 residual blocks, 1 x 1 conv -> Q.

Choice: the paper lists 11 block widths, [40, 40, 80, 80, 160, 320, 160, 80, 80, 40, 6], for G = 12
blocks; we repeat the stem's width once at the start. Where the width changes, the skip connection
is a 1 x 1 convolution and BatchNorm (He et al. 2016's projection shortcut). No pooling; zero padding.
Other widths (config ``training.resnet.resnet_widths``) keep the structure: the stem has the first width.
The authors' code normalises with the statistics of the batch being mapped, also at inference, and outputs
A / s, B and T in seconds (``qmri.estimators.networks.form``: ``batchnorm``, ``units``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from qmri.estimators.networks import scaling
from qmri.estimators.networks.form import OURS, NetworkForm
from qmri.physics.signal import SignalModel

#: the paper's block widths (with the choice above)
BLOCK_WIDTHS = (40, 40, 40, 80, 80, 160, 320, 160, 80, 80, 40, 6)


def batch_norm(channels: int, batchnorm: str = "running") -> nn.BatchNorm2d:
    """Return a BatchNorm that infers with the running statistics of training ("running") or with those of the
    batch it maps ("batch": ``track_running_stats=False``, the authors')."""
    return nn.BatchNorm2d(channels, track_running_stats=batchnorm == "running")


class ResidualBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the (projected) input, then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, batchnorm: str = "running"):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), batch_norm(out_channels, batchnorm),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), batch_norm(out_channels, batchnorm))
        self.skip = (nn.Identity() if in_channels == out_channels else
                     nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                   batch_norm(out_channels, batchnorm)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class ResNet(nn.Module):
    """Maps N normalised weighted images to Q parameter maps in network units.

    ``form`` (``NetworkForm``): its ``batchnorm``, and its ``units``: in physical units the head's output is read
    as ``|A / s|``, ``|B|``, ``|T|`` in seconds (``model`` says which channel is which) and returned converted.
    """

    def __init__(self, n_images: int, n_params: int, widths: tuple[int, ...] = BLOCK_WIDTHS,
                 form: NetworkForm = OURS, model: SignalModel | None = None):
        super().__init__()
        if not widths or min(widths) < 1:
            raise ValueError(f"ResNet widths must be positive, got {widths}")
        if form.units == "physical" and model is None:
            raise ValueError("a ResNet estimating in physical units needs its signal model")
        self.n_images, self.form, self.model = n_images, form, model
        self.stem = nn.Sequential(nn.Conv2d(n_images, widths[0], 1, bias=False), batch_norm(widths[0], form.batchnorm),
                                  nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(*(ResidualBlock(a, b, form.batchnorm)
                                      for a, b in zip((widths[0], *widths[:-1]), widths)))
        self.head = nn.Conv2d(widths[-1], n_params, 1)

    def forward(self, signal_net: torch.Tensor) -> torch.Tensor:
        if signal_net.shape[1] != self.n_images:
            raise ValueError(f"this ResNet takes {self.n_images} images, got {signal_net.shape[1]}")
        out = self.head(self.blocks(self.stem(signal_net)))
        return out if self.form.units == "network" else scaling.convert(out.abs(), self.model, "physical", "network")


def resampling_matrix(tau_from: list[float], tau_to: list[float]) -> torch.Tensor:
    """Return ``P`` (len(tau_from), len(tau_to)) with ``x(tau_from) ~ P x(tau_to)`` for images sampled at ``tau_to``.

    Linear interpolation in tau between the two neighbouring samples; outside ``tau_to``'s range the nearest
    end sample (no extrapolation, which would amplify noise). Each row sums to one.
    """
    order = np.argsort(tau_to)
    known = np.asarray(tau_to, dtype=np.float64)[order]
    wanted = np.asarray(tau_from, dtype=np.float64)
    rows = np.arange(len(wanted))
    upper = np.clip(np.searchsorted(known, wanted), 1, len(known) - 1)
    lower = upper - 1
    span = np.where(known[upper] > known[lower], known[upper] - known[lower], 1.0)
    share = np.clip((wanted - known[lower]) / span, 0.0, 1.0)
    matrix = np.zeros((len(wanted), len(known)))
    np.add.at(matrix, (rows, order[lower]), 1.0 - share)
    np.add.at(matrix, (rows, order[upper]), share)
    return torch.from_numpy(matrix)


def resampled_stem(weight: torch.Tensor, tau_from: list[float], tau_to: list[float]) -> torch.Tensor:
    """Return the stem weights ``(width, len(tau_to), 1, 1)`` that read images at ``tau_to`` as ``weight`` read
    them at ``tau_from``: ``W P`` with ``P = resampling_matrix(tau_from, tau_to)`` (fine-tuning to a protocol)."""
    matrix = resampling_matrix(tau_from, tau_to).to(weight)
    return (weight.flatten(1) @ matrix)[:, :, None, None]
