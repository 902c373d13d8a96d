"""Beyond the paper: which implementation choices of the paper-form networks matter.

Each arm of the study (``qmri.paper.plan.form_arms``) trains the T1 Monte Carlo protocol's RIM and ResNet
with one difference between our implementation and the authors' code set as theirs (``NetworkForm``), or all
of them, at the run's budget. ``score`` measures a method on what the paper's failures are made of: its T1
bias, precision and B on eight unseen subjects (``qmri.paper.benchmark.t1_quality``), its use of the data (the
RIM's gradient ablation), the Monte Carlo slice at SNR 10 and 100, and the digital HP_T1 phantom. ``FIDELITY``
names each difference in the paper's words, the authors' code and ours, for the report's table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from qmri.estimators.methods import Estimator, load_network, mle_estimator, network_estimator
from qmri.paper.acquisitions import fit_all, noisy_batches
from qmri.paper.benchmark import gradient_ablation, t1_quality
from qmri.paper.brains import BrainModel
from qmri.paper.fits import phantom_scans
from qmri.paper.phantom.analysis import restricted_averages, test_retest_table
from qmri.paper.simulate import sigma_for_snr
from qmri.paper.study import Protocol, Study
from qmri.physics.signal import InversionRecovery

#: the unseen subjects, their noise realisations and SNR of the quality score; the SNRs of the Monte Carlo slice
SUBJECTS, REPEATS, SNR, SLICE_SNRS = 8, 10, 10.0, (10.0, 100.0)
#: the digital phantom dataset scored (the paper's HP_T1)
PHANTOM = "hp-t1"


def _estimators(study: Study, protocol: Protocol, methods: dict[str, str | None]) -> dict[str, Estimator]:
    """Return the estimators of ``methods`` (method -> checkpoint; the MLE's None) for ``protocol``."""
    return {method: mle_estimator(protocol.task, protocol.tau_ms, study.lambda_b) if method == "mle" else
            network_estimator(path, method, protocol.task, protocol.tau_ms) for method, path in methods.items()}


def score(study: Study, methods: dict[str, str | None], brain: BrainModel) -> pd.DataFrame:
    """Return one row per method of ``methods`` (``mle``: None, or a network and its checkpoint): over ``SUBJECTS``
    unseen subjects at SNR ``SNR``, the mean of the median |RB| and CV of T1 (%) and the slope of the mean B
    estimate against the true B; on the Monte Carlo slice (subject 0) the median RB and CV of T1 at each of
    ``SLICE_SNRS``; on the digital HP_T1 the mean |RB| of T1 over the in-range spheres (a ResNet trained on
    another number of TIs cannot map it: empty); and for a RIM the median change of T1 and B without its
    likelihood gradient (%)."""
    protocol = study.montecarlo_protocol("t1")
    estimators = _estimators(study, protocol, methods)
    quality = t1_quality(study, protocol, estimators, SUBJECTS, SNR, REPEATS, brain=brain)
    rows = {}
    for method, part in quality.groupby("method", sort=False):
        slope = np.polyfit(part["b"], part["b_estimate"], 1)[0] if part["b"].nunique() > 1 else np.nan
        rows[method] = {"method": method, "mean_abs_rb_pct": part["abs_rb"].mean(), "mean_cv_pct": part["cv"].mean(),
                        "b_slope": slope}
    for snr in SLICE_SNRS:
        first = quality if snr == SNR else t1_quality(study, protocol, estimators, 1, snr, REPEATS, brain=brain)
        for row in first[first["subject"] == 0].itertuples():
            rows[row.method] |= {f"slice_rb_snr{snr:g}_pct": row.rb, f"slice_cv_snr{snr:g}_pct": row.cv}
    hp = study.protocol(study.config["phantom"]["datasets"][PHANTOM]["protocol"])
    mappable = {m: p for m, p in methods.items() if m != "resnet" or len(hp.tau_ms) == len(protocol.tau_ms)}
    if mappable:
        scans = phantom_scans(study, PHANTOM)
        maps = fit_all(scans.acquisitions(PHANTOM), _estimators(study, hp, mappable))
        table, _ = test_retest_table(scans, maps, hp.task, hp.tau_ms)
        for method, averages in restricted_averages(table).iterrows():
            rows[method]["hp_t1_abs_rb_pct"] = averages["rb"]
    if "rim" in methods:
        truth = study.test_truth(brain, "t1", study.seed)
        scan = next(iter(noisy_batches(truth, protocol.tau_ms, float(sigma_for_snr(SNR)), 1,
                                       torch.Generator().manual_seed(study.seed))))
        net, meta = load_network(methods["rim"], "rim", "t1")
        change = gradient_ablation(net, meta, scan.images, scan.mask, truth.score_mask, protocol.tau_ms)
        names = InversionRecovery().param_names
        rows["rim"] |= {"ablation_t1_pct": 100 * change[names.index("T1")],
                        "ablation_b_pct": 100 * change[names.index("B")]}
    return pd.DataFrame(list(rows.values()))


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


def study_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Return the study as the report shows it: one row per arm and method (the MLE once), the columns named."""
    table = scores.set_index(["arm", "method"])[[c for c in COLUMNS if c in scores]]
    return table.rename(columns=COLUMNS)


def fidelity_table(scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the report's fidelity table: item | the paper's words | the authors' code | ours | measured effect,
    the effect being the arm's change against ours of the T1 mean |RB|, the Monte Carlo slice RB at SNR 100
    and the B slope, per network (``scores``: the study's table, None where the run has no study)."""
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
                     "measured effect (arm against ours)": "; ".join(effects) or "not measured in this run"})
    return pd.DataFrame(rows)
