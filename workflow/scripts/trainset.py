"""Simulate the training patches of one brain model."""

from qmri.data.io import save_arrays
from qmri.pipeline.rulejob import rule_job
from qmri.simulation.brains import load_brain_model
from qmri.simulation.simulate import settings_from_config, simulate_trainset

with rule_job(snakemake) as log:
    model = load_brain_model(snakemake.input.labels, snakemake.input.meta)
    settings = settings_from_config(snakemake.params.settings)
    trainset = simulate_trainset(model, settings, snakemake.params.seed)
    log.info("%s: %d patches, sigma %.4f..%.4f", model.name, len(trainset["sigma"]),
             trainset["sigma"].min(), trainset["sigma"].max())
    save_arrays(snakemake.output[0], **trainset)
