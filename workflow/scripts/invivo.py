"""Section 5.3: repeated scans of the simulated volunteers, mapped by MLE, ResNet and RIM."""

import torch

from qmri.data.io import save_arrays
from qmri.estimators.methods import estimators_for
from qmri.logs import logging_to
from qmri.paper.brains import load_brain_model
from qmri.paper.invivo import test_retest, volunteers
from qmri.paper.simulate import settings_from_config
from qmri.physics.signal import model_for_task

with logging_to(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    brain = load_brain_model(snakemake.input.labels, snakemake.input.meta)
    people = volunteers(brain, model_for_task(p.task), settings_from_config(p.trainset), p.seed, p.volunteers,
                        **p.geometry)
    estimators = estimators_for(p.task, p.tau_ms, {"rim": snakemake.input.rim, "resnet": snakemake.input.resnet},
                                p.lambda_b)
    arrays = test_retest(people, snakemake.wildcards.dataset, p.tau_ms, p.snr, p.scans, estimators, p.seed)
    log.info("%d volunteers x %d scans, SNR %g", p.volunteers, p.scans, p.snr)
    save_arrays(snakemake.output[0], **arrays, param_names=list(model_for_task(p.task).param_names))
