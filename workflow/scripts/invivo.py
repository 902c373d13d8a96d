"""Section 5.3: the simulated volunteers' repeated scans as mapped by MLE, ResNet and RIM, with labels and truth."""

from qmri.data.io import save_arrays
from qmri.paper.invivo import repeatability_arrays
from qmri.pipeline.fits import dataset_protocol, paper_fits, volunteers
from qmri.pipeline.rulejob import rule_job
from qmri.pipeline.study import Study
from qmri.simulation.brains import load_brain_model

with rule_job(snakemake) as log:
    study, inp, dataset = Study(snakemake.params.study), snakemake.input, snakemake.wildcards.dataset
    protocol = dataset_protocol(study, "invivo", dataset)
    people = volunteers(study, load_brain_model(inp.labels, inp.meta), protocol.task)
    arrays = repeatability_arrays(people, paper_fits(inp))
    log.info("%d volunteers x %d scans, SNR %g", len(people), study.config["invivo"]["scans"],
             study.config["invivo"]["datasets"][dataset]["snr"])
    save_arrays(snakemake.output[0], **arrays, param_names=list(people[0].model.param_names))
