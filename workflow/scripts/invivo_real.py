"""Section 5.3 on real repeated scans: one slice of every scan as mapped by MLE, ResNet and RIM."""

import numpy as np

from qmri.data.io import save_arrays
from qmri.paper.invivo import median_cv
from qmri.physics.signal import model_for_task
from qmri.pipeline.fits import dataset_protocol, paper_fits, real_invivo_scans
from qmri.pipeline.rulejob import rule_job
from qmri.pipeline.study import Study

with rule_job(snakemake) as log:
    study, dataset = Study(snakemake.params.study), snakemake.wildcards.real
    _, masks = real_invivo_scans(study, dataset)
    maps = {method: m.astype(np.float32) for method, m in paper_fits(snakemake.input).items()}
    names = list(model_for_task(dataset_protocol(study, "invivo_real", dataset).task).param_names)
    for method, m in maps.items():
        cvs = [median_cv(m[v], masks[v], len(names) - 1) for v in range(len(masks))]
        log.info("%s: median CV of %s per volunteer (%%): %s", method, names[-1], [round(c, 2) for c in cvs])
    save_arrays(snakemake.output[0], mask=masks, **maps, param_names=names)
