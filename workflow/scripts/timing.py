"""Section 6.1: median wall time of RIM, ResNet and MLE on the 256 x 256 test slice."""

import pandas as pd
import torch

from qmri.data.io import atomic_path
from qmri.estimators.methods import default_device, estimators_for
from qmri.logs import logging_to
from qmri.paper.benchmark import time_estimators
from qmri.paper.brains import load_brain_model
from qmri.paper.simulate import Truth, settings_from_config, sigma_for_snr, synthesise
from qmri.physics.signal import model_for_task
from qmri.provenance import hardware

with logging_to(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    model = model_for_task(p.task)
    truth = Truth.test_slice(load_brain_model(snakemake.input.labels, snakemake.input.meta), model,
                             settings_from_config(p.trainset), p.seed,
                             **p.geometry)
    sigma = float(sigma_for_snr(p.snr))
    signal = synthesise(torch.from_numpy(truth.kappa[None]), sigma, torch.tensor(p.tau_ms, dtype=torch.float64),
                        model, torch.Generator().manual_seed(p.seed)).float()
    estimators = estimators_for(p.task, p.tau_ms, {"rim": snakemake.input.rim, "resnet": snakemake.input.resnet},
                                p.lambda_b)
    rows = time_estimators(estimators, signal, torch.from_numpy(truth.fit_mask)[None], sigma, p.repeats)
    table = pd.DataFrame(rows).assign(hardware=hardware(default_device()))
    log.info("\n%s", table.to_string())
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)
