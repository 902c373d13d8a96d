"""Figures 5, 6 and 8: maps of the simulated volunteers; one repeatability figure per real dataset."""

import numpy as np

from qmri.data.io import load_arrays
from qmri.logs import logging_to
from qmri.paper import tissues as T
from qmri.paper.plots import invivo_maps, invivo_repeatability, save_figure

#: upper end of the colour scale of each relaxation time (ms)
DISPLAY_LIMIT_MS = {"T1": 2500.0, "T2": 200.0}
#: figure -> (parameter, title); fig. 6 shows repeatability, the others maps
SIMULATED = {
    "fig5_invivo_t1": ("T1", "IV_T1 (31 TIs): T1 maps of volunteer 1, scan 1"),
    "fig6_invivo_t1_noisy": ("T1", "IV_T1 noisy (25 TIs): repeated scans and CV"),
    "fig8_invivo_t2": ("T2", "IV_T2: T2 maps of volunteer 1, scan 1"),
}

with logging_to(snakemake.log[0]):
    arrays = load_arrays(snakemake.input[0])
    figure = snakemake.wildcards.figure
    maps = {m: arrays[m] for m in ("mle", "resnet", "rim")}
    names = arrays["param_names"].tolist()
    if figure in SIMULATED:
        name, title = SIMULATED[figure]
        limit = DISPLAY_LIMIT_MS[name]
        if figure == "fig6_invivo_t1_noisy":
            brain = np.isin(arrays["labels"][0], T.BRAIN_LABELS)
            fig = invivo_repeatability(maps, brain, names.index(name), name, "ms", limit, title)
        else:
            fig = invivo_maps(maps, arrays["labels"], arrays["truth"], names.index(name), name, "ms", limit, title)
    else:  # a real dataset: repeatability over its mask
        name = names[-1]  # T1 or T2
        fig = invivo_repeatability(maps, arrays["mask"][0], len(names) - 1, name, "ms", DISPLAY_LIMIT_MS[name],
                                   f"{figure}: real repeated scans of volunteer 1, CV over the head mask")
    save_figure(fig, snakemake.output.png, snakemake.output.pdf)
