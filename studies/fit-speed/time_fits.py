"""Time the pipeline's fits of one run: the fit rule's calls (scans, estimator, ``fit``), without Snakemake.

    python studies/fit-speed/time_fits.py RUN_DIR [ESTIMATOR ...]

RUN_DIR is a finished run's root (its ``results/brains`` and ``results/models``); estimators default to the
MLE and the RIM and ResNet of the T1 Monte Carlo protocol. Prints the seconds of the Monte Carlo T1 and
blurriness fits of each with two torch threads, so two code versions are compared on the same machine in one session
(``PYTHONPATH=<other checkout>/src`` for the other).
"""

import sys
import time
from pathlib import Path

import torch

from qmri.paper.acquisitions import fit
from qmri.pipeline.fits import acquisitions, estimator
from qmri.pipeline.plan import split_estimator
from qmri.pipeline.study import Study
from qmri.simulation.brains import load_brain_model

run = Path(sys.argv[1])
names = sys.argv[2:] or ["mle", "rim-t1-31", "resnet-t1-31"]
torch.set_num_threads(2)
study = Study.load(run / "config.yaml")
brain = load_brain_model(run / "results/brains/mni152.nii.gz", run / "results/brains/mni152.json")
for name in names:
    method, protocol = split_estimator(name)
    weights = None if method == "mle" else run / f"results/models/{method}/{protocol}.pt"
    for experiment in ("montecarlo", "blurriness"):
        start = time.perf_counter()
        fit(acquisitions(study, experiment, "t1-31", brain), estimator(study, experiment, "t1-31", name, weights))
        print(f"{experiment} t1-31 {name}: {time.perf_counter() - start:.0f} s", flush=True)
