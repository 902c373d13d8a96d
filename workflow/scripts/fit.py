"""Map one dataset of one experiment with one estimator (MLE, or a RIM/ResNet by its training protocol)."""

from qmri.paper.acquisitions import fit, save_fit
from qmri.pipeline.fits import acquisitions, estimator
from qmri.pipeline.plan import SIMULATED
from qmri.pipeline.rulejob import rule_job
from qmri.pipeline.study import Study
from qmri.simulation.brains import load_brain_model

with rule_job(snakemake) as log:
    w, inp = snakemake.wildcards, snakemake.input
    study = Study(snakemake.params.study)
    brain = load_brain_model(inp.labels, inp.meta) if w.experiment in SIMULATED else None
    scans = acquisitions(study, w.experiment, w.dataset, brain)
    maps = fit(scans, estimator(study, w.experiment, w.dataset, w.estimator, inp.get("weights")), progress=True)
    log.info("%s %s by %s: maps %s", w.experiment, w.dataset, w.estimator, maps.shape)
    save_fit(snakemake.output[0], maps)
