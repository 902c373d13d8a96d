"""Figure 3: blurriness of small structures."""

import pandas as pd

from qmri.data.io import load_arrays
from qmri.paper.plots import blurriness, save_figure
from qmri.pipeline.rulejob import rule_job

with rule_job(snakemake):
    maps = load_arrays(snakemake.input.maps)
    placed = dict(zip(maps["names"].tolist(), maps["structures"]))
    fig = blurriness(pd.read_csv(snakemake.input.table), maps["t1_e2"], placed, snakemake.params.title)
    save_figure(fig, snakemake.output.png, snakemake.output.pdf)
