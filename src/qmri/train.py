"""Training the RIM and the ResNet on simulated patches (section 4.4.2), and using the trained models.

Each iteration draws a mini-batch of stored ground-truth patches, synthesises weighted images for
the protocol with fresh noise at each patch's own SD (eq. 1), scales them (``qmri.nets.scaling``)
and takes one Adam step on eq. 6 (RIM: the mean over the J estimates) or eq. 3 (ResNet). The loss
is the mean squared error in network units over non-background pixels: background has no signal,
so its parameters cannot be learnt and are not asked for.
"""

from __future__ import annotations

import copy
import csv
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from qmri import __version__
from qmri.errors import QmriError
from qmri.io import atomic_path, load_arrays
from qmri.nets import scaling
from qmri.nets.resnet import ResNet
from qmri.nets.rim import RIM
from qmri.provenance import git_revision, hardware
from qmri.signal import SignalModel, model_for_task
from qmri.simulate import synthesise, task_kappa

#: 2: B in network units is (B - 2) / 0.12 (format 1 used raw B)
CHECKPOINT_FORMAT = 2


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings; the paper's are the defaults except the iteration budget."""

    iterations: int = 3000
    batch_size: int = 24
    learning_rate: float = 1e-3
    rim_steps: int = 6
    rim_features: int = 36
    checkpoint_every: int = 100
    #: "auto": bfloat16 autocast where the hardware has it (AVX512-BF16 or AMX CPUs, CUDA), else float32
    precision: str = "auto"


def fast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """Return the autocast dtype for ``device``: bfloat16 where it is fast, else float32."""
    if precision in ("float32", "bfloat16"):
        return getattr(torch, precision)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return torch.float32
    return torch.bfloat16 if ("avx512_bf16" in flags or "amx_bf16" in flags) else torch.float32


def _autocast(device: torch.device, dtype: torch.dtype):
    return torch.autocast(device.type, dtype=dtype) if dtype != torch.float32 else nullcontext()


def build_network(method: str, model: SignalModel, n_images: int, settings: TrainSettings) -> nn.Module:
    """Return a freshly Kaiming-initialised RIM or ResNet (biases zero).

    Choice: the RIM's last 1 x 1 convolution starts at zero, so an untrained RIM makes no update
    and training starts from the section 4.4.4 initial estimate instead of from Kaiming-sized jumps.
    """
    if method == "rim":
        net = RIM(model, steps=settings.rim_steps, features=settings.rim_features)
    elif method == "resnet":
        net = ResNet(n_images, model.n_params)
    else:
        raise QmriError(f"unknown method {method!r}: choose rim or resnet")
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    if isinstance(net, RIM):
        nn.init.zeros_(net.cell.conv_out.weight)
    return net


def estimates(net: nn.Module, signal_net: torch.Tensor, tau_ms: torch.Tensor) -> list[torch.Tensor]:
    """Return the network's estimates in network units: J of them for a RIM, one for a ResNet."""
    return net(signal_net, tau_ms) if isinstance(net, RIM) else [net(signal_net)]


def masked_mse(outputs: list[torch.Tensor], target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Return eq. 6 (eq. 3 for one output): mean over outputs of the MSE over masked pixels and channels."""
    keep = mask.unsqueeze(1)  # shape (batch, 1, H, W)
    total = keep.sum().clamp_min(1) * target.shape[1]
    zero = target.new_zeros(())
    return sum(torch.where(keep, (o.float() - target) ** 2, zero).sum() / total for o in outputs) / len(outputs)


def load_trainsets(paths: list[str | os.PathLike]) -> dict[str, np.ndarray]:
    """Return the concatenated ``kappa``, ``sigma`` and ``labels`` of several training-set archives."""
    parts = [load_arrays(p) for p in paths]
    return {key: np.concatenate([p[key] for p in parts]) for key in ("kappa", "sigma", "labels")}


class _Batches:
    """Mini-batches of synthesised images, reproducible from two generator states."""

    def __init__(self, trainset: dict[str, np.ndarray], model: SignalModel, tau: torch.Tensor, batch_size: int,
                 seed: int, device: torch.device):
        self.kappa = task_kappa(torch.from_numpy(trainset["kappa"]), model)  # (P, Q, H, W), physical
        self.sigma = torch.from_numpy(trainset["sigma"])
        self.mask = torch.from_numpy(trainset["labels"] > 0)
        self.model, self.tau, self.batch_size, self.device = model, tau, batch_size, device
        self.rng = np.random.default_rng(seed)
        self.noise = torch.Generator().manual_seed(seed)

    def next(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(signal_net, target_net, mask)`` for one mini-batch."""
        pick = torch.from_numpy(self.rng.integers(0, len(self.sigma), self.batch_size))
        kappa = self.kappa[pick]
        signal = synthesise(kappa, self.sigma[pick], self.tau.cpu(), self.model, self.noise)
        s = scaling.intensity_scale(signal)
        target = scaling.to_network(kappa, self.model, s)
        return (x.to(self.device) for x in (signal / s, target, self.mask[pick]))

    def state(self) -> dict:
        return {"numpy": self.rng.bit_generator.state, "torch": self.noise.get_state()}

    def restore(self, state: dict) -> None:
        self.rng.bit_generator.state = state["numpy"]
        self.noise.set_state(state["torch"])


def train(method: str, protocol: str, task: str, tau_ms: list[float], trainset: dict[str, np.ndarray],
          settings: TrainSettings, seed: int, output: str | os.PathLike, log_csv: str | os.PathLike,
          config: dict | None = None, device: str | None = None, progress: bool = True) -> dict:
    """Train one model and write its checkpoint to ``output``; return the checkpoint dict.

    A resume file ``<output>.resume`` is written every ``checkpoint_every`` iterations; if present
    at the start (same method, protocol and settings), training continues from it, bit-identically
    on a CPU. The CSV log gets one row per iteration.
    """
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = model_for_task(task)
    tau = torch.tensor(tau_ms, dtype=torch.float32, device=device)
    torch.manual_seed(seed)
    net = build_network(method, model, len(tau_ms), settings).to(device).to(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(net.parameters(), lr=settings.learning_rate)
    batches = _Batches(trainset, model, tau, settings.batch_size, seed, device)
    dtype = fast_dtype(device, settings.precision)
    identity = {"method": method, "protocol": protocol, "task": task, "tau_ms": list(map(float, tau_ms)),
                "settings": asdict(settings), "seed": seed}
    resume = Path(f"{output}.resume")
    start, rows = 0, []
    if resume.exists():
        state = torch.load(resume, map_location=device, weights_only=False)
        if all(state.get(k) == v for k, v in identity.items()):
            net.load_state_dict(state["state_dict"])
            optimiser.load_state_dict(state["optimizer"])
            batches.restore(state["batches"])
            start, rows = state["iteration"], state["log"]
    net.train()
    bar = tqdm(range(start, settings.iterations), initial=start, total=settings.iterations,
               desc=f"train {method} {protocol}", disable=not progress)
    for iteration in bar:
        began = time.perf_counter()
        signal, target, mask = batches.next()
        optimiser.zero_grad(set_to_none=True)
        with _autocast(device, dtype):
            outputs = estimates(net, signal.contiguous(memory_format=torch.channels_last), tau)
        loss = masked_mse(outputs, target, mask)
        loss.backward()
        optimiser.step()
        final = masked_mse(outputs[-1:], target, mask).item()
        rows.append({"iteration": iteration + 1, "loss": loss.item(), "final_estimate_loss": final,
                     "seconds": time.perf_counter() - began})
        bar.set_postfix(loss=f"{loss.item():.4g}")
        if (iteration + 1) % settings.checkpoint_every == 0 and iteration + 1 < settings.iterations:
            with atomic_path(resume) as tmp:
                torch.save({**identity, "state_dict": net.state_dict(), "optimizer": optimiser.state_dict(),
                            "batches": batches.state(), "iteration": iteration + 1, "log": rows}, tmp)
    checkpoint = {
        **identity, "format": CHECKPOINT_FORMAT, "n_images": len(tau_ms), "param_names": model.param_names,
        "units": "A / s, (B - 2) / 0.12, log(T / 1000 ms)", "normalisation": "images / s, s = 99th percentile of the MIP",
        "state_dict": {k: v.cpu() for k, v in net.state_dict().items()}, "iterations": settings.iterations,
        "config": config or {}, "git_revision": git_revision(), "qmri_version": __version__,
        "torch_version": torch.__version__, "device": str(device), "autocast": str(dtype),
        "hardware": hardware(device),
        "train_seconds": float(sum(r["seconds"] for r in rows)),
    }
    with atomic_path(log_csv) as tmp, open(tmp, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]) if rows else ["iteration"])
        writer.writeheader()
        writer.writerows(rows)
    with atomic_path(output) as tmp:
        torch.save(checkpoint, tmp)
    resume.unlink(missing_ok=True)
    return checkpoint


def load_model(path: str | os.PathLike, device: str = "cpu") -> tuple[nn.Module, dict]:
    """Return ``(network in eval mode, checkpoint metadata)`` from a checkpoint file."""
    path = Path(path)
    if not path.exists():
        raise QmriError(f"missing weights file: {path}")
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=False)
    except Exception as err:  # torch raises many types for damaged files
        raise QmriError(f"cannot read weights {path}: {err}") from None
    if not isinstance(checkpoint, dict) or "format" not in checkpoint:
        raise QmriError(f"{path} is not a qmri checkpoint")
    if checkpoint["format"] != CHECKPOINT_FORMAT:
        raise QmriError(f"{path} has checkpoint format {checkpoint['format']}, this qmri reads format "
                        f"{CHECKPOINT_FORMAT}: train it again")
    settings = TrainSettings(**checkpoint["settings"])
    net = build_network(checkpoint["method"], model_for_task(checkpoint["task"]), checkpoint["n_images"], settings)
    net.load_state_dict(checkpoint["state_dict"])
    return net.to(device).eval(), {k: v for k, v in checkpoint.items() if k not in ("state_dict",)}


def predict(net: nn.Module, meta: dict, signal: torch.Tensor, tau_ms: list[float] | np.ndarray, task: str,
            precision: str = "auto") -> torch.Tensor:
    """Return parameter maps ``(batch, Q, H, W)`` in physical units for images ``(batch, N, H, W)``.

    Any intensity scale and image size work. A model for the other task, or a ResNet given a
    different number of images, is a one-line error.
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
    s = scaling.intensity_scale(signal)
    with torch.inference_mode(), inference_precision(net, fast_dtype(device, precision)) as net:
        out = estimates(net, (signal / s).contiguous(memory_format=torch.channels_last), tau)[-1]
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
        with _autocast(next(net.parameters()).device, dtype):
            yield net
