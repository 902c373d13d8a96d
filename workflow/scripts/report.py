"""Write the reproduction report: the paper's claims register judged on the experiment tables and arrays."""

import os
from pathlib import Path

import numpy as np
import pandas as pd

from qmri import __version__
from qmri.data.io import atomic_path
from qmri.estimators.networks.checkpoint import load_model
from qmri.paper import fidelity, report, runcost
from qmri.paper.audit import evidence
from qmri.paper.audit.register import CLAIMS, judge_all, judge_real_phantom, unstable
from qmri.pipeline.plan import form_choices, seed_count
from qmri.pipeline.rulejob import rule_job
from qmri.provenance import git_revision, hardware

with rule_job(snakemake) as log:
    inp, config = snakemake.input, snakemake.params.config
    t1, t2 = pd.read_csv(inp.montecarlo_t1), pd.read_csv(inp.montecarlo_t2)
    timing = pd.read_csv(inp.timing)
    phantoms = {Path(f).stem: pd.read_csv(f) for f in inp.phantom}
    seeds = seed_count(config)
    by_seed = [evidence.load({"t1": inp.montecarlo_t1, "t2": inp.montecarlo_t2}, inp.blurriness, inp.timing,
                             inp.phantom, inp.sharpness, inp.invivo, inp.generalisation, evidence.run_data(config), k,
                             inp.get("budget"))
               for k in range(1, seeds + 1)]
    found = by_seed[0]
    verdicts, real = judge_all(found), judge_real_phantom(found)
    moved = unstable([verdicts] + [judge_all(other) for other in by_seed[1:]])
    invivo = {Path(f).stem: dict(np.load(f)) for f in [*inp.invivo, *inp.invivo_real]}
    tables = {"Volunteers (section 6.3): repeatability and outliers": report.volunteer_table(invivo),
              "Generalisability (section 6.4, fig. 9): median CV of T1 (%)":
                  report.generalisation_summary(pd.read_csv(inp.generalisation)),
              "Beyond the paper: seconds per 256 x 256 x 31 slice, our MLE vectorised over voxels":
                  report.timing_table(timing)}
    scores = pd.read_csv(inp.forms) if "forms" in inp.keys() else None
    if scores is not None:
        tables["Beyond the paper: which implementation choices matter (the T1 Monte Carlo protocol's networks "
               "trained again per arm; `snakemake forms`, docs: the networks)"] = fidelity.study_table(scores)
    if "budget" in inp.keys():
        tables["Beyond the paper: is it the training budget? (the T1 Monte Carlo protocol's networks in this run's "
               "form trained for each budget; `snakemake budget`, docs: the networks)"] = fidelity.study_table(
            pd.read_csv(inp.budget))
    tables["The paper's networks against their authors' code (EMCqMRI 1.1.17): every difference, and its measured "
           "effect where this run has the implementation study"] = fidelity.fidelity_table(scores, form_choices(config))
    jobs = runcost.read_benchmarks(snakemake.params.benchmarks)
    if len(jobs):
        where = f"Snakemake's timing table of every job in {snakemake.params.benchmarks}/; report written on {hardware()}"
        tables[f"Run cost by kind of work ({where})"] = runcost.by_kind(jobs)
        tables["Run cost by rule"] = runcost.by_rule(jobs)
    ours = report.ours_table(t1, t2, phantoms, timing) if "arim" in set(t1["method"]) else None
    context = {
        "qmri version": __version__,
        "git revision": git_revision(),
        "timing hardware": timing["hardware"].iloc[0],
        "report written on": hardware(),
        "Monte Carlo": f"{config['montecarlo']['repetitions']} noise realisations per SNR (paper: 100); brain "
        f"anatomy source: {config['brains']['source']}",
        "simulated volunteers": f"{config['invivo']['volunteers']} x {config['invivo']['scans']} scans, tissue "
        f"values: {config['invivo'].get('tissues', 'table1')}",
    }
    out_dir = Path(snakemake.output[0]).parent
    figures = [os.path.relpath(f, out_dir) for f in inp.figures]
    models = report.training_table([load_model(path)[1] for path in inp.models])
    text = report.render(CLAIMS, verdicts, report.headline_table(t1), context, figures, config, models, ours, tables,
                         found.run, real, seeds, moved)
    log.info("%d rows: %s; %d unstable over %d seeds", len(CLAIMS), report.counts(list(verdicts.values())), len(moved),
             seeds)
    with atomic_path(snakemake.output[0]) as tmp:
        Path(tmp).write_text(text)
