"""Beyond the paper: which implementation choices of the paper-form networks matter.

Each arm of the study (``qmri.pipeline.plan.form_arms``) trains the T1 Monte Carlo protocol's RIM and ResNet
with one difference between our implementation and the authors' code set as theirs (``NetworkForm``), or all
of them, at the run's budget. ``score`` measures a method on what the paper's failures are made of: its T1
bias, precision and B on eight unseen subjects (``qmri.bench.quality.t1_quality``), its use of the data (the
RIM's gradient ablation), the Monte Carlo slice at SNR 10 and 100, and the digital HP_T1 phantom. ``FIDELITY``
names each difference in the paper's words, the authors' code and ours, for the report's table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from qmri.bench.quality import gradient_ablation, t1_quality
from qmri.estimators.methods import Estimator, load_network, mle_estimator, network_estimator
from qmri.paper.acquisitions import fit_all, noisy_batches
from qmri.paper.phantom.analysis import repeatability_table, restricted_averages
from qmri.physics.signal import InversionRecovery
from qmri.pipeline.fits import phantom_scans
from qmri.pipeline.study import Study
from qmri.simulation.brains import BrainModel
from qmri.simulation.simulate import Protocol, sigma_for_snr

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
        table, _ = repeatability_table(scans, maps, hp.task, hp.tau_ms)
        for method, averages in restricted_averages(table).iterrows():
            rows[method]["hp_t1_abs_rb_pct"] = averages["rb"]
    if "rim" in methods:
        truth = study.held_out_truth(brain, "t1", study.seed)
        scan = next(iter(noisy_batches(truth, protocol.tau_ms, float(sigma_for_snr(SNR)), 1,
                                       torch.Generator().manual_seed(study.seed))))
        net, meta = load_network(methods["rim"], "rim", "t1")
        change = gradient_ablation(net, meta, scan.images, scan.mask, truth.score_mask, protocol.tau_ms)
        names = InversionRecovery().param_names
        rows["rim"] |= {"ablation_t1_pct": 100 * change[names.index("T1")],
                        "ablation_b_pct": 100 * change[names.index("B")]}
    return pd.DataFrame(list(rows.values()))
