"""How many fine-tuning iterations does a 23- or 25-TI model need? Quality against fine-tuning budget.

Fine-tunes the config's RIM and ResNet for ``--protocol`` from given 31-TI checkpoints (the pipeline's
settings, seed and patches; only the iterations vary), to each budget of ``--iterations`` (0: the start model
as it is), and scores every model with ``qmri.bench.quality.t1_quality`` on the same unseen subjects and
noise (the MLE as reference). Models trained to a smaller budget are the prefix of the longer run (the same
batches in the same order). ``--reference LABEL=METHOD:PATH`` adds other checkpoints (e.g. an earlier run's
fine-tuned models) to the same table.

    python studies/finetune/curves.py --rim results/models/rim/t1-31.pt --resnet results/models/resnet/t1-31.pt \\
        --trainset results/trainset/mni152.npz --protocol t1-23 --iterations 0,25,50,100,150 --out /tmp/finetune
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from qmri.bench.quality import t1_quality
from qmri.estimators.methods import mle_estimator, network_estimator
from qmri.pipeline.study import Study
from qmri.training import load_trainsets, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rim", type=Path, help="the RIM to fine-tune from")
    parser.add_argument("--resnet", type=Path, help="the ResNet to fine-tune from")
    parser.add_argument("--trainset", type=Path, nargs="+", required=True)
    parser.add_argument("--protocol", default="t1-23")
    parser.add_argument("--iterations", default="0,25,50,100,150")
    parser.add_argument("--reference", nargs="*", default=[], help="LABEL=METHOD:PATH")
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    study = Study.load(args.config)
    protocol = study.protocol(args.protocol)
    trainset = load_trainsets(args.trainset)
    args.out.mkdir(parents=True, exist_ok=True)
    models = {}
    for method, start in (("rim", args.rim), ("resnet", args.resnet)):
        if start is None:
            continue
        settings = study.training(method, protocol.name)[0]
        for budget in map(int, args.iterations.split(",")):
            path = args.out / f"{method}-{budget}.pt"
            if not path.exists():
                train(method, protocol.name, "t1", protocol.tau_ms, trainset, replace(settings, iterations=budget),
                      study.seed, path, args.out / f"{method}-{budget}.csv", start=start)
            models[f"{method} {budget}"] = (method, path)
    for spec in args.reference:
        label, _, where = spec.partition("=")
        method, _, path = where.partition(":")
        models[label] = (method, Path(path))
    estimators = {"mle": mle_estimator("t1", protocol.tau_ms, study.lambda_b)}
    estimators |= {label: network_estimator(path, method, "t1", protocol.tau_ms) for label, (method, path) in models.items()}
    table = t1_quality(study, protocol, estimators, subjects=args.subjects)
    table.to_csv(args.out / "quality.csv", index=False)
    summary = table.groupby("method", sort=False)[["abs_rb", "cv"]].mean().round(2)
    print(f"T1 on {args.subjects} unseen subjects, {protocol.name}, SNR 10, C = 10: mean over subjects of the "
          f"median |RB| and CV (percent)")
    print(summary.to_string())


if __name__ == "__main__":
    main()
