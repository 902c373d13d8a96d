"""Our any-protocol RIM against the MLE on the NIST phantom datasets of a study (digital or real sessions), scored
as the pipeline's phantom experiment scores them: mean |RB| and CV over the in-range spheres."""

from __future__ import annotations

import pandas as pd

from qmri.estimators.methods import START_ONLY, network_estimator
from qmri.paper.acquisitions import fit_all
from qmri.paper.phantom.analysis import repeatability_table, restricted_averages
from qmri.pipeline.fits import dataset_protocol, estimator, phantom_scans
from qmri.pipeline.study import Study


def score(study: Study, weights: dict[str, str | None], tasks: tuple[str, ...] = ("t1", "t2")) -> pd.DataFrame:
    """Return one row per phantom dataset of ``study`` for ``tasks`` and method (``mle``, ``arim`` and its start alone,
    ``START_ONLY``): ``mean_abs_rb_pct`` and ``mean_cv_pct`` over the in-range spheres (``restricted_averages``);
    ``weights``: the aRIM checkpoint per task (None or absent: the packaged one)."""
    rows = []
    for dataset in study.config["phantom"]["datasets"]:
        protocol = dataset_protocol(study, "phantom", dataset)
        if protocol.task not in tasks:
            continue
        scans = phantom_scans(study, dataset)
        estimators = {method: estimator(study, "phantom", dataset, method,
                                        weights.get(protocol.task) if method == "arim" else None)
                      for method in ("mle", "arim")}
        estimators[START_ONLY] = network_estimator(weights.get(protocol.task), "arim", protocol.task, protocol.tau_ms,
                                                   cell=False)
        maps = fit_all(scans.acquisitions(dataset), estimators)
        table, _ = repeatability_table(scans, maps, protocol.task, protocol.tau_ms)
        for method, row in restricted_averages(table).iterrows():
            rows.append({"dataset": dataset, "method": method, "mean_abs_rb_pct": row["rb"],
                         "mean_cv_pct": row["cv"]})
    return pd.DataFrame(rows)
