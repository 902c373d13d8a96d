"""Section 5.1.2: T1 relative bias and CV in and around small structures, E1 against E2."""

import torch

from qmri.data.io import atomic_path, save_arrays
from qmri.estimators.methods import estimators_for
from qmri.logs import logging_to
from qmri.paper.blurriness import blurriness
from qmri.paper.brains import load_brain_model
from qmri.paper.simulate import Truth, settings_from_config
from qmri.physics.signal import model_for_task

with logging_to(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    truth = Truth.test_slice(load_brain_model(snakemake.input.labels, snakemake.input.meta), model_for_task(p.task),
                             settings_from_config(p.trainset), p.seed,
                             **p.geometry)
    estimators = estimators_for(p.task, p.tau_ms, {"rim": snakemake.input.rim, "resnet": snakemake.input.resnet},
                                p.lambda_b)
    table, placed, e2 = blurriness(truth, p.tau_ms, p.snr, p.repetitions, estimators, p.seed, progress=True)
    log.info("\n%s", table.to_string())
    with atomic_path(snakemake.output.table) as tmp:
        table.to_csv(tmp, index=False)
    save_arrays(snakemake.output.maps, t1_e2=e2.kappa[e2.model.index("T1")], names=list(placed),
                structures=list(placed.values()))
