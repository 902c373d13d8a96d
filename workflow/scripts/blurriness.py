"""Section 5.1.2: T1 relative bias and CV in and around small structures, E1 against E2, from every method's maps."""

from qmri.data.io import save_arrays
from qmri.paper.blurriness import blurriness_table
from qmri.pipeline.fits import montecarlo_truth, paper_fits
from qmri.pipeline.rulejob import rule_job
from qmri.pipeline.study import Study, write_table
from qmri.simulation.brains import load_brain_model

with rule_job(snakemake) as log:
    study, inp = Study(snakemake.params.study), snakemake.input
    truth = montecarlo_truth(study, load_brain_model(inp.labels, inp.meta), snakemake.params.protocol)
    table, placed, e2 = blurriness_table(truth, paper_fits(inp))
    log.info("\n%s", table.to_string())
    write_table(table, snakemake.output.table)
    save_arrays(snakemake.output.maps, t1_e2=e2.kappa[e2.model.index("T1")], names=list(placed),
                structures=list(placed.values()))
