"""Figure: the training loss curve of one model."""

import pandas as pd

from qmri.paper.plots import loss_curve, save_figure
from qmri.pipeline.rulejob import rule_job

with rule_job(snakemake):
    log = pd.read_csv(snakemake.input[0])
    fig = loss_curve(log, f"{snakemake.wildcards.method.upper()} {snakemake.wildcards.protocol}",
                     snakemake.params.loss)
    save_figure(fig, snakemake.output[0])
