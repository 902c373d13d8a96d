"""Write the reproduction report from the experiment tables."""

import os
from pathlib import Path

import pandas as pd

from qmri import __version__
from qmri.data.io import atomic_path
from qmri.estimators.networks.checkpoint import load_model
from qmri.logs import logging_to
from qmri.paper import report
from qmri.paper.sharpness import paired_tests
from qmri.provenance import git_revision, hardware

with logging_to(snakemake.log[0]) as log:
    inp = snakemake.input
    t1, t2 = pd.read_csv(inp.montecarlo_t1), pd.read_csv(inp.montecarlo_t2)
    timing = pd.read_csv(inp.timing)
    claims = (report.simulation_claims(t1, t2) + report.blurriness_claims(pd.read_csv(inp.blurriness))
              + report.timing_claims(timing)
              + report.sharpness_claims(paired_tests(pd.read_csv(inp.sharpness)))
              + report.phantom_claims({Path(f).stem: pd.read_csv(f) for f in inp.phantom}))
    out_dir = Path(snakemake.output[0]).parent
    context = {
        "qmri version": __version__,
        "git revision": git_revision(),
        "timing hardware": timing["hardware"].iloc[0],
        "report written on": hardware(),
        "Monte Carlo": f"{snakemake.params.config['montecarlo']['repetitions']} noise realisations per SNR "
        f"(paper: 100); brain anatomy source: {snakemake.params.config['brains']['source']}",
    }
    figures = [os.path.relpath(f, out_dir) for f in inp.figures]
    models = report.training_table([load_model(path)[1] for path in inp.models])
    text = report.render(claims, report.headline_table(t1), context, figures, snakemake.params.config, models)
    log.info("%d claims, %d disagree", len(claims), sum(c.holds is False for c in claims))
    with atomic_path(snakemake.output[0]) as tmp:
        Path(tmp).write_text(text)
