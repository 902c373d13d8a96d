"""A trained model's checkpoint: identity, weights and provenance; a long run's progress exported; a RIM set to stop
at its validated step."""

from __future__ import annotations

import os
from dataclasses import asdict

import torch

from qmri import __version__
from qmri.data.io import atomic_path
from qmri.estimators.networks.checkpoint import (
    CHECKPOINT_FORMAT,
    fast_dtype,
)
from qmri.estimators.networks.form import settings_form
from qmri.physics.signal import SignalModel, model_for_task
from qmri.provenance import git_revision, hardware

#: what the images are divided by, per ``NetworkForm.normalisation``
NORMALISATIONS = {"percentile": "99th percentile of the MIP", "max": "the series' maximum"}


def model_checkpoint(identity: dict, state_dict: dict, rows: list[dict], model: SignalModel, config: dict | None,
                     device: torch.device, dtype: torch.dtype) -> dict:
    """Return the checkpoint of a trained model: its identity, weights and provenance (``load_model`` reads it)."""
    form = settings_form(identity["settings"])
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


def stopped_checkpoint(trained: str | os.PathLike, output: str | os.PathLike, steps: int, validation: dict) -> dict:
    """Write the RIM checkpoint ``trained`` to ``output`` to run ``steps`` steps (``inference_steps``, which
    ``load_model`` applies; training settings untouched) with the ``validation`` that chose them."""
    checkpoint = torch.load(trained, map_location="cpu", weights_only=True)
    if not 1 <= steps <= checkpoint["settings"]["rim_steps"]:
        raise ValueError(f"steps must be within the {checkpoint['settings']['rim_steps']} trained, got {steps}")
    checkpoint |= {"inference_steps": int(steps), "steps_validation": validation}
    with atomic_path(output) as tmp:
        torch.save(checkpoint, tmp)
    return checkpoint
