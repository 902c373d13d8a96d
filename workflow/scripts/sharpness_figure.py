"""Figure 7: the profile lines, one sigmoid fit, and |nu| per method with paired t-tests."""

import pandas as pd

from qmri.data.io import load_arrays
from qmri.paper.plots import boundary_sharpness, save_figure
from qmri.paper.sharpness import boundary_lines, paired_tests
from qmri.pipeline.rulejob import rule_job

with rule_job(snakemake):
    arrays = load_arrays(snakemake.input.arrays)
    parameter = arrays["param_names"].tolist().index("T1")
    maps = {m: arrays[m][0, 0, parameter] for m in ("mle", "resnet", "rim")}
    table = pd.read_csv(snakemake.input.table)
    table = table[table["method"].isin(maps)]  # the run's own networks (not those retrained with other seeds)
    lines = boundary_lines(arrays["labels"][0], pixel_mm=snakemake.params.pixel_mm)
    fig = boundary_sharpness(maps, lines, table, paired_tests(table), snakemake.params.pixel_mm,
                             data=snakemake.params.data)
    save_figure(fig, snakemake.output.png, snakemake.output.pdf)
