"""Section 5.1.1: per-pixel metrics over the brain from every method's maps of the C realisations per SNR."""

from qmri.paper.montecarlo import noise_robustness_table
from qmri.pipeline.fits import montecarlo_truth, paper_fits
from qmri.pipeline.rulejob import rule_job
from qmri.pipeline.study import Study, write_table
from qmri.simulation.brains import load_brain_model

with rule_job(snakemake) as log:
    study, inp = Study(snakemake.params.study), snakemake.input
    truth = montecarlo_truth(study, load_brain_model(inp.labels, inp.meta), snakemake.wildcards.protocol)
    table = noise_robustness_table(truth, study.config["montecarlo"]["snr"], paper_fits(inp))
    log.info("%d brain pixels, %d repetitions per SNR", truth.score_mask.sum(), study.config["montecarlo"]["repetitions"])
    write_table(table, snakemake.output[0])
