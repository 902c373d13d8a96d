"""Figure: a few simulated training patches and two of their weighted images."""

import numpy as np

from qmri.data.io import load_arrays
from qmri.paper.plots import save_figure, trainset_examples
from qmri.pipeline.rulejob import rule_job
from qmri.simulation.simulate import spread_by_noise, weighted_images

with rule_job(snakemake):
    p = snakemake.params
    trainset = load_arrays(snakemake.input[0])
    pick = spread_by_noise(trainset["sigma"], p.n_patches)
    kappa, sigma = trainset["kappa"][pick], trainset["sigma"][pick]
    images = weighted_images(kappa, sigma, p.tau_ms, p.task, p.seed)
    fig = trainset_examples(kappa, sigma, images, np.asarray(p.tau_ms), (0, len(p.tau_ms) - 1))
    save_figure(fig, snakemake.output.png, snakemake.output.pdf)
