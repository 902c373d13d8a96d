"""The report's account of the paper-form networks against their authors' code: every difference, the
implementation study's table and each difference's measured effect (scores: ``qmri.bench.forms``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Difference:
    """One implementation difference: the arm that measures it, the paper's words, the authors' code, ours."""

    arm: str
    item: str
    paper: str
    authors: str
    ours: str


#: every difference between the paper's text, the authors' code (EMCqMRI 1.1.17) and ours, by arm
FIDELITY = (
    Difference("activation", "RIM cell activation", "tanh (section 4.4.4)", "ReLU (core/models/inference/rnn.py)",
               "tanh; the authors' variant follows their code"),
    Difference("gradient", "likelihood gradient fed to the RIM", "the gradient of the log-likelihood (eq. 4), scale "
               "not given", "2 J^T(f - S) of their sum of squares, T1 in s (core/base/base_likelihood_model.py)",
               "J^T(f - S) / N in network units"),
    Difference("units", "units of the estimate and the RIM's update", "not given",
               "A, B, T1 in s; kappa = |kappa + delta| (core/models/inference/rim.py)",
               "A / s, (B - 2) / 0.12, log T; kappa + delta"),
    Difference("normalisation", "image normalisation", "not given",
               "divided by the series' maximum (core/models/dataset/base.py)",
               "divided by the 99th percentile of the maximum intensity projection"),
    Difference("loss", "training loss", "MSE of the estimates (eq. 3, 6), units not given",
               "MSE over every pixel in A, B, T1 in s", "MSE over the object in network units"),
    Difference("init", "initial weights", "Kaiming (section 4.4.2)", "torch's defaults (the ResNet: Kaiming)",
               "Kaiming, the RIM's last convolution zero"),
    Difference("batchnorm", "ResNet BatchNorm at inference", "not given",
               "batch statistics, track_running_stats=False (core/models/inference/resnet.py)",
               "running statistics of training"),
    Difference("voxel_noise", "voxel-wise parameter noise of the training set", "added, SD not given (section 4.2)",
               "additive, SD 0.05 on A and 0.1 s on T1, smoothed 0.4 px (core/utilities/dataset_utilities.py)",
               "multiplicative, SD 5 % of the tissue value"),
    Difference("float32", "training precision", "not given (a GPU)", "float32", "bfloat16 autocast where the CPU has it"),
)

#: the study table's columns as the report names them
COLUMNS = {"mean_abs_rb_pct": "mean |RB| (%)", "mean_cv_pct": "mean CV (%)", "b_slope": "B slope",
           "ablation_t1_pct": "T1 change without gradient (%)", "ablation_b_pct": "B change without gradient (%)",
           "slice_rb_snr10_pct": "slice RB SNR 10 (%)", "slice_cv_snr10_pct": "slice CV SNR 10 (%)",
           "slice_rb_snr100_pct": "slice RB SNR 100 (%)", "slice_cv_snr100_pct": "slice CV SNR 100 (%)",
           "hp_t1_abs_rb_pct": "HP_T1 |RB| (%)"}


#: the slopes of the estimated B against the true one over the eight subjects within which a method reads B from the
#: data (the MLE's is about 1); below, it recalls one value learnt in training; above, it overshoots
READS_B_SLOPE = (0.5, 1.5)


#: the networks issue's targets on the Monte Carlo slice: the largest |median T1 RB| (%) over the study's SNRs
SLICE_TARGETS = {"rim": 2.0, "resnet": 10.0}
#: a B that moves less than this (%) without the likelihood gradient does not answer to the data term
ANSWERS_PCT = 1.0
NAMES = {"rim": "RIM", "resnet": "ResNet"}


def findings(scores: pd.DataFrame) -> list[str]:
    """Return the study's verdict per paper network, one markdown bullet each: which arms meet the target
    (``SLICE_TARGETS``; the RIM's also needs B read from the data), else the closest arm; and where no arm reads B,
    that the network recalls it, with the measured reason (B slopes against the MLE's, the gradient ablation)."""
    rb = [c for c in scores if c.startswith("slice_rb_snr")]
    mle = scores[scores["method"] == "mle"]["b_slope"]
    lines = []
    for method, target in SLICE_TARGETS.items():
        part = scores[scores["method"] == method].set_index("arm")
        if part.empty:
            continue
        worst, reading = part[rb].abs().max(axis=1), b_reading(part["b_slope"])
        reads = reading == "reads it"
        wanted = f"slice |RB| <= {target:g} % at every SNR" + (", B slope {:g} to {:g}".format(*READS_B_SLOPE)
                                                               if method == "rim" else "")
        met = [arm for arm in part.index if worst[arm] <= target and (method != "rim" or reads[arm])]
        line = (f"- {NAMES[method]}: the target ({wanted}) is met by {', '.join(met)}." if met else
                f"- {NAMES[method]}: no arm meets the target ({wanted}); the closest is {worst.idxmin()} "
                f"({worst.min():.1f} %).")
        if (reading == "recalls it").all():
            line += (f" Every arm's {NAMES[method]} recalls B: B slope {part['b_slope'].min():.2f} to "
                     f"{part['b_slope'].max():.2f} over the arms" + (f" against the MLE's {mle.iloc[0]:.2f}"
                                                                     if len(mle) else "") + ".")
            if "ablation_b_pct" in part and part["ablation_b_pct"].notna().any():
                moved, t1 = part["ablation_b_pct"].median(), part["ablation_t1_pct"].median()
                line += (f" Without the likelihood gradient its B moves by {moved:.1f} % (median over the arms; T1 by "
                         f"{t1:.1f} %)" + (": its B does not answer to the data term." if moved < ANSWERS_PCT else
                                           ": the data term moves its B, but not to the truth."))
            else:
                line += " It reads no data term: its B is what its training set taught it."
        elif not met:
            line += (f" {int(reads.sum())} of {len(part)} arms read B (B slope {part['b_slope'].min():.2f} to "
                     f"{part['b_slope'].max():.2f} over the arms" + (f", the MLE's {mle.iloc[0]:.2f}" if len(mle)
                                                                     else "") + "), none with its T1 on target.")
        lines.append(line)
    return lines


def b_reading(slopes: pd.Series) -> pd.Series:
    """Return, per B slope, whether its method reads B from the data (within ``READS_B_SLOPE``), recalls it (below)
    or overshoots it (above)."""
    low, high = READS_B_SLOPE
    words = np.select([slopes < low, slopes > high], ["recalls it", "overshoots it"], "reads it")
    return pd.Series(words, index=slopes.index)


def study_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Return the study as the report shows it: one row per arm and method (the MLE once), the columns named, and
    whether each method reads B from the data (``b_reading``); the table's ``attrs["notes"]`` holds its
    ``findings``."""
    table = scores.set_index(["arm", "method"])[[c for c in COLUMNS if c in scores]]
    reading = b_reading(table["b_slope"])
    table = table.rename(columns=COLUMNS)
    table["B from the data (slope {:g} to {:g})".format(*READS_B_SLOPE)] = reading
    table.attrs["notes"] = findings(scores)
    return table


def fidelity_table(scores: pd.DataFrame | None = None, run: dict[str, str] | None = None) -> pd.DataFrame:
    """Return the report's fidelity table, indexed by item: the paper's words | the authors' code | ours | this run |
    measured effect, the effect being the arm's change against ours of the T1 mean |RB|, the Monte Carlo slice RB
    at SNR 100 and the B slope, per network (``scores``: the study's table, None where the run has no study;
    ``run``: which side the run's networks take per difference, ``qmri.pipeline.plan.form_choices``)."""
    by = scores.set_index(["arm", "method"]) if scores is not None else pd.DataFrame(index=pd.MultiIndex.from_tuples(
        [], names=["arm", "method"]))
    rows = []
    for d in FIDELITY:
        effects = []
        for method in ("rim", "resnet"):
            if (d.arm, method) in by.index and ("ours", method) in by.index:
                arm, ours = by.loc[(d.arm, method)], by.loc[("ours", method)]
                effects.append(f"{method.replace('rim', 'RIM').replace('resnet', 'ResNet')}: |RB| "
                               f"{ours['mean_abs_rb_pct']:.1f} -> {arm['mean_abs_rb_pct']:.1f} %, slice RB SNR 100 "
                               f"{ours['slice_rb_snr100_pct']:+.1f} -> {arm['slice_rb_snr100_pct']:+.1f} %, B slope "
                               f"{ours['b_slope']:.2f} -> {arm['b_slope']:.2f}")
        rows.append({"item": d.item, "the paper's words": d.paper, "the authors' code": d.authors, "ours": d.ours,
                     "this run": (run or {}).get(d.arm, ""),
                     "measured effect (arm against ours)": "; ".join(effects) or "not measured in this run"})
    return pd.DataFrame(rows).set_index("item")
