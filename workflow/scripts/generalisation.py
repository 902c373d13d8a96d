"""Section 5.4: every T1 RIM on every T1 dataset (volunteers and phantoms), median CV next to the MLE and the
dataset's ResNet, and each model's per-pixel CV against the dataset's own RIM."""

import pandas as pd

from qmri.paper.acquisitions import load_fit
from qmri.paper.invivo import generalisation_rows, generalisation_table
from qmri.paper.phantom.analysis import sphere_pixel_cvs
from qmri.pipeline.fits import dataset_protocol, phantom_scans, volunteers
from qmri.pipeline.rulejob import rule_job
from qmri.pipeline.study import Study, write_table
from qmri.simulation.brains import load_brain_model

with rule_job(snakemake) as log:
    study, inp = Study(snakemake.params.study), snakemake.input
    estimates = {"invivo": {}, "phantom": {}}
    for key, path in snakemake.params.fits.items():  # "experiment|dataset|model" -> fit file
        experiment, dataset, model = key.split("|")
        estimates[experiment].setdefault(dataset, {})[model] = load_fit(path)
    people = volunteers(study, load_brain_model(inp.labels, inp.meta), "t1")
    datasets = {d: dataset_protocol(study, "invivo", d) for d in estimates["invivo"]}
    tables = [generalisation_table(people, datasets, estimates["invivo"])]
    for dataset, maps in estimates["phantom"].items():
        protocol = dataset_protocol(study, "phantom", dataset)
        cvs = sphere_pixel_cvs(maps, phantom_scans(study, dataset), protocol.task)
        tables.append(pd.DataFrame(generalisation_rows(dataset, protocol, "phantom", cvs)))
    table = pd.concat(tables, ignore_index=True)
    log.info("\n%s", table.to_string())
    write_table(table, snakemake.output[0])
