"""Section 5.1.1: C noise realisations per SNR, every method, metrics per pixel over the brain."""

import torch

from qmri.data.io import atomic_path
from qmri.estimators.methods import estimators_for
from qmri.logs import logging_to
from qmri.paper.brains import load_brain_model
from qmri.paper.montecarlo import noise_robustness
from qmri.paper.simulate import Truth, settings_from_config
from qmri.physics.signal import model_for_task

with logging_to(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    brain = load_brain_model(snakemake.input.labels, snakemake.input.meta)
    truth = Truth.test_slice(brain, model_for_task(p.task), settings_from_config(p.trainset), p.seed,
                             **p.geometry)
    estimators = estimators_for(p.task, p.tau_ms, {"rim": snakemake.input.rim, "resnet": snakemake.input.resnet},
                                p.lambda_b)
    table = noise_robustness(truth, p.tau_ms, p.snr, p.repetitions, estimators, p.seed, progress=True)
    log.info("%d brain pixels, %d repetitions per SNR", truth.score_mask.sum(), p.repetitions)
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)
