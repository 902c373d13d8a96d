"""The ResNet baseline of section 4.4.3: 1 x 1 conv N -> 40, BN, ReLU, 12 residual blocks, 1 x 1 conv -> Q.

Choice: the paper lists 11 block widths, [40, 40, 80, 80, 160, 320, 160, 80, 80, 40, 6], for G = 12
blocks; we repeat the stem's width once at the start. Where the width changes, the skip connection
is a 1 x 1 convolution and BatchNorm (He et al. 2016's projection shortcut). No pooling; zero padding.
Other widths (config ``training.resnet.resnet_widths``) keep the structure: the stem has the first width.
"""

from __future__ import annotations

import torch
from torch import nn

#: the paper's block widths (with the choice above)
BLOCK_WIDTHS = (40, 40, 40, 80, 80, 160, 320, 160, 80, 80, 40, 6)


class ResidualBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the (projected) input, then ReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels))
        self.skip = (nn.Identity() if in_channels == out_channels else
                     nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class ResNet(nn.Module):
    """Maps N normalised weighted images to Q parameter maps in network units."""

    def __init__(self, n_images: int, n_params: int, widths: tuple[int, ...] = BLOCK_WIDTHS):
        super().__init__()
        if not widths or min(widths) < 1:
            raise ValueError(f"ResNet widths must be positive, got {widths}")
        self.n_images = n_images
        self.stem = nn.Sequential(nn.Conv2d(n_images, widths[0], 1, bias=False), nn.BatchNorm2d(widths[0]),
                                  nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(*(ResidualBlock(a, b) for a, b in zip((widths[0], *widths[:-1]), widths)))
        self.head = nn.Conv2d(widths[-1], n_params, 1)

    def forward(self, signal_net: torch.Tensor) -> torch.Tensor:
        if signal_net.shape[1] != self.n_images:
            raise ValueError(f"this ResNet takes {self.n_images} images, got {signal_net.shape[1]}")
        return self.head(self.blocks(self.stem(signal_net)))
