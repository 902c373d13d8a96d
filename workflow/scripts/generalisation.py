"""Section 5.4: every T1 RIM on every T1 dataset, median CV next to the MLE and the dataset's ResNet."""

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from qmri.data.io import atomic_path
from qmri.estimators.methods import estimators_for, network_estimator
from qmri.logs import logging_to
from qmri.paper import tissues as T
from qmri.paper.brains import load_brain_model
from qmri.paper.invivo import median_cv, test_retest, volunteers
from qmri.paper.simulate import settings_from_config
from qmri.physics.signal import InversionRecovery

with logging_to(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    model = InversionRecovery()
    people = volunteers(load_brain_model(snakemake.input.labels, snakemake.input.meta), model,
                        settings_from_config(p.trainset), p.seed, p.volunteers,
                        **p.geometry)
    resnets = {Path(f).stem: f for f in snakemake.input.resnets}
    rows = []
    for dataset, spec in p.datasets.items():
        estimators = estimators_for("t1", spec["tau_ms"], {"resnet": resnets[spec["protocol"]]}, p.lambda_b)
        for path in snakemake.input.rims:
            estimators[f"rim {Path(path).stem}"] = network_estimator(path, "rim", "t1", spec["tau_ms"])
        arrays = test_retest(people, dataset, spec["tau_ms"], spec["snr"], p.scans, estimators, p.seed)
        for k in range(len(people)):
            tissue = np.isin(arrays["labels"][k], (T.GM, T.WM))  # the paper's "tissues of interest"
            for name in estimators:
                rows.append({"dataset": dataset, "protocol": spec["protocol"], "n_tau": len(spec["tau_ms"]),
                             "volunteer": k + 1, "model": name, "median_cv_t1": median_cv(arrays[name][k], tissue, 2)})
    table = pd.DataFrame(rows)
    log.info("\n%s", table.to_string())
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)
