"""Trained networks as estimators: checkpoints, architecture, and inference in physical units.

A checkpoint (written by ``qmri.training``) is a dict of plain values and tensors: it is read with
``torch.load(weights_only=True)``, so a weights file from elsewhere cannot run code.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.torch_version import TorchVersion

from qmri.errors import QmriError, first_line
from qmri.estimators.networks import packaged_weights, scaling
from qmri.estimators.networks.form import OURS, NetworkForm, settings_form
from qmri.estimators.networks.resnet import BLOCK_WIDTHS, ResNet
from qmri.estimators.networks.rim import RIM, AnyProtocolRIM
from qmri.physics.signal import SignalModel, model_for_task

#: 2: B in network units is (B - 2) / 0.12 (format 1 used raw B)
CHECKPOINT_FORMAT = 2
#: on a CPU, images are mapped this many pixels at a time (whole images, one at least): a chunk's
#: activations stay in cache; every item is mapped on its own anyway (per-item scale, no cross-item layer)
CPU_CHUNK_PIXELS = 2**16


def fast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """Return the autocast dtype for ``device``: bfloat16 where it is fast, else float32.

    On a CPU, bfloat16 needs AVX512-BF16 or AMX in ``/proc/cpuinfo`` and torch's kernels at AVX-512
    (``torch.backends.cpu.get_cpu_capability()``): a capability capped with ``ATEN_CPU_CAPABILITY=avx2``
    (with ``ONEDNN_MAX_CPU_ISA=AVX2``, how an AVX2-only CPU is emulated) trains in float32 as such a CPU does.
    """
    if precision in ("float32", "bfloat16"):
        return getattr(torch, precision)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return torch.float32
    avx512 = torch.backends.cpu.get_cpu_capability().startswith("AVX512")
    return torch.bfloat16 if avx512 and ("avx512_bf16" in flags or "amx_bf16" in flags) else torch.float32


def autocast(device: torch.device, dtype: torch.dtype):
    """Return an autocast context for ``dtype`` on ``device`` (none for float32)."""
    return torch.autocast(device.type, dtype=dtype) if dtype != torch.float32 else nullcontext()


def build_network(method: str, model: SignalModel, n_images: int, rim_steps: int = 6, rim_features: int = 36,
                  resnet_widths: tuple[int, ...] = BLOCK_WIDTHS, form: NetworkForm = OURS,
                  data_term: str = "gradient", start_pool: str = "window", start_jitter: float = 0.0) -> nn.Module:
    """Return a fresh network: the paper's RIM (J = ``rim_steps``) or ResNet (blocks ``resnet_widths`` wide) for
    ``n_images`` images built as ``form`` says, or our any-protocol RIM ``arim`` reading ``data_term``
    (``AnyProtocolRIM.gradient``) from a start pooled as ``start_pool`` says and, in training, moved off by
    ``start_jitter`` (``n_images`` and ``form`` unused).

    Weights: Kaiming normal with zero biases (``form.init="kaiming"``) or torch's defaults (``"torch"``, the
    authors'). Choice, with Kaiming weights: a RIM's last 1 x 1 convolution starts at zero, so an untrained RIM
    makes no update and training starts from its initial estimate instead of from Kaiming-sized jumps.
    """
    if method == "rim":
        net = RIM(model, steps=rim_steps, features=rim_features, form=form)
    elif method == "arim":
        net = AnyProtocolRIM(model, steps=rim_steps, features=rim_features, data_term=data_term,
                             start_pool=start_pool, start_jitter=start_jitter)
    elif method == "resnet":
        net = ResNet(n_images, model.n_params, tuple(resnet_widths), form, model)
    else:
        raise QmriError(f"unknown method {method!r}: choose rim, arim or resnet")
    if method != "arim" and form.init == "torch":
        return net
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    if isinstance(net, RIM):
        nn.init.zeros_(net.cell.conv_out.weight)
    return net


def shipped_weights(task: str) -> Path:
    """Return the packaged checkpoint of our RIM (``arim``) for ``task``, checking that it is there."""
    path = packaged_weights(task)
    if not path.exists():
        raise QmriError(f"this qmri has no packaged arim weights for {task}: pass --weights")
    return path


def estimates(net: nn.Module, signal_net: torch.Tensor, tau_ms: torch.Tensor, mask: torch.Tensor | None = None
              ) -> list[torch.Tensor]:
    """Return the network's estimates in network units: J of them for a RIM, one for a ResNet.

    ``mask`` (batch, H, W) is the object our RIM pools over (see ``RIM.forward``); the paper's networks ignore it.
    """
    return net(signal_net, tau_ms, mask) if isinstance(net, RIM) else [net(signal_net)]


def load_model(path: str | os.PathLike, device: str = "cpu") -> tuple[nn.Module, dict]:
    """Return ``(network in eval mode, checkpoint metadata)`` from a checkpoint file."""
    path = Path(path)
    if not path.exists():
        raise QmriError(f"missing weights file: {path}")
    try:
        # older checkpoints stored torch.__version__ as a TorchVersion, a str subclass
        with torch.serialization.safe_globals([TorchVersion]):
            checkpoint = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # torch raises many types for damaged or foreign files
        raise QmriError(f"cannot read weights {path}: {first_line(err)}") from None
    if not isinstance(checkpoint, dict) or "format" not in checkpoint:
        raise QmriError(f"{path} is not a qmri checkpoint")
    if checkpoint["format"] != CHECKPOINT_FORMAT:
        raise QmriError(f"{path} has checkpoint format {checkpoint['format']}, this qmri reads format "
                        f"{CHECKPOINT_FORMAT}: train it again")
    settings = checkpoint["settings"]
    try:
        form = settings_form(settings)
    except QmriError as err:
        raise QmriError(f"{path}: {err}") from None
    net = build_network(checkpoint["method"], model_for_task(checkpoint["task"]), checkpoint["n_images"],
                        settings["rim_steps"], settings["rim_features"], settings.get("resnet_widths", BLOCK_WIDTHS),
                        form, settings.get("data_term", "gradient"), settings.get("start_pool", "window"),
                        settings.get("start_jitter", 0.0))
    try:
        net.load_state_dict(checkpoint["state_dict"])
    except RuntimeError:
        raise QmriError(f"{path}: its weights do not fit this qmri's {checkpoint['method']} architecture: "
                        f"train it again") from None
    if checkpoint.get("inference_steps"):
        net.steps = int(checkpoint["inference_steps"])  # a RIM stopped after its validated step
    return net.to(device).eval(), {k: v for k, v in checkpoint.items() if k not in ("state_dict",)}


def predict(net: nn.Module, meta: dict, signal: torch.Tensor, tau_ms: list[float] | np.ndarray, task: str,
            precision: str = "auto", mask: torch.Tensor | None = None) -> torch.Tensor:
    """Return parameter maps ``(batch, Q, H, W)`` in physical units for images ``(batch, N, H, W)``.

    Any intensity scale and image size work; ``mask`` (batch, H, W) is the object (``estimates``). A model
    for the other task, or a ResNet given a different number of images, is a one-line error. Images are divided
    as the network's form says; a ResNet that normalises with batch statistics maps one image at a time, so each
    image's maps depend on it alone.
    """
    if meta["task"] != task:
        raise QmriError(f"these weights are for the {meta['task']} task, not {task}")
    if meta["method"] == "resnet" and signal.shape[1] != meta["n_images"]:
        raise QmriError(f"this ResNet was trained on {meta['n_images']} images ({meta['protocol']}); "
                        f"the input has {signal.shape[1]}")
    model = model_for_task(task)
    device = next(net.parameters()).device
    signal = torch.nan_to_num(signal.to(device, torch.float32))
    tau = torch.as_tensor(np.asarray(tau_ms, dtype=np.float32), device=device)
    form = getattr(net, "form", OURS)
    s = scaling.intensity_scale(signal, form.normalisation)
    batch, _, h, w = signal.shape
    chunk = batch if device.type != "cpu" else max(1, CPU_CHUNK_PIXELS // (h * w))
    if isinstance(net, ResNet) and form.batchnorm == "batch":
        chunk = 1
    signal_net = (signal / s).contiguous(memory_format=torch.channels_last)
    mask = None if mask is None else mask.to(device, torch.bool)
    with torch.inference_mode(), inference_precision(net, fast_dtype(device, precision)) as net:
        out = torch.cat([estimates(net, signal_net[i:i + chunk], tau, None if mask is None else mask[i:i + chunk])[-1]
                         for i in range(0, batch, chunk)])
    return scaling.from_network(out.float(), model, s)


@contextmanager
def inference_precision(net: nn.Module, dtype: torch.dtype) -> Iterator[nn.Module]:
    """Yield ``net`` (channels-last) set up to infer in ``dtype``.

    A RIM gets a copy whose recurrent cell holds ``dtype`` weights and runs natively in it (its
    estimate stays float32); a ResNet runs under autocast, which keeps BatchNorm in float32.
    """
    net = net.to(memory_format=torch.channels_last)
    if isinstance(net, RIM) and dtype != torch.float32:
        net = copy.deepcopy(net)
        net.cell.to(dtype)
        yield net
    else:
        with autocast(next(net.parameters()).device, dtype):
            yield net
