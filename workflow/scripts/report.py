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
    timing, blurriness = pd.read_csv(inp.timing), pd.read_csv(inp.blurriness)
    phantoms = {Path(f).stem: pd.read_csv(f) for f in inp.phantom}
    paper = report.paper_methods  # the paper's statements are judged among its three methods
    claims = (report.simulation_claims(paper(t1), paper(t2)) + report.blurriness_claims(paper(blurriness))
              + report.timing_claims(paper(timing))
              + report.sharpness_claims(paired_tests(paper(pd.read_csv(inp.sharpness))))
              + report.phantom_claims({d: paper(t) for d, t in phantoms.items()}))
    ours = report.ours_table(t1, t2, phantoms, timing) if "arim" in set(t1["method"]) else None
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
    text = report.render(claims, report.headline_table(t1), context, figures, snakemake.params.config, models, ours,
                         pd.read_csv(inp.budget))
    log.info("%d claims, %d disagree", len(claims), sum(c.holds is False for c in claims))
    with atomic_path(snakemake.output[0]) as tmp:
        Path(tmp).write_text(text)
