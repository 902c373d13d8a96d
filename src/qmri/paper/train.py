"""Training the RIM and the ResNet on simulated patches (section 4.4.2), and using the trained models.

Each iteration draws a mini-batch of stored ground-truth patches, synthesises weighted images for
the protocol with fresh noise at each patch's own SD (eq. 1), scales them (``qmri.estimators.networks.scaling``)
and takes one Adam step on eq. 6 (RIM: the mean over the J estimates) or eq. 3 (ResNet). The loss
is the mean squared error in network units over non-background pixels: background has no signal,
so its parameters cannot be learnt and are not asked for.
"""

from __future__ import annotations

import csv
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from qmri import __version__
from qmri.data.io import atomic_path, load_arrays
from qmri.errors import QmriError, first_line
from qmri.estimators.networks import scaling
from qmri.estimators.networks.checkpoint import (
    CHECKPOINT_FORMAT,
    autocast,
    build_network,
    estimates,
    fast_dtype,
    load_model,
)
from qmri.estimators.networks.form import NetworkForm, network_form
from qmri.estimators.networks.resnet import BLOCK_WIDTHS, ResNet, resampled_stem
from qmri.estimators.networks.rim import RIM
from qmri.paper.anyprotocol import (
    AnyProtocolSettings,
    draw_maps,
    draw_protocol,
    identifiability_weights,
    measurable,
)
from qmri.paper.simulate import synthesise, task_kappa
from qmri.physics.signal import SignalModel, model_for_task
from qmri.provenance import git_revision, hardware


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
    #: the ResNet's block widths (default the paper's; the RIM ignores them)
    resnet_widths: tuple[int, ...] = BLOCK_WIDTHS
    #: compile a RIM's recurrent cell and likelihood gradient with ``torch.compile``: True, False or "auto"
    #: (``compiles_rim``)
    compile: bool | str = "auto"
    #: the paper-form network's variant, "ours" or "authors" (``qmri.estimators.networks.form.VARIANTS``)
    variant: str = "ours"
    #: single switches of ``NetworkForm`` set otherwise than the variant's
    form: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "resnet_widths", tuple(self.resnet_widths))
        object.__setattr__(self, "form", dict(self.form or {}))
        if self.compile not in (True, False, "auto"):
            raise QmriError(f"training: compile must be true, false or auto, got {self.compile!r}")
        self.network_form()  # a one-line error for an unknown variant, switch or option

    def network_form(self) -> NetworkForm:
        """Return the resolved form of the network these settings train."""
        return network_form(self.variant, self.form)


#: the fewest iterations for which ``compile: auto`` compiles a RIM (``compiles_rim``)
COMPILE_MIN_ITERATIONS = 300


def compiles_rim(net: torch.nn.Module, device: torch.device, dtype: torch.dtype, settings: TrainSettings) -> bool:
    """Return whether training compiles ``net``'s recurrent cell and likelihood gradient (``compile_rim``): never
    for a ResNet; for a RIM as ``settings.compile`` says, where ``"auto"`` means float32 on a CPU for at least
    ``COMPILE_MIN_ITERATIONS`` iterations.

    Measured for the choice (Intel Xeon family 6 model 207, avx512f without avx512_bf16; a training step of
    24 x 40 x 40, J = 6, eager and compiled alternating in one process, ``studies/compile/alternate.py``): the
    cell, 2026-11-28, one thread: T1 with 31 TIs 1.307 -> 1.127 s, with torch capped to AVX2 1.618 -> 1.483 s, T2
    capped 1.539 -> 1.387 s (inductor fuses the GRUs' elementwise work, about 45 % of an eager step), for 6-30 s of
    compiling: a gain from about 200 iterations on; the gradient too, 2026-11-29, a further 1.5-3 % at one thread
    and 7 % at two (its dozen passes over the batch's N images fused into one). The ResNet's step (2.86 -> 2.80 s,
    capped) and the RIM's inference (docs/performance.md) gained too little to compile; bfloat16 autocast (AVX512-BF16 CPUs,
    GPUs) is left as it was.
    """
    if not isinstance(net, RIM) or settings.compile is False:
        return False
    return settings.compile is True or (device.type == "cpu" and dtype == torch.float32
                                        and settings.iterations >= COMPILE_MIN_ITERATIONS)


def inductor_cache_per_capability() -> Path:
    """Give inductor (``torch.compile``) a cache folder per torch CPU capability, and return it.

    Inductor's cache does not key on ``ATEN_CPU_CAPABILITY``: kernels it compiled with torch capped to AVX2 (how
    this project measures an AVX2-only CPU), loaded by a later uncapped run on an AVX-512 CPU, crashed that run
    with "double free or corruption" (torch 2.13, Intel Xeon family 6 model 207, 2026-11-29). The folder is
    ``TORCHINDUCTOR_CACHE_DIR`` (inductor's default where unset) with the capability appended, once.
    """
    try:  # torch >= 2.4; its default is a folder per user in the temporary directory
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir
    except ImportError:
        def default_cache_dir() -> str:
            return os.path.join(tempfile.gettempdir(), "torchinductor")
    capability = torch.backends.cpu.get_cpu_capability()
    folder = Path(os.environ.get("TORCHINDUCTOR_CACHE_DIR") or default_cache_dir()).absolute()
    if folder.name != capability:
        folder = folder / capability
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)
    return folder


def compile_rim(net: RIM) -> None:
    """Compile ``net``'s recurrent cell and likelihood gradient in place (``torch.compile`` of ``net.cell.forward``
    and ``net.gradient``, undone by ``uncompile_rim``): its weights and state-dict keys stay the module's."""
    inductor_cache_per_capability()
    net.cell.forward = torch.compile(net.cell.forward)
    net.gradient = torch.compile(net.gradient)


def uncompile_rim(net: RIM) -> None:
    """Undo ``compile_rim``."""
    del net.cell.forward, net.gradient


def _loss(net: torch.nn.Module, batch: tuple, device: torch.device, dtype: torch.dtype, criterion: Callable
          ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Return the loss (``criterion``, ``loss_function``) of one mini-batch ``(signal, target, mask, tau, weights)``
    and the estimates, after back-propagating it."""
    signal, target, mask, tau, weights = batch
    with autocast(device, dtype):
        outputs = estimates(net, signal.contiguous(memory_format=torch.channels_last), tau, mask)
    loss = criterion(outputs, target, mask, weights)
    loss.backward()
    return loss, outputs


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
    ones = target.new_ones((1, 1, 1, 1))

    def physical(x: torch.Tensor) -> torch.Tensor:
        return scaling.to_units(scaling.from_network(x.float(), model, ones), model, ones, "physical")

    goal = physical(target)
    return sum(((physical(o) - goal) ** 2).mean() for o in outputs) / len(outputs)


def loss_function(form: NetworkForm, model: SignalModel) -> Callable:
    """Return the training loss ``(outputs, target, mask, weights) -> loss`` of ``form``: ``masked_mse`` (ours) or
    ``physical_mse`` (the authors')."""
    return masked_mse if form.loss == "network" else partial(physical_mse, model=model)


def load_trainsets(paths: list[str | os.PathLike]) -> dict[str, np.ndarray]:
    """Return the concatenated ``kappa``, ``sigma`` and ``labels`` of several training-set archives."""
    parts = [load_arrays(p) for p in paths]
    return {key: np.concatenate([p[key] for p in parts]) for key in ("kappa", "sigma", "labels")}


class _Batches:
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


class _AnyProtocolBatches(_Batches):
    """Our RIM's batches (``qmri.paper.anyprotocol``): a protocol drawn per batch; brain patches of ``trainset``
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


def log_progress(name: str, rows: list[dict], total: int, window: int = 50) -> None:
    """Log one line: iterations done of ``total``, seconds per iteration over the last ``window``, loss and ETA."""
    recent = rows[-window:]
    per_iteration = sum(r["seconds"] for r in recent) / len(recent)
    left = (total - rows[-1]["iteration"]) * per_iteration
    logging.getLogger("qmri.train").info(
        "%s: iteration %d/%d, %.2f s/it, loss %.4g, ETA %d min %02d s", name, rows[-1]["iteration"], total,
        per_iteration, recent[-1]["loss"], left // 60, left % 60)


#: what the images are divided by, per ``NetworkForm.normalisation``
NORMALISATIONS = {"percentile": "99th percentile of the MIP", "max": "the series' maximum"}


def model_checkpoint(identity: dict, state_dict: dict, rows: list[dict], model: SignalModel, config: dict | None,
                     device: torch.device, dtype: torch.dtype) -> dict:
    """Return the checkpoint of a trained model: its identity, weights and provenance (``load_model`` reads it)."""
    form = network_form(identity["settings"].get("variant", "ours"), identity["settings"].get("form"))
    return {
        **identity, "format": CHECKPOINT_FORMAT, "n_images": len(identity["tau_ms"]), "param_names": model.param_names,
        "units": "A / s, (B - 2) / 0.12, log(T / 1000 ms)",
        "normalisation": f"images / s, s = {NORMALISATIONS[form.normalisation]}", "form": asdict(form),
        "state_dict": {k: v.cpu() for k, v in state_dict.items()}, "iterations": len(rows),
        "config": config or {}, "git_revision": git_revision(), "qmri_version": __version__,
        "torch_version": str(torch.__version__), "device": str(device), "autocast": str(dtype),
        "hardware": hardware(device),
        "train_seconds": float(sum(r["seconds"] for r in rows)),
    }


def export_resume(resume: str | os.PathLike, output: str | os.PathLike, device: str = "cpu") -> dict:
    """Write the model of a training run's resume file (the state at its last save) as a checkpoint to ``output``.

    Lets a long run's progress be scored or shipped before it ends; ``iterations`` records the iterations done.
    """
    state = torch.load(resume, map_location="cpu", weights_only=True)
    identity = {k: v for k, v in state.items() if k not in ("state_dict", "optimizer", "batches", "iteration", "log")}
    device = torch.device(device)
    checkpoint = model_checkpoint(identity, state["state_dict"], state["log"], model_for_task(identity["task"]),
                                  None, device, fast_dtype(device, identity["settings"]["precision"]))
    with atomic_path(output) as tmp:
        torch.save(checkpoint, tmp)
    return checkpoint


def start_from(net: torch.nn.Module, method: str, task: str, start: str | os.PathLike, tau_ms: list[float]) -> str:
    """Load the weights of the trained checkpoint ``start`` into ``net`` (fine-tuning to ``tau_ms``); return its
    protocol.

    Its method and task must be ``net``'s. A RIM reads no image count, so all of it carries over. A ResNet's
    stem convolution reads the N images: trained on other times, it starts resampled to ``tau_ms``
    (``resampled_stem``: each trained time's weight spread over its neighbours in the new protocol), so the
    fine-tuning starts from the features the trained model computed instead of from fresh Kaiming weights.
    """
    trained, meta = load_model(start)
    if (meta["method"], meta["task"]) != (method, task):
        raise QmriError(f"cannot fine-tune a {method} for {task} from {start}: a {meta['method']} for {meta['task']}")
    state = trained.state_dict()
    if isinstance(net, ResNet) and list(meta["tau_ms"]) != list(tau_ms):
        state["stem.0.weight"] = resampled_stem(state["stem.0.weight"], meta["tau_ms"], tau_ms)
    net.load_state_dict(state)
    return meta["protocol"]


def train(method: str, protocol: str, task: str, tau_ms: list[float] | None, trainset: dict[str, np.ndarray] | None,
          settings: TrainSettings, seed: int, output: str | os.PathLike, log_csv: str | os.PathLike,
          config: dict | None = None, device: str | None = None, progress: bool = True,
          data: AnyProtocolSettings | None = None, start: str | os.PathLike | None = None) -> dict:
    """Train one model and write its checkpoint to ``output``; return the checkpoint dict.

    The paper's RIM and ResNet learn one protocol, ``tau_ms``, on the patches of ``trainset``. Our RIM
    (``method="arim"``, ``tau_ms=None``) learns every protocol on the maps of ``data`` (default
    ``AnyProtocolSettings()``), with the patches of ``trainset`` (or none) as its brain share.
    ``start``: a trained checkpoint to fine-tune (``start_from``) instead of starting from Kaiming weights;
    ``settings.iterations`` are then the fine-tuning's, with a fresh Adam.

    A resume file ``<output>.resume`` is written every ``checkpoint_every`` iterations; if present
    at the start (same method, protocol and settings), training continues from it, bit-identically
    on a CPU. The CSV log gets one row per iteration.
    """
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = model_for_task(task)
    torch.manual_seed(seed)
    n_images = 0 if tau_ms is None else len(tau_ms)
    form = settings.network_form()
    net = build_network(method, model, n_images, settings.rim_steps, settings.rim_features, settings.resnet_widths,
                        form)
    criterion = loss_function(form, model)
    started = None if start is None else start_from(net, method, task, start, tau_ms)
    net = net.to(device).to(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(net.parameters(), lr=settings.learning_rate)
    if tau_ms is None:
        data = data or AnyProtocolSettings()
        batches = _AnyProtocolBatches(trainset, model, settings.batch_size, data, seed, device)
    else:
        batches = _Batches(trainset, model, torch.tensor(tau_ms, dtype=torch.float32), settings.batch_size, seed,
                           device, form.normalisation)
    dtype = fast_dtype(device, settings.precision)
    identity = {"method": method, "protocol": protocol, "task": task, "tau_ms": list(map(float, tau_ms or [])),
                "settings": asdict(settings), "seed": seed, **({"data": asdict(data)} if tau_ms is None else {}),
                **({"started_from": started} if started else {})}
    resume = Path(f"{output}.resume")
    start, rows = 0, []
    if resume.exists():
        state = torch.load(resume, map_location=device, weights_only=True)
        if all(state.get(k) == v for k, v in identity.items()):
            net.load_state_dict(state["state_dict"])
            optimiser.load_state_dict(state["optimizer"])
            batches.restore(state["batches"])
            start, rows = state["iteration"], state["log"]
    net.train()
    name = f"train {method} {protocol}"
    compiled = compiles_rim(net, device, dtype, settings)
    if compiled:
        compile_rim(net)
        logging.getLogger("qmri.train").info("%s: compiling the RIM's cell and likelihood gradient (torch.compile)",
                                             name)
    # a bar on a terminal; in a rule's log (not a terminal) a line per 5 % instead
    bar = tqdm(range(start, settings.iterations), initial=start, total=settings.iterations, desc=name,
               disable=not progress or not sys.stderr.isatty())
    report_every = max(1, settings.iterations // 20)
    for iteration in bar:
        began = time.perf_counter()
        batch = batches.next()
        optimiser.zero_grad(set_to_none=True)
        try:
            loss, outputs = _loss(net, batch, device, dtype, criterion)
        except Exception as error:  # inductor needs a C++ compiler: "auto" trains on without it
            if not (compiled and settings.compile == "auto" and iteration == start):
                raise
            logging.getLogger("qmri.train").warning("%s: compiling the RIM failed (%s); training it eager",
                                                    name, first_line(error))
            uncompile_rim(net)
            compiled = False
            optimiser.zero_grad(set_to_none=True)
            loss, outputs = _loss(net, batch, device, dtype, criterion)
        optimiser.step()
        _, target, mask, _, weights = batch
        final = criterion(outputs[-1:], target, mask, weights).item()
        rows.append({"iteration": iteration + 1, "loss": loss.item(), "final_estimate_loss": final,
                     "seconds": time.perf_counter() - began})
        bar.set_postfix(loss=f"{loss.item():.4g}")
        if progress and ((iteration + 1) % report_every == 0 or iteration + 1 == settings.iterations):
            log_progress(name, rows, settings.iterations)
        if (iteration + 1) % settings.checkpoint_every == 0 and iteration + 1 < settings.iterations:
            with atomic_path(resume) as tmp:
                torch.save({**identity, "state_dict": net.state_dict(), "optimizer": optimiser.state_dict(),
                            "batches": batches.state(), "iteration": iteration + 1, "log": rows}, tmp)
    checkpoint = model_checkpoint(identity, net.state_dict(), rows, model, config, device, dtype) | {
        "compiled": compiled}
    with atomic_path(log_csv) as tmp, open(tmp, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]) if rows else ["iteration"])
        writer.writeheader()
        writer.writerows(rows)
    with atomic_path(output) as tmp:
        torch.save(checkpoint, tmp)
    resume.unlink(missing_ok=True)
    return checkpoint


