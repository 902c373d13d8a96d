"""Our RIM against the MLE on the NIST phantom, digital and real, as the pipeline's phantom rule scores them
(run from the repository root; no paper network is needed):

    python studies/arim/phantoms.py [--weights-t1 PATH] [--weights-t2 PATH] [--rim-t1 PATH ...] [--csv out.csv]

Datasets: hp-t1 and hp-t2 of config.yaml (digital, SNR 30, 4 scans) and nist-t1 and nist-t2 of
presets/real-phantom.yaml (two real sessions; shared data under ../shared). Prints, per dataset and
method, the mean |RB| and CV (%) over the in-range spheres (``restricted_averages``). ``--rim-t1`` adds
paper-form RIM checkpoints (any number of images: a RIM trained on 31 TIs maps the 23-TI digital phantom),
e.g. the budget study's ``studies/rim-budget/rim_t1-31_{1k,3k,10k}.pt``.
"""

import argparse
import copy
from pathlib import Path

import pandas as pd
import yaml
from snakemake.utils import update_config

from qmri.paper.acquisitions import fit_all
from qmri.paper.phantom.analysis import repeatability_table, restricted_averages
from qmri.pipeline.fits import dataset_protocol, estimator, phantom_scans
from qmri.pipeline.study import Study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights-t1", help="arim checkpoint for T1 (default: the packaged one)")
    parser.add_argument("--weights-t2", help="arim checkpoint for T2 (default: the packaged one)")
    parser.add_argument("--rim-t1", nargs="*", default=[], help="paper-form RIM checkpoints for the T1 datasets")
    parser.add_argument("--digital-only", action="store_true", help="skip the real sessions")
    parser.add_argument("--csv", type=Path, help="write the averages here")
    args = parser.parse_args()
    base = yaml.safe_load(Path("config.yaml").read_text())
    preset = yaml.safe_load(Path("presets/real-phantom.yaml").read_text())
    real = copy.deepcopy(base)
    update_config(real, preset)  # as snakemake merges a --configfile
    weights = {"t1": args.weights_t1, "t2": args.weights_t2}
    rows = []
    runs = [(base, base["phantom"]["datasets"])] + ([] if args.digital_only else [(real, preset["phantom"]["datasets"])])
    for config, datasets in runs:
        study = Study(config)
        for dataset in datasets:
            protocol, scans = dataset_protocol(study, "phantom", dataset), phantom_scans(study, dataset)
            estimators = {m: estimator(study, "phantom", dataset, m, weights[protocol.task] if m == "arim" else None)
                          for m in ("mle", "arim")}
            if protocol.task == "t1":
                estimators |= {f"rim {Path(p).stem}": estimator(study, "phantom", dataset, "rim-any", p)
                               for p in args.rim_t1}
            maps = fit_all(scans.acquisitions(dataset), estimators)
            table, _ = repeatability_table(scans, maps, protocol.task, protocol.tau_ms)
            averages = restricted_averages(table)
            for method, row in averages.iterrows():
                rows.append({"dataset": dataset, "method": method, "mean_abs_rb_pct": row["rb"], "mean_cv_pct": row["cv"]})
            print(averages.round(2).rename_axis(dataset).to_string(), flush=True)
    if args.csv:
        pd.DataFrame(rows).to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
