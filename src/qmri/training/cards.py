"""Shipping our any-protocol RIM: a trained checkpoint copied into the package with its model card (training data,
budget, hardware, source revision and the measured quality)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import torch

from qmri.data.io import atomic_path, write_json
from qmri.errors import QmriError
from qmri.training.checkpoints import export_resume


def quality_summary(table: pd.DataFrame) -> dict:
    """Summarise ``qmri bench quality --arim --csv``: mean over subjects of |RB| and CV (%) per method, the subjects
    whose aRIM CV is below the MLE's, and the largest |B error| of the aRIM's mean B."""
    wide = table.pivot(index="subject", columns="method", values=["abs_rb", "cv", "b_estimate", "b"])
    return {"command": "qmri bench quality --arim (8 subjects, SNR 10, 31 TIs, C = 10)",
            "mean_abs_rb_pct": wide["abs_rb"].mean().round(2).to_dict(),
            "mean_cv_pct": wide["cv"].mean().round(2).to_dict(),
            "subjects_cv_below_mle": int((wide["cv"]["arim"] < wide["cv"]["mle"]).sum()),
            "subjects": len(wide),
            "max_abs_b_error": round(float((wide["b_estimate"]["arim"] - wide["b"]["arim"]).abs().max()), 4)}


def phantom_summary(table: pd.DataFrame, task: str) -> dict:
    """Summarise ``qmri.bench.phantoms.score`` for ``task``: per dataset and method the mean |RB| and CV (%) over
    the in-range spheres."""
    rows = table[table["dataset"].str.endswith(task)]
    return {f"phantom {dataset}, in-range spheres": {
        method: {"mean_abs_rb_pct": round(r.mean_abs_rb_pct, 2), "mean_cv_pct": round(r.mean_cv_pct, 2)}
        for method, r in group.set_index("method").iterrows()} for dataset, group in rows.groupby("dataset")}


#: the model card's words for each way the start pools B (``qmri.estimators.networks.start.START_POOLS``)
START_WORDS = {"window": "grid search with B pooled over a 65-pixel window",
               "kin": "grid search with B pooled over the pixels of about the same T in a 65-pixel window",
               "auto": "grid search with B pooled over a 65-pixel window, or over its pixels of about the same T "
                       "where they reject the window's B"}


def model_card(meta: dict, measured: dict) -> dict:
    """Return the model card of a packaged aRIM checkpoint ``meta``: what it is, how it was trained, ``measured``."""
    task = meta["task"]
    return {
        "model": f"arim {task}: any-protocol recurrent inference machine (qmri), one model for every protocol",
        "task": task, "parameters": list(meta["param_names"]),
        "architecture": {"steps": meta["settings"]["rim_steps"],
                         "inference_steps": meta.get("inference_steps", meta["settings"]["rim_steps"]),
                         "features": meta["settings"]["rim_features"],
                         "pooled": True, "start": START_WORDS[meta["settings"].get("start_pool", "window")]},
        "training_data": meta["data"], "batch_size": meta["settings"]["batch_size"],
        "learning_rate": meta["settings"]["learning_rate"], "seed": meta["seed"],
        "iterations": meta["iterations"], "train_seconds": round(meta["train_seconds"]),
        "hardware": meta["hardware"], "autocast": meta["autocast"], "torch_version": meta["torch_version"],
        "git_revision": meta["git_revision"], "qmri_version": meta["qmri_version"],
        "measured": ({"validation_per_step": meta["steps_validation"]} if "steps_validation" in meta else {})
        | measured,
    }


def ship(checkpoint: str | os.PathLike, target: str | os.PathLike, quality: pd.DataFrame | None = None,
         phantoms: pd.DataFrame | None = None, allow_dirty: bool = False) -> dict:
    """Copy a trained aRIM ``checkpoint`` (or a running training's ``.resume`` file, at its last save) to
    ``target`` and write its model card beside it (``.json``); ``quality`` (T1) and ``phantoms`` are the measured
    tables. A checkpoint trained on uncommitted source is refused unless ``allow_dirty``: the card must name the
    code that made the weights. Returns the card."""
    checkpoint, target = Path(checkpoint), Path(target)
    resume = checkpoint.suffix == ".resume"
    meta = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if meta.get("method") != "arim":
        raise QmriError(f"ship: {checkpoint} is a {meta.get('method')} checkpoint, not our any-protocol RIM")
    revision = meta.get("git_revision", "unknown")
    if not allow_dirty and (revision.endswith("+dirty") or revision == "unknown"):
        raise QmriError(f"ship: {checkpoint} was trained on source revision {revision}; commit, train again and "
                        "ship, so that its card names the code that made it")
    measured = {}
    if quality is not None:
        measured["bench_quality"] = quality_summary(quality)
    if phantoms is not None:
        measured |= phantom_summary(phantoms, meta["task"])
    if resume:
        meta = export_resume(checkpoint, target)
    else:
        with atomic_path(target) as tmp:
            shutil.copyfile(checkpoint, tmp)
    card = model_card(meta, measured)
    write_json(target.with_suffix(".json"), card)
    return card
