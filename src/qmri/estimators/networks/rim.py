"""Recurrent Inference Machine for relaxometry (section 3 and 4.4.4 of the paper).

``kappa_{j+1} = kappa_j + g(kappa_j, grad_j, h_j)`` for J steps (eq. 4, 5); g is the RNNCell of
Fig. 1a: 3x3 conv to 36 + tanh, GRU 36, two 3x3 convs 36 + tanh, GRU 36, 1x1 conv to Q, zero
padding. The cell's input has 2Q channels (estimate and gradient), never N: any number of
weighted images works. The authors' code differs in the activation, the gradient, the units and the
update (``qmri.estimators.networks.form``): each is a switch of ``NetworkForm``.

Choices: the GRUs are convolutional GRUs with 1 x 1 kernels (per-pixel memory); spatial context
comes from the three 3 x 3 convolutions, whose receptive field grows by 6 pixels per step. The
likelihood gradient is an input computed analytically and not differentiated through in training
(back-propagation runs through the estimates and memory states only), which keeps a training step
cheap; its scaling is described in ``qmri.estimators.networks.scaling``.
"""

from __future__ import annotations

import torch
from torch import nn

from qmri.estimators.networks import scaling, start
from qmri.estimators.networks.form import OURS, NetworkForm
from qmri.physics.likelihood import Gaussian, Likelihood
from qmri.physics.signal import SignalModel

#: images are divided by the 99th percentile of their maximum intensity projection (``scaling``); a pixel whose
#: maximum is above this share of it is object, not background, when no mask is given
OBJECT_LEVEL = 0.1
#: our RIM's start never puts A above this multiple of the image scale (``AnyProtocolRIM.start``)
MAX_START_AMPLITUDE = 3.0
#: the data terms our RIM's cell can read (``AnyProtocolRIM.gradient``)
DATA_TERMS = ("gradient", "scaled", "gauss_newton")
#: Levenberg-Marquardt damping of the Gauss-Newton step, relative to the Fisher information's diagonal
GN_DAMPING = 0.1
#: a Gauss-Newton step is clipped to this many network units per parameter (log T: a factor e^2 in T)
GN_MAX_STEP = 2.0
#: share of a training batch's maps whose start is moved off (``AnyProtocolRIM.start_jitter``); the rest keep theirs
JITTER_SHARE = 0.5


class _Tanh(torch.autograd.Function):
    """``tanh(x) = 2 sigmoid(2x) - 1`` (absolute error below 3e-7 in float32), differentiated as tanh.

    Choice: torch's CPU tanh is several times slower than its sigmoid, and this form with the GRU's ``lerp``
    (``ConvGRU``) makes the RIM's step and inference a few percent faster (docs: performance). The backward
    reads the output, as tanh's own.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        y = torch.sigmoid(2 * x).sub_(0.5).mul_(2)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, y)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """Return ``tanh(x)``: for float32 the fast way (``_Tanh``); other dtypes by torch, whose bfloat16 tanh
    keeps small values that ``2 sigmoid(2x) - 1`` would round to multiples of 2^-8."""
    return _Tanh.apply(x) if x.dtype == torch.float32 else torch.tanh(x)


class Tanh(nn.Module):
    """``nn.Tanh`` through ``tanh``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return tanh(x)


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
        candidate = tanh(self.candidate_x(x) + self.candidate_h(reset * h))
        # update * h + (1 - update) * candidate in one pass, in the memory's dtype (float32 under bfloat16 autocast)
        return torch.lerp(candidate.to(h.dtype), h, update.to(h.dtype))


class RNNCell(nn.Module):
    """The RIM's recurrent cell: ``(kappa, grad, h1, h2) -> (delta, h1, h2)``; ``activation`` after its 3 x 3
    convolutions: "tanh" (the paper's text) or "relu" (the authors' code).

    ``pooled`` (our RIM, not the paper's) adds the image-wide mean of the first memory over the
    pixels of ``weights`` (a 1 x 1 convolution of it, broadcast to every pixel) to the input of the
    middle convolutions: evidence that no 3 x 3 receptive field holds, such as the B of a whole slice;
    and its input has ``context`` channels more (``RIM.context``).
    """

    def __init__(self, n_params: int, features: int = 36, pooled: bool = False, context: int = 0,
                 activation: str = "tanh"):
        super().__init__()
        act = {"tanh": Tanh, "relu": nn.ReLU}[activation]
        self.conv_in = nn.Conv2d(2 * n_params + context, features, 3, padding=1)
        self.act_in = act()
        self.gru1 = ConvGRU(features, features)
        self.pool = nn.Conv2d(features, features, 1) if pooled else None
        self.conv_mid = nn.Sequential(nn.Conv2d(features, features, 3, padding=1), act(),
                                      nn.Conv2d(features, features, 3, padding=1), act())
        self.gru2 = ConvGRU(features, features)
        self.conv_out = nn.Conv2d(features, n_params, 1)

    def forward(self, kappa: torch.Tensor, grad: torch.Tensor, h1: torch.Tensor, h2: torch.Tensor,
                weights: torch.Tensor | None = None, context: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``weights`` (batch, 1, H, W) sum to one per item; only a pooled cell reads them and its ``context``."""
        inputs = [kappa, grad] if context is None else [kappa, grad, context]
        x = self.act_in(self.conv_in(torch.cat(inputs, dim=1)))  # shape (batch, 36, H, W)
        h1 = self.gru1(x, h1)
        middle = h1 if self.pool is None else h1 + self.pool((h1 * weights).sum(dim=(2, 3), keepdim=True))
        h2 = self.gru2(self.conv_mid(middle), h2)
        return self.conv_out(h2), h1, h2


class RIM(nn.Module):
    """Recurrent Inference Machine for one signal model, built as ``form`` says (``NetworkForm``: its activation,
    gradient, units and update); its estimates are returned in network units (``scaling``) whatever its own."""

    #: our RIM's cell pools over the image and reads ``context`` channels (``RNNCell``); the paper's does neither
    pooled = False
    context_channels = 0

    def __init__(self, model: SignalModel, steps: int = 6, features: int = 36, form: NetworkForm = OURS):
        super().__init__()
        if steps < 1 or features < 1:
            raise ValueError(f"steps and features must be positive, got {steps}, {features}")
        self.model, self.steps, self.features, self.form = model, steps, features, form
        self.cell = RNNCell(model.n_params, features, self.pooled, self.context_channels, form.activation)
        #: False zeroes the likelihood gradient the cell receives (the ablation of ``qmri bench quality``)
        self.use_gradient = True
        #: False returns the start as the estimate, the cell never run: the baseline a cell is measured against
        self.use_cell = True
        #: the paper's Gaussian likelihood on magnitudes; at sigma = 1 its gradient is ``J^T (f - S)``
        self.likelihood = Likelihood(model, Gaussian())
        bounds = torch.tensor([p.bounds for p in model.parameters])  # shape (Q, 2)
        self.register_buffer("lower", bounds[:, 0].view(1, -1, 1, 1), persistent=False)
        self.register_buffer("upper", bounds[:, 1].view(1, -1, 1, 1), persistent=False)

    def physical(self, kappa_own: torch.Tensor) -> torch.Tensor:
        """Return the estimate ``kappa_own`` (in the form's ``units``, images already divided by s) in physical units,
        clamped to the physical box of the parameters' ``bounds``: an early, untrained update can leave it, and the
        signal model must stay finite where the data term is evaluated."""
        kappa = scaling.from_units(kappa_own, self.model, torch.ones_like(kappa_own[:, :1, :1, :1]), self.form.units)
        return torch.clamp(kappa, self.lower.to(kappa), self.upper.to(kappa))

    def gradient(self, kappa_own: torch.Tensor, signal_net: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        """Return the likelihood gradient the cell reads at ``kappa_own`` (in the form's ``units``, evaluated at
        ``physical``), ``(batch, Q, H, W)``: ``J^T (f - S) / N`` in network units (``scaling``), or the authors'
        ``2 J^T (f - S)`` with respect to A, B and T in seconds (``form.gradient``)."""
        kappa = self.physical(kappa_own)
        grad = self.likelihood.gradient(kappa, signal_net, tau_ms, 1.0)  # J^T (f - S) at sigma = 1
        if self.form.gradient == "physical":
            return 2 * grad * scaling.physical_per_unit(kappa, self.model, "physical")
        return grad / signal_net.shape[1] * scaling.physical_per_network(kappa, self.model)

    def start(self, signal_net: torch.Tensor, tau_ms: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Return the initial estimate in the form's units: section 4.4.4's (A = MIP, B = 2, T1 = 1 s, T2 = 100 ms)."""
        return scaling.to_units(self.model.initial_guess(signal_net), self.model,
                                torch.ones_like(signal_net[:, :1, :1, :1]), self.form.units)

    def forward(self, signal_net: torch.Tensor, tau_ms: torch.Tensor, mask: torch.Tensor | None = None
                ) -> list[torch.Tensor]:
        """Return the J estimates ``[kappa_1 ... kappa_J]`` in network units for normalised images. In physical
        units (``form.units``) the estimate is ``|kappa + delta|``, as the authors' code updates it.

        ``mask`` (batch, H, W) marks the object; the paper's RIM does not use it, ours pools over it
        (default: pixels whose maximum over the images exceeds ``OBJECT_LEVEL``). The estimates and the
        likelihood gradient stay in the images' dtype; the cell runs in the dtype of its weights
        (``rim.cell.bfloat16()`` gives a fast inference cell on CPUs and GPUs with bfloat16 units, with
        no per-step casts of weights or memory states).
        """
        signal_net = signal_net.contiguous()  # the gradient reduces over N: keep each image contiguous
        if mask is None and self.pooled:
            mask = signal_net.amax(dim=1) > OBJECT_LEVEL
        kappa = self.start(signal_net, tau_ms, mask)
        if not self.use_cell:
            return [scaling.convert(kappa, self.model, self.form.units, "network")]
        cell_dtype = self.cell.conv_out.weight.dtype
        weights = context = None
        if self.pooled:
            weights = mask.unsqueeze(1).to(cell_dtype)
            weights = weights / weights.sum(dim=(2, 3), keepdim=True).clamp_min(1)
            with torch.no_grad(), torch.autocast(signal_net.device.type, enabled=False):
                context = self.context(kappa, signal_net, tau_ms).to(cell_dtype)
        b, _, h, w = signal_net.shape
        h1 = torch.zeros((b, self.features, h, w), dtype=cell_dtype, device=signal_net.device
                         ).to(memory_format=torch.channels_last)  # shape (batch, 36, H, W)
        h2 = torch.zeros_like(h1)
        estimates = []
        for _ in range(self.steps):
            # physics in the images' precision, outside any autocast region and the autograd graph
            with torch.no_grad(), torch.autocast(signal_net.device.type, enabled=False):
                grad = self.gradient(kappa.detach(), signal_net, tau_ms)  # shape (batch, Q, H, W)
                if not self.use_gradient:
                    grad = torch.zeros_like(grad)
            delta, h1, h2 = self.cell(kappa.to(cell_dtype), grad.to(cell_dtype), h1, h2, weights, context)
            kappa = kappa + delta.to(kappa.dtype)
            if self.form.units == "physical":
                kappa = kappa.abs()
            estimates.append(scaling.convert(kappa, self.model, self.form.units, "network"))
        return estimates


class AnyProtocolRIM(RIM):
    """Our RIM (method ``arim``; beyond the paper): the same recurrence, built to solve rather than recall.

    Two departures from section 4.4.4, each for a measured failure of the paper's form (docs/networks.md, "Known
    limits at the default budget"): the cell pools its memory over the whole object (``RNNCell``), and the
    estimate starts from a conventional one whose B is pooled over a window of ``window`` pixels
    (``qmri.estimators.networks.start``) instead of B = 2 everywhere. It is trained on structure-agnostic
    maps over the whole physical range with a protocol drawn for every batch (``qmri.simulation.anyprotocol``),
    so one model serves any number and spacing of images.
    """

    pooled = True
    context_channels = 1

    def __init__(self, model: SignalModel, steps: int = 6, features: int = 36, window: int | None = 65,
                 data_term: str = "gradient", start_pool: str = "window", start_jitter: float = 0.0):
        super().__init__(model, steps, features)
        if data_term not in DATA_TERMS:
            raise ValueError(f"data_term must be one of {', '.join(DATA_TERMS)}, got {data_term!r}")
        if start_pool not in start.START_POOLS:
            raise ValueError(f"start_pool must be one of {', '.join(start.START_POOLS)}, got {start_pool!r}")
        if start_jitter < 0:
            raise ValueError(f"start_jitter must be >= 0, got {start_jitter}")
        self.window, self.data_term, self.start_pool = window, data_term, start_pool
        #: in training only, the SD (network units) by which the start of ``JITTER_SHARE`` of the maps is moved off
        self.start_jitter = start_jitter
        #: None, or per parameter an offset (network units, shape (Q,)) added to every start (``qmri bench quality``'s
        #: moved-start check: a solver finds its way back, a corrector of its start does not)
        self.start_offset: torch.Tensor | None = None

    def gradient(self, kappa_own: torch.Tensor, signal_net: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        """Return the data term the cell reads at ``kappa_own`` (network units), ``(batch, Q, H, W)``:

        - ``gradient``: the negative log-likelihood's gradient ``g = J^T (f - S) / N`` (``RIM.gradient``), so that
          descent is along ``-g``;
        - ``scaled``: ``g_q / sqrt(F_qq)``, each parameter's gradient in units of its own Fisher information
          ``F = J^T J / N``, so that a barely determined parameter and a well determined one speak alike;
        - ``gauss_newton``: the Levenberg-Marquardt step ``(F + GN_DAMPING diag F)^{-1} g`` clipped to
          ``GN_MAX_STEP``, whose negative is the move a conventional solver would make, which the cell can take,
          damp or overrule.
        """
        grad = super().gradient(kappa_own, signal_net, tau_ms)
        if self.data_term == "gradient":
            return grad
        kappa = self.physical(kappa_own)
        per = scaling.physical_per_network(kappa, self.model).permute(0, 2, 3, 1)  # shape (batch, H, W, Q)
        fisher = (self.likelihood.fisher_information(kappa, tau_ms, 1.0) * per.unsqueeze(-1) * per.unsqueeze(-2)
                  / signal_net.shape[1])  # shape (batch, H, W, Q, Q), network units
        diagonal = torch.diagonal(fisher, dim1=-2, dim2=-1).clamp_min(1e-8)
        if self.data_term == "scaled":
            return grad / diagonal.sqrt().permute(0, 3, 1, 2)
        damped = fisher + torch.diag_embed(GN_DAMPING * diagonal)
        step = torch.linalg.solve(damped, grad.permute(0, 2, 3, 1).unsqueeze(-1)).squeeze(-1)
        return step.permute(0, 3, 1, 2).clamp(-GN_MAX_STEP, GN_MAX_STEP)

    def start(self, signal_net: torch.Tensor, tau_ms: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return the pooled-B grid-search start in network units (``start.profile_start``, pooled as
        ``start_pool`` says).

        Choice: A starts at most ``MAX_START_AMPLITUDE`` times the image scale. Where the data say nothing of
        A (a T2 far below the first echo time) the closed form divides noise by a vanishing basis norm.
        """
        kappa = start.profile_start(self.model, signal_net, tau_ms, mask, self.window, self.start_pool)
        upper = self.upper.to(kappa).clone()
        upper[:, [p.kind == "amplitude" for p in self.model.parameters]] = MAX_START_AMPLITUDE
        kappa = torch.clamp(kappa, self.lower.to(kappa), upper)
        kappa_net = scaling.to_network(kappa, self.model, torch.ones_like(signal_net[:, :1, :1, :1]))
        if self.training and self.start_jitter > 0:
            kappa_net = kappa_net + self.jitter(kappa_net)
        if self.start_offset is not None:
            kappa_net = kappa_net + self.start_offset.to(kappa_net).view(1, -1, 1, 1)
        return kappa_net

    def jitter(self, kappa_net: torch.Tensor) -> torch.Tensor:
        """Return a training start's displacement (network units, shape of ``kappa_net``): for ``JITTER_SHARE`` of
        the maps, one offset per parameter and map plus one per pixel, each normal with SD ``start_jitter``; zero
        for the others.

        Choice: the start is a conditional fit, so at a trained start the data term is about zero and a cell can
        ignore it (measured: the packaged model's ablation). A start moved off, by the map (which no smoothing
        undoes) and by the pixel, is one only the data term can show the way back from. The draws use torch's
        global generator, which the training's resume file restores.
        """
        b, q = kappa_net.shape[:2]
        moved = (torch.rand(b, 1, 1, 1, device=kappa_net.device) < JITTER_SHARE).to(kappa_net)
        offset = torch.randn(b, q, 1, 1, device=kappa_net.device, dtype=kappa_net.dtype) + torch.randn_like(kappa_net)
        return self.start_jitter * moved * offset

    def context(self, kappa_net: torch.Tensor, signal_net: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        """Return ``log(residual RMS of the start + 1e-3)`` (batch, 1, H, W), images in units of their scale.

        It tells the cell how far the data are from the model at its start: the noise level (the RIM
        is never given sigma) and where the model does not fit.
        """
        ones = torch.ones_like(signal_net[:, :1, :1, :1])
        fitted = self.model.forward(scaling.from_network(kappa_net, self.model, ones), tau_ms)
        return torch.log((signal_net - fitted).pow(2).mean(dim=1, keepdim=True).sqrt() + 1e-3)
