"""Score one arm of a study of the paper-form networks (the implementation study's, the budget study's), or the MLE
beside them (``qmri.bench.forms.score``)."""

from qmri.bench.forms import score
from qmri.pipeline.rulejob import rule_job
from qmri.pipeline.study import Study, write_table
from qmri.simulation.brains import load_brain_model

with rule_job(snakemake) as log:
    inp, arm = snakemake.input, snakemake.params.arm
    methods = {"mle": None} if arm == "mle" else {m: inp[m] for m in ("rim", "resnet") if m in inp.keys()}
    table = score(Study(snakemake.params.study), methods, load_brain_model(inp.labels, inp.meta))
    table.insert(0, "arm", arm)
    log.info("%s:\n%s", arm, table.round(3).to_string(index=False))
    write_table(table, snakemake.output[0])
