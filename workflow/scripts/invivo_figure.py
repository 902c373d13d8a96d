"""Figures 5, 6 and 8: maps or repeatability of the simulated volunteers; repeatability of each real dataset."""

import numpy as np

from qmri.data.io import load_arrays
from qmri.paper.naming import OUR_METHODS, PAPER_METHODS
from qmri.paper.plots import invivo_maps, invivo_repeatability, save_figure
from qmri.pipeline.rulejob import rule_job
from qmri.simulation import tissues as T

#: upper end of the colour scale of each relaxation time (ms), and the wide scale of fig. 8h-o (CSF)
DISPLAY_LIMIT_MS = {"T1": 2500.0, "T2": 200.0}
WIDE_LIMIT_MS = {"T2": 2500.0}
#: side of the detail square of fig. 5d-f, as a fraction of the image
ZOOM_FRACTION = 0.3

with rule_job(snakemake):
    arrays, p = load_arrays(snakemake.input[0]), snakemake.params
    maps = {m: arrays[m] for m in PAPER_METHODS + OUR_METHODS if m in arrays}
    names = arrays["param_names"].tolist()
    name = names[-1]  # the relaxation time: T1 or T2
    parameter, limit = len(names) - 1, DISPLAY_LIMIT_MS[name]
    if p.view == "maps":
        zoom = int(ZOOM_FRACTION * arrays["labels"].shape[-1]) if name == "T1" else None
        fig = invivo_maps(maps, arrays["labels"], arrays["truth"], parameter, name, "ms", limit, p.title,
                          WIDE_LIMIT_MS.get(name), zoom)
    else:  # repeatability over the brain (simulated volunteers) or the head mask (real scans)
        region = np.isin(arrays["labels"][0], T.BRAIN_LABELS) if p.view == "repeatability" else arrays["mask"][0]
        fig = invivo_repeatability(maps, region, parameter, name, "ms", limit, p.title)
    save_figure(fig, snakemake.output.png, snakemake.output.pdf)
