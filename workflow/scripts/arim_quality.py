"""Score the trained aRIM's T1 model against the MLE on unseen subjects (``qmri.bench.quality``, as
``qmri bench quality --arim --mle-from`` does: the MLE's rows fitted once by ``arim_quality_mle``); its printed
tables go to the log."""

import contextlib
import io

from qmri.bench.quality import quality_benchmark
from qmri.pipeline.rulejob import rule_job
from qmri.pipeline.study import Study, write_table

with rule_job(snakemake) as log:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        table = quality_benchmark(Study(snakemake.params.study), {"arim": snakemake.input.model},
                                  mle_from=snakemake.input.mle)
    log.info("%s", printed.getvalue())
    write_table(table, snakemake.output[0])
