"""How many of a trained RIM's steps to run: the step whose maps lie closest to the truth on validation slices.

A RIM is trained with every step's loss weighted alike (eq. 6), so its last step need not be its best on data
unlike its training batches. The validation slices are the brain model's training slices (never its test slab,
where ``qmri bench quality``, the Monte Carlo and the in-vivo experiments score), each with its own Table 1 draw
from a seed stream of its own, scanned with the task's Monte Carlo protocol at several SNRs. The chosen step is the
one of least mean relative RMSE of the relaxation time over the brain; on a tie, the fewer steps.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch

from qmri.estimators.methods import network_estimator
from qmri.estimators.networks.checkpoint import load_model
from qmri.paper.metrics import coefficient_of_variation, relative_bias
from qmri.paper.montecarlo import repeated_estimates
from qmri.physics.signal import model_for_task
from qmri.pipeline.study import Study
from qmri.simulation.brains import BrainModel, spread
from qmri.simulation.simulate import Truth, sigma_for_snr

#: validation scans' SNRs (against white matter), slices and noise realisations per slice and SNR
SNRS = (10.0, 30.0, 100.0)
SLICES = 4
REPEATS = 3
#: the validation draws' seed stream: ``[seed, STREAM, k]`` (test subjects take ``seed + k``, training patches
#: their own generators)
STREAM = 7


def validation_slices(brain: BrainModel, count: int = SLICES) -> list[int]:
    """Return ``count`` of the brain model's training slices, spread over them (``spread``)."""
    return spread(brain.train_slices, count)


def validation_truths(study: Study, task: str, count: int = SLICES) -> list[Truth]:
    """Return ``count`` validation slices for ``task``: ``validation_slices`` of the study's MNI152 brain with
    parameters drawn as for a training subject."""
    brain, model = study.mni152_brain(), model_for_task(task)
    return [Truth.drawn(brain, model, study.trainset, index, np.random.default_rng([study.seed, STREAM, k]),
                        **study.geometry) for k, index in enumerate(validation_slices(brain, count))]


def step_errors(weights: str | os.PathLike, study: Study, snrs: tuple[float, ...] = SNRS, slices: int = SLICES,
                repeats: int = REPEATS) -> pd.DataFrame:
    """Return the relaxation-time error of a trained RIM after each of its trained steps on validation slices.

    One row per slice, SNR and step count J (with the ``repeats``): the median over the brain of the per-pixel relative RMSE over
    ``repeats`` noise realisations (``rmse_pct``), of the absolute relative bias (``abs_rb_pct``) and the CV
    (``cv_pct``), all in percent. Every step count maps the same realisations.
    """
    _, meta = load_model(weights)
    task = meta["task"]
    tau = study.montecarlo_protocol(task).tau_ms
    estimators = {j: network_estimator(weights, meta["method"], task, tau, steps=j)
                  for j in range(1, meta["settings"]["rim_steps"] + 1)}
    q = model_for_task(task).param_names.index(task.upper())
    rows = []
    for k, truth in enumerate(validation_truths(study, task, slices)):
        true = truth.kappa[q, truth.score_mask]
        for snr in snrs:
            seed = int(np.random.SeedSequence([study.seed, STREAM, k, round(snr)]).generate_state(1)[0])
            maps = repeated_estimates(truth, tau, float(sigma_for_snr(snr)), repeats, estimators,
                                      torch.Generator().manual_seed(seed))
            for j, estimate in maps.items():
                pixels = estimate[:, q, truth.score_mask].astype(np.float64)  # shape (C, P)
                rmse = np.sqrt(np.mean((pixels / true - 1) ** 2, axis=0)) * 100.0
                rows.append({"slice": k, "snr": snr, "repeats": repeats, "steps": j, "rmse_pct": float(np.median(rmse)),
                             "abs_rb_pct": float(np.median(np.abs(relative_bias(pixels, true)))),
                             "cv_pct": float(np.median(coefficient_of_variation(pixels)))})
    return pd.DataFrame(rows)


def chosen_steps(table: pd.DataFrame) -> int:
    """Return the step count of least mean ``rmse_pct`` in a ``step_errors`` table (the fewer steps on a tie)."""
    mean = table.groupby("steps")["rmse_pct"].mean()
    return int(mean.index[np.argmin(mean.to_numpy())])


def step_summary(table: pd.DataFrame) -> dict:
    """Return the mean over slices and SNRs of each error column per step count (percent, rounded), with what it
    averages in words (``data``): a card's record of the choice."""
    mean = table.groupby("steps")[["rmse_pct", "abs_rb_pct", "cv_pct"]].mean().round(2)
    snrs = ", ".join(f"{s:g}" for s in sorted(table.snr.unique()))
    repeats = ", ".join(str(r) for r in sorted(table.repeats.unique()))
    words = (f"per step count: mean over {table.slice.nunique()} training slices of the MNI152 brain (never its test "
             f"slab) at SNR {snrs} ({repeats} realisations each, the task's Monte Carlo protocol) of the median over "
             "the brain of the relaxation time's relative RMSE, |bias| and CV (%); the least RMSE chose inference_steps")
    return {"data": words} | {column: {int(j): float(v) for j, v in mean[column].items()} for column in mean}
