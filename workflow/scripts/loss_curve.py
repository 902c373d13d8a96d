"""Figure: the training loss curve of one model."""

import pandas as pd

from qmri.logs import logging_to
from qmri.paper.plots import loss_curve, save_figure

with logging_to(snakemake.log[0]):
    log = pd.read_csv(snakemake.input[0])
    fig = loss_curve(log, f"{snakemake.wildcards.method.upper()} {snakemake.wildcards.protocol}")
    save_figure(fig, snakemake.output[0])
