"""Section 5.2: per-sphere metrics of the NIST phantom's repeated scans (digital or real sessions) from every method's maps."""

from qmri.data.io import save_arrays
from qmri.paper.phantom.analysis import repeatability_table, restricted_averages
from qmri.pipeline.fits import dataset_protocol, paper_fits, phantom_scans
from qmri.pipeline.rulejob import rule_job
from qmri.pipeline.study import Study, write_table

with rule_job(snakemake) as log:
    study, inp, dataset = Study(snakemake.params.study), snakemake.input, snakemake.wildcards.phantom
    protocol, scans = dataset_protocol(study, "phantom", dataset), phantom_scans(study, dataset)
    table, arrays = repeatability_table(scans, paper_fits(inp), protocol.task, protocol.tau_ms)
    log.info("%d scans, sphere wall radius %.1f px; restricted-domain averages (%%):\n%s",
             len(scans.images), scans.radius_px, restricted_averages(table).round(2).to_string())
    write_table(table, snakemake.output.table)
    save_arrays(snakemake.output.arrays, **arrays)
