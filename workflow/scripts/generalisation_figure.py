"""Figure 9: generalisability of the RIMs across inversion-time protocols."""

import pandas as pd

from qmri.paper.plots import generalisation, save_figure
from qmri.pipeline.rulejob import rule_job

with rule_job(snakemake):
    save_figure(generalisation(pd.read_csv(snakemake.input[0])), snakemake.output.png, snakemake.output.pdf)
