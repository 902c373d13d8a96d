"""Package a trained arim checkpoint with its model card (run from the repository root).

    python studies/arim/ship.py t1 results/models/arim/t1.pt --quality studies/arim/quality-t1.csv \
        --phantoms studies/arim/phantoms.csv

The checkpoint (a finished one, or a running training's ``.resume`` file, exported at its last save) is
copied to ``src/qmri/estimators/networks/weights/arim-<task>.pt``; the card beside it holds the training
data, budget, hardware and git revision from the checkpoint, and the measured quality read from the CSVs
given: ``qmri bench quality --csv`` (T1) and ``studies/arim/phantoms.py --csv`` (in-range sphere averages
of the task's phantom datasets, ours and the MLE).
"""

import argparse
import json
import shutil
from pathlib import Path

import pandas as pd
import torch

from qmri.estimators.networks import packaged_weights
from qmri.training import export_resume


def quality_summary(path: Path) -> dict:
    """Mean over subjects of |RB| and CV per method, subjects with CV below the MLE's, worst B error."""
    table = pd.read_csv(path)
    wide = table.pivot(index="subject", columns="method", values=["abs_rb", "cv", "b_estimate", "b"])
    return {"command": "qmri bench quality --arim (8 subjects, SNR 10, 31 TIs, C = 10)",
            "mean_abs_rb_pct": wide["abs_rb"].mean().round(2).to_dict(),
            "mean_cv_pct": wide["cv"].mean().round(2).to_dict(),
            "subjects_cv_below_mle": int((wide["cv"]["arim"] < wide["cv"]["mle"]).sum()),
            "subjects": len(wide),
            "max_abs_b_error": round(float((wide["b_estimate"]["arim"] - wide["b"]["arim"]).abs().max()), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["t1", "t2"])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--quality", type=Path, help="qmri bench quality --csv output (T1)")
    parser.add_argument("--phantoms", type=Path, help="studies/arim/phantoms.py --csv output")
    args = parser.parse_args()
    target = packaged_weights(args.task)
    if args.checkpoint.suffix == ".resume":
        export_resume(args.checkpoint, target)
    else:
        shutil.copyfile(args.checkpoint, target)
    meta = torch.load(target, weights_only=True)
    card = {
        "model": f"arim {args.task}: any-protocol recurrent inference machine (qmri), one model for every protocol",
        "task": args.task, "parameters": list(meta["param_names"]),
        "architecture": {"steps": meta["settings"]["rim_steps"], "features": meta["settings"]["rim_features"],
                         "pooled": True, "start": "grid search with B pooled over a 65-pixel window"},
        "training_data": meta["data"], "batch_size": meta["settings"]["batch_size"],
        "learning_rate": meta["settings"]["learning_rate"], "seed": meta["seed"],
        "iterations": meta["iterations"], "train_seconds": round(meta["train_seconds"]),
        "hardware": meta["hardware"], "autocast": meta["autocast"], "torch_version": meta["torch_version"],
        "git_revision": meta["git_revision"], "qmri_version": meta["qmri_version"],
        "measured": {},
    }
    if args.quality:
        card["measured"]["bench_quality"] = quality_summary(args.quality)
    if args.phantoms:
        table = pd.read_csv(args.phantoms)
        for dataset, rows in table[table["dataset"].str.endswith(args.task)].groupby("dataset"):
            card["measured"][f"phantom {dataset} (studies/arim/phantoms.py), in-range spheres"] = {
                method: {"mean_abs_rb_pct": round(r.mean_abs_rb_pct, 2), "mean_cv_pct": round(r.mean_cv_pct, 2)}
                for method, r in rows.set_index("method").iterrows()}
    target.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {target} and its card ({target.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
