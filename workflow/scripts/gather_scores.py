"""Gather the scores of a study's arms into one table (results/forms/forms.csv, results/budget/budget.csv)."""

import pandas as pd

from qmri.pipeline.rulejob import rule_job
from qmri.pipeline.study import write_table

with rule_job(snakemake) as log:
    table = pd.concat([pd.read_csv(path) for path in snakemake.input], ignore_index=True)
    log.info("%d arms, %d rows", table["arm"].nunique(), len(table))
    write_table(table, snakemake.output[0])
