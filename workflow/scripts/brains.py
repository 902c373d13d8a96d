"""Build one brain model (label volume + slice split) from its config entry."""

from qmri.pipeline.rulejob import rule_job
from qmri.simulation.brains import build_brain_model, save_brain_model

with rule_job(snakemake) as log:
    model = build_brain_model(snakemake.wildcards.model, **snakemake.params.spec)
    log.info("%s: %d training and %d test slices", model.name, len(model.train_slices), len(model.test_slices))
    save_brain_model(model, snakemake.output.labels, snakemake.output.meta)
