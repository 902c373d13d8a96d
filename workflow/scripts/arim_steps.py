"""Choose how many steps the trained aRIM runs: the step closest to the truth on validation slices
(``qmri.bench.steps``); write its table and the checkpoint set to stop there."""

from qmri.bench.steps import chosen_steps, step_errors, step_summary
from qmri.pipeline.rulejob import rule_job
from qmri.pipeline.study import Study, write_table
from qmri.training.checkpoints import stopped_checkpoint

with rule_job(snakemake) as log:
    table = step_errors(snakemake.input.model, Study(snakemake.params.study))
    steps = chosen_steps(table)
    log.info("validation error per step count:\n%s",
             table.groupby(["snr", "steps"])[["rmse_pct", "abs_rb_pct", "cv_pct"]].mean().round(2).to_string())
    write_table(table, snakemake.output.csv)
    stopped_checkpoint(snakemake.input.model, snakemake.output.model, steps, step_summary(table))
    log.info("runs %d steps", steps)
