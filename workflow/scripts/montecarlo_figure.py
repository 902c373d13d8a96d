"""Figure 2 / A1: box plots of relative bias and CV against SNR."""

import pandas as pd

from qmri.paper.plots import noise_robustness, save_figure
from qmri.pipeline.rulejob import rule_job

with rule_job(snakemake):
    fig = noise_robustness(pd.read_csv(snakemake.input[0]), snakemake.params.title)
    save_figure(fig, snakemake.output.png, snakemake.output.pdf)
