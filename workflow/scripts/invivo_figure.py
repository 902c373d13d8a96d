"""Figures 5, 6 and 8: maps of the simulated volunteers."""

from qmri.io import load_arrays
from qmri.logs import logging_to
from qmri.plots import invivo_maps, invivo_repeatability, save_figure

#: figure -> (drawing, parameter, display limit in ms, title)
FIGURES = {
    "fig5_invivo_t1": (invivo_maps, "T1", 2500.0, "IV_T1 (31 TIs): T1 maps of volunteer 1, scan 1"),
    "fig6_invivo_t1_noisy": (invivo_repeatability, "T1", 2500.0, "IV_T1 noisy (25 TIs): repeated scans and CV"),
    "fig8_invivo_t2": (invivo_maps, "T2", 200.0, "IV_T2: T2 maps of volunteer 1, scan 1"),
}

with logging_to(snakemake.log[0]):
    arrays = load_arrays(snakemake.input[0])
    draw, name, limit, title = FIGURES[snakemake.wildcards.figure]
    maps = {m: arrays[m] for m in ("mle", "resnet", "rim")}
    parameter = arrays["param_names"].tolist().index(name)
    fig = draw(maps, arrays["labels"], arrays["truth"], parameter, name, "ms", limit, title)
    save_figure(fig, snakemake.output.png, snakemake.output.pdf)
