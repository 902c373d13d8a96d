"""Figure 4 / A2 (and one per real phantom dataset): per-sphere relative bias and CV, and the ROIs."""

import pandas as pd

from qmri.data.io import load_arrays
from qmri.paper.naming import METHOD_NAMES
from qmri.paper.phantom.analysis import restricted_averages
from qmri.paper.phantom.reference import measured_parameter
from qmri.paper.plots import phantom, save_figure
from qmri.pipeline.rulejob import rule_job

with rule_job(snakemake):
    table = pd.read_csv(snakemake.input.table)
    parameter = measured_parameter(table)
    averages = restricted_averages(table)
    summary = ", ".join(f"{METHOD_NAMES[m]} |RB| {r['rb']:.1f} % CV {r['cv']:.1f} %" for m, r in averages.iterrows()
                        if m in METHOD_NAMES)
    title = f"{snakemake.params.data}\n{parameter} spheres inside the tau range: {summary}"
    save_figure(phantom(table, load_arrays(snakemake.input.arrays), parameter, title),
                snakemake.output.png, snakemake.output.pdf)
