"""Figure 9: generalisability of the RIMs across inversion-time protocols."""

import pandas as pd

from qmri.logs import logging_to
from qmri.paper.plots import generalisation, save_figure

with logging_to(snakemake.log[0]):
    save_figure(generalisation(pd.read_csv(snakemake.input[0])), snakemake.output.png, snakemake.output.pdf)
