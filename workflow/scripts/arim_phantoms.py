"""Score the trained aRIM of one task against the MLE on the run's phantom datasets of that task and those of the
presets given (``qmri.bench.phantoms.score``)."""

import copy

import pandas as pd
import yaml
from snakemake.utils import update_config

from qmri.bench.phantoms import score
from qmri.pipeline.rulejob import rule_job
from qmri.pipeline.study import Study, write_table

with rule_job(snakemake) as log:
    inp, run, task = snakemake.input, snakemake.params.study, snakemake.wildcards.task
    weights, tasks = {task: inp.model}, (task,)
    tables = [score(Study(run), weights, tasks)]
    for preset in inp.presets:
        config, extra = copy.deepcopy(run), yaml.safe_load(open(preset))
        update_config(config, extra)  # as snakemake merges a --configfile
        config["phantom"]["datasets"] = extra["phantom"]["datasets"]
        tables.append(score(Study(config), weights, tasks))
    table = pd.concat(tables, ignore_index=True)
    log.info("in-range spheres:\n%s", table.round(2).to_string(index=False))
    write_table(table, snakemake.output[0])
