"""Section 5.2: repeated scans of the NIST phantom's sphere array (digital or real sessions), every method."""

import torch

from qmri.data.io import atomic_path, save_arrays
from qmri.estimators.methods import estimators_for
from qmri.logs import logging_to
from qmri.paper.phantom.acquisitions import digital_scans, real_scans
from qmri.paper.phantom.analysis import restricted_averages, test_retest

with logging_to(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    if "digital" in p.spec:
        scans = digital_scans(p.task, p.tau_ms, p.spec["digital"]["snr"], p.spec["digital"]["scans"], p.seed,
                              **p.geometry)
    else:
        scans = real_scans(p.spec["sessions"], p.task, p.tau_ms)
    estimators = estimators_for(p.task, p.tau_ms, {"rim": snakemake.input.rim, "resnet": snakemake.input.resnet},
                                p.lambda_b)
    table, arrays = test_retest(scans, estimators, p.task, p.tau_ms)
    log.info("%d scans, sphere wall radius %.1f px; restricted-domain averages (%%):\n%s",
             len(scans.images), scans.radius_px, restricted_averages(table).round(2).to_string())
    with atomic_path(snakemake.output.table) as tmp:
        table.to_csv(tmp, index=False)
    save_arrays(snakemake.output.arrays, **arrays)
