"""The training loop of the RIM and the ResNet on simulated patches (section 4.4.2).

Each iteration draws a mini-batch of stored ground-truth patches and synthesises weighted images for
the protocol with fresh noise at each patch's own SD (eq. 1, ``batches``), scales them
(``qmri.estimators.networks.scaling``) and takes one Adam step on eq. 6 (RIM: the mean over the J
estimates) or eq. 3 (ResNet) as the network's form computes it (``losses``). A resume file is written
every ``checkpoint_every`` iterations; the end is a checkpoint (``checkpoints``).
"""

from __future__ import annotations

import csv
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from qmri.data.io import atomic_path
from qmri.errors import first_line
from qmri.estimators.networks.checkpoint import (
    autocast,
    build_network,
    estimates,
    fast_dtype,
)
from qmri.physics.signal import model_for_task
from qmri.simulation.anyprotocol import (
    AnyProtocolSettings,
)
from qmri.training.batches import AnyProtocolBatches, Batches
from qmri.training.checkpoints import model_checkpoint
from qmri.training.compile import compile_rim, compiles_rim, uncompile_rim
from qmri.training.finetune import start_from
from qmri.training.losses import loss_function
from qmri.training.settings import TrainSettings


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


def resumes(state: dict, identity: dict) -> bool:
    """Whether a resume file's ``state`` belongs to the run ``identity`` describes.

    A setting the file predates (of ``TrainSettings`` or ``AnyProtocolSettings``) counts as its default, so adding
    a setting does not restart the half-finished runs that never used it.
    """
    defaults = {"settings": asdict(TrainSettings()), "data": asdict(AnyProtocolSettings())}
    return all((defaults[key] | state[key]) == value if key in defaults and key in state else state.get(key) == value
               for key, value in identity.items())


def log_progress(name: str, rows: list[dict], total: int, window: int = 50) -> None:
    """Log one line: iterations done of ``total``, seconds per iteration over the last ``window``, loss and ETA."""
    recent = rows[-window:]
    per_iteration = sum(r["seconds"] for r in recent) / len(recent)
    left = (total - rows[-1]["iteration"]) * per_iteration
    logging.getLogger("qmri.train").info(
        "%s: iteration %d/%d, %.2f s/it, loss %.4g, ETA %d min %02d s", name, rows[-1]["iteration"], total,
        per_iteration, recent[-1]["loss"], left // 60, left % 60)


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
    at the start (same method, protocol and settings: ``resumes``), training continues from it, bit-identically
    on a CPU. The CSV log gets one row per iteration.
    """
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = model_for_task(task)
    torch.manual_seed(seed)
    n_images = 0 if tau_ms is None else len(tau_ms)
    form = settings.network_form()
    net = build_network(method, model, n_images, settings.rim_steps, settings.rim_features, settings.resnet_widths,
                        form, settings.data_term, settings.start_pool, settings.start_jitter)
    criterion = loss_function(form, model)
    started = None if start is None else start_from(net, method, task, start, tau_ms)
    net = net.to(device).to(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(net.parameters(), lr=settings.learning_rate)
    if tau_ms is None:
        data = data or AnyProtocolSettings()
        batches = AnyProtocolBatches(trainset, model, settings.batch_size, data, seed, device)
    else:
        batches = Batches(trainset, model, torch.tensor(tau_ms, dtype=torch.float32), settings.batch_size, seed,
                           device, form.normalisation)
    dtype = fast_dtype(device, settings.precision)
    identity = {"method": method, "protocol": protocol, "task": task, "tau_ms": list(map(float, tau_ms or [])),
                "settings": asdict(settings), "seed": seed, **({"data": asdict(data)} if tau_ms is None else {}),
                **({"started_from": started} if started else {})}
    resume = Path(f"{output}.resume")
    start, rows = 0, []
    if resume.exists():
        state = torch.load(resume, map_location=device, weights_only=True)
        if resumes(state, identity):
            net.load_state_dict(state["state_dict"])
            optimiser.load_state_dict(state["optimizer"])
            batches.restore(state["batches"])
            if "rng" in state:  # torch's generator (a training start's jitter); files before it had none to keep
                torch.set_rng_state(state["rng"])
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
        for group in optimiser.param_groups:  # from the iteration alone, so a resumed run takes the same rates
            group["lr"] = settings.rate(iteration)
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
                            "batches": batches.state(), "rng": torch.get_rng_state(), "iteration": iteration + 1,
                            "log": rows}, tmp)
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
