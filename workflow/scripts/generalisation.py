"""Section 5.4: every T1 RIM on every T1 dataset, median CV next to the MLE and the dataset's ResNet."""

from qmri.logs import logging_to
from qmri.paper.acquisitions import load_fit
from qmri.paper.brains import load_brain_model
from qmri.paper.fits import dataset_protocol, volunteers
from qmri.paper.invivo import generalisation_table
from qmri.paper.study import Study, write_table

with logging_to(snakemake.log[0]) as log:
    study, inp = Study(snakemake.params.study), snakemake.input
    people = volunteers(study, load_brain_model(inp.labels, inp.meta), "t1")
    estimates = {}
    for key, path in snakemake.params.fits.items():  # "dataset|model" -> fit file
        dataset, model = key.split("|")
        estimates.setdefault(dataset, {})[model] = load_fit(path)
    datasets = {d: dataset_protocol(study, "invivo", d) for d in estimates}
    table = generalisation_table(people, datasets, estimates)
    log.info("\n%s", table.to_string())
    write_table(table, snakemake.output[0])
