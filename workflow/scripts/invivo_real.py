"""Section 5.3 on real repeated scans: one slice of every scan mapped by MLE, ResNet and RIM."""

import torch

from qmri.data.io import save_arrays
from qmri.estimators.methods import estimators_for
from qmri.logs import logging_to
from qmri.paper.invivo import map_real, median_cv, real_scans
from qmri.physics.signal import model_for_task

with logging_to(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    images, masks = real_scans(p.spec["volunteers"], p.task, p.tau_ms, p.spec.get("slice"))
    estimators = estimators_for(p.task, p.tau_ms, {"rim": snakemake.input.rim, "resnet": snakemake.input.resnet},
                                p.lambda_b)
    maps = map_real(images, masks, estimators)
    names = list(model_for_task(p.task).param_names)
    for method, m in maps.items():
        cvs = [median_cv(m[v], masks[v], len(names) - 1) for v in range(len(masks))]
        log.info("%s: median CV of %s per volunteer (%%): %s", method, names[-1], [round(c, 2) for c in cvs])
    save_arrays(snakemake.output[0], mask=masks, **maps, param_names=names)
