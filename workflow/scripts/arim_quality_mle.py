"""Fit the MLE's rows of the aRIM's T1 quality score once (``qmri.bench.quality.mle_table``): every aRIM the
run trains is scored against them, and retraining does not fit them again."""

from qmri.bench.quality import mle_table
from qmri.pipeline.rulejob import rule_job
from qmri.pipeline.study import Study, write_table

with rule_job(snakemake):
    write_table(mle_table(Study(snakemake.params.study)), snakemake.output[0])
