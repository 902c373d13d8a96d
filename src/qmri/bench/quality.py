"""``qmri bench quality``: trained networks' T1 bias, precision and B on unseen subjects against the MLE."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch

from qmri.errors import QmriError
from qmri.estimators.methods import START_ONLY, Estimator, load_network, network_estimator
from qmri.estimators.networks.checkpoint import predict
from qmri.estimators.networks.rim import RIM, AnyProtocolRIM
from qmri.paper.acquisitions import noisy_batches
from qmri.paper.metrics import pixel_metrics
from qmri.paper.montecarlo import repeated_estimates
from qmri.physics.signal import InversionRecovery
from qmri.pipeline.study import Study
from qmri.simulation import tissues as T
from qmri.simulation.brains import BrainModel
from qmri.simulation.simulate import Protocol, sigma_for_snr

#: the moved-start check's offset of our RIM's start in ln T1 (a factor 1.22 in T1)
MOVED_START = 0.2
#: the columns that say how a quality table's rows were made: reused MLE rows must match them
SETTINGS = ["subject", "seed", "snr", "repeats", "protocol", "lambda_b"]


def gradient_ablation(net: RIM, meta: dict, images: torch.Tensor, mask: torch.Tensor, region: np.ndarray,
                      tau_ms: list[float]) -> list[float]:
    """Return, per parameter, the median over ``region`` (H, W) of ``|estimate without gradient / with it - 1|``.

    The RIM maps ``images`` (1, N, H, W) (object ``mask``, (1, H, W)) twice, the second time with the
    likelihood gradient its cell receives set to zero (``RIM.use_gradient``); a parameter the RIM takes
    from the data changes.
    """
    with_gradient = predict(net, meta, images, tau_ms, meta["task"], mask=mask)
    net.use_gradient = False
    try:
        without = predict(net, meta, images, tau_ms, meta["task"], mask=mask)
    finally:
        net.use_gradient = True
    change = (without / with_gradient - 1).abs()[0][:, torch.from_numpy(region)]  # shape (Q, pixels)
    return change.median(dim=1).values.tolist()


def moved_start(net: AnyProtocolRIM, meta: dict, images: torch.Tensor, mask: torch.Tensor, region: np.ndarray,
                tau_ms: list[float], true_t1: np.ndarray, shift: float = MOVED_START) -> tuple[float, float]:
    """Return the median over ``region`` of T1's relative error (%) against ``true_t1`` (H, W) of our RIM's map of
    ``images`` when its start's ln T1 is moved by ``shift``: with its data term, and with it zeroed.

    A solver's data term brings it back towards the truth; a learned correction of its start keeps the offset.
    """
    names = net.model.param_names
    offset = torch.zeros(len(names))
    offset[names.index("T1")] = shift
    net.start_offset = offset
    errors = []
    try:
        for use in (True, False):
            net.use_gradient = use
            t1 = predict(net, meta, images, tau_ms, meta["task"], mask=mask)[0, names.index("T1")].numpy()
            errors.append(100 * float(np.median(t1[region] / true_t1[region] - 1)))
    finally:
        net.start_offset, net.use_gradient = None, True
    return errors[0], errors[1]


def _arim_targets(table: pd.DataFrame, method: str = "arim") -> str:
    """Return our RIM's quality targets (the networks issue) judged for ``method`` on a ``quality_benchmark`` table."""
    wide = table.pivot(index="subject", columns="method", values=["abs_rb", "cv", "b_estimate", "b"])
    mean_abs_rb = wide["abs_rb"][method].mean()
    lower_cv = int((wide["cv"][method] < wide["cv"]["mle"]).sum())
    b_error = (wide["b_estimate"][method] - wide["b"][method]).abs().max()
    verdict = lambda ok: "met" if ok else "not met"
    return (f"{method} targets: mean |RB| {mean_abs_rb:.2f} % (<= 2 %) -> {verdict(mean_abs_rb <= 2)}; "
            f"CV below the MLE's on {lower_cv} of {len(wide)} subjects (>= 6 of 8) -> "
            f"{verdict(lower_cv >= 0.75 * len(wide))}; largest |mean B - true B| {b_error:.3f} (<= 0.03) -> "
            f"{verdict(b_error <= 0.03)}")


def t1_quality(study: Study, protocol: Protocol, estimators: dict[str, Estimator], subjects: int = 8,
               snr: float = 10.0, repeats: int = 10, seed: int | None = None, brain: BrainModel | None = None
               ) -> pd.DataFrame:
    """Return the T1 quality of ``estimators`` (any labels) on unseen subjects, one row per subject and label.

    Subject k is the held-out middle MNI slice with its own Table 1 draw (seed ``seed + k``; with the default
    seed subject 0 is the pipeline's test slice), mapped from ``repeats`` noise realisations at ``snr`` with
    ``protocol``'s inversion times, the same realisations for every estimator. Columns: median over the brain
    of the per-pixel relative bias (``rb``), of its absolute value (``abs_rb``) and the CV (percent), the mean
    estimate of B (the true B is one value per subject, column ``b``); the columns ``SETTINGS`` say how each row
    was made. ``brain``: the study's ``mni152_brain()``, if the caller has it already.
    """
    seed = study.seed if seed is None else seed
    brain = study.mni152_brain() if brain is None else brain
    model, tau = InversionRecovery(), protocol.tau_ms
    b, t1 = model.param_names.index("B"), model.param_names.index("T1")
    sigma = float(sigma_for_snr(snr))
    rows = []
    for k in range(subjects):
        truth = study.held_out_truth(brain, "t1", seed + k)
        labels = truth.labels
        maps = repeated_estimates(truth, tau, sigma, repeats, estimators, torch.Generator().manual_seed(seed + k))
        tissue = {name: round(float(truth.kappa[t1][labels == label].mean())) for name, label in (("GM", T.GM),
                                                                                                ("WM", T.WM))}
        for method, estimate in maps.items():
            metric = pixel_metrics(estimate, truth.kappa, truth.score_mask)
            rb, cv = metric["rb"][t1], metric["cv"][t1]  # shape (pixels,)
            rows.append({"subject": k, "seed": seed + k, "snr": float(snr), "repeats": repeats,
                         "protocol": protocol.name, "lambda_b": float(study.lambda_b), "gm_t1_ms": tissue["GM"],
                         "wm_t1_ms": tissue["WM"],
                         "b": round(float(truth.kappa[b].mean()), 3), "method": method,
                         "rb": float(np.median(rb)), "abs_rb": float(np.median(np.abs(rb))),
                         "cv": float(np.median(cv)),
                         "b_estimate": float(np.nanmean(estimate[:, b, truth.score_mask]))})
    return pd.DataFrame(rows)


def _chosen(study: Study, protocol: str | None) -> Protocol:
    """Return the T1 protocol ``protocol`` of ``study`` (default its T1 Monte Carlo one)."""
    chosen = study.montecarlo_protocol("t1") if protocol is None else study.protocol(protocol)
    if chosen.task != "t1":
        raise QmriError(f"bench quality maps T1; protocol {chosen.name} is for {chosen.task}")
    return chosen


def mle_table(study: Study, subjects: int = 8, snr: float = 10.0, repeats: int = 10, seed: int | None = None,
              protocol: str | None = None) -> pd.DataFrame:
    """Return the MLE's rows of ``quality_benchmark`` (``t1_quality`` of the MLE alone): a reference that
    ``quality_benchmark(..., mle_from=)`` reuses for every network scored with the same settings."""
    chosen = _chosen(study, protocol)
    mle = {"mle": study.estimators(chosen, {})["mle"]}
    return t1_quality(study, chosen, mle, subjects, snr, repeats, seed)


def _made_with(table: pd.DataFrame) -> pd.DataFrame:
    """Return ``table``'s ``SETTINGS`` columns as text, so that a table read back from CSV compares equal."""
    return table[SETTINGS].astype(str).reset_index(drop=True)


def _mle_rows(path: str | os.PathLike) -> pd.DataFrame:
    """Return the MLE's rows of the quality table at ``path`` (``mle_table`` or ``--csv``); a one-line error if
    it cannot be read or holds none."""
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise QmriError(f"cannot read the MLE's quality table {path}: {err}") from None
    if "method" not in table or not set(SETTINGS) <= set(table):
        raise QmriError(f"{path} is not a quality table with the settings of its rows (qmri bench quality --csv)")
    return table[table["method"] == "mle"].reset_index(drop=True)


def quality_benchmark(study: Study, weights: dict[str, str | None], subjects: int = 8, snr: float = 10.0, repeats: int = 10,
                      seed: int | None = None, protocol: str | None = None,
                      mle_from: str | os.PathLike | None = None) -> pd.DataFrame:
    """Print and return T1 quality of trained networks against the MLE on unseen subjects (``t1_quality``).

    ``weights`` maps a network method (``rim``, ``resnet``, ``arim``) to its checkpoint (None: the packaged arim);
    our RIM's start alone is scored beside it (``START_ONLY``). ``protocol``: a T1 protocol of the study (default
    its T1 Monte Carlo one, the 31 IV_T1 inversion times). The MLE (``lambda_b``) is the reference; ``mle_from``: a
    quality table holding its rows for these settings (``mle_table``), reused instead of fitting again (the noise
    realisations are every estimator's). The last lines check the RIM and our RIM against their targets and give
    each RIM's gradient ablation (``gradient_ablation``).
    """
    seed = study.seed if seed is None else seed
    chosen = _chosen(study, protocol)
    model, tau = InversionRecovery(), chosen.tau_ms
    reused = None if mle_from is None else _mle_rows(mle_from)
    print(f"T1 quality on {subjects} unseen subject draws: SNR {snr:g}, {len(tau)} TIs ({chosen.name}), C = {repeats}; "
          f"MLE lambda_B = {study.lambda_b:g}{'' if reused is None else f' (from {mle_from})'}; medians over the "
          "brain, percent")
    brain = study.mni152_brain()
    estimators = study.estimators(chosen, weights)
    if reused is not None:
        del estimators["mle"]
    if "arim" in weights:
        estimators[START_ONLY] = network_estimator(weights["arim"], "arim", "t1", tau, cell=False)
    table = t1_quality(study, chosen, estimators, subjects, snr, repeats, seed, brain)
    if reused is not None:
        first = table[table["method"] == table["method"].iloc[0]]
        if not _made_with(reused).equals(_made_with(first)):
            raise QmriError(f"{mle_from} holds no MLE rows made with these settings (subjects, seed, SNR, C, "
                            "protocol, lambda_B): score the MLE again without it")
        table = pd.concat([reused[table.columns], table], ignore_index=True)
    wide = table.pivot_table(index=["subject", "gm_t1_ms", "wm_t1_ms", "b"], columns="method",
                             values=["rb", "abs_rb", "cv", "b_estimate"]).round(2)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(wide.reset_index().to_string(index=False))
        print("mean over subjects:")
        print(table.groupby("method")[["rb", "abs_rb", "cv"]].mean().round(2).to_string())
    if "rim" in weights:
        first = table[table["subject"] == 0].set_index("method")
        print(f"subject 0: RIM CV {first.loc['rim', 'cv']:.2f} % vs MLE {first.loc['mle', 'cv']:.2f} % "
              f"(target: lower) -> {'met' if first.loc['rim', 'cv'] < first.loc['mle', 'cv'] else 'not met'}; "
              f"RIM median |RB| {first.loc['rim', 'abs_rb']:.2f} % (target < 5 %) -> "
              f"{'met' if first.loc['rim', 'abs_rb'] < 5 else 'not met'}")
    if "arim" in weights:
        print(_arim_targets(table))
        print(_arim_targets(table, START_ONLY) + " (its start alone)")
    rims = [m for m in weights if m in ("rim", "arim")]
    if rims:
        truth = study.held_out_truth(brain, "t1", seed)
        scan = next(iter(noisy_batches(truth, tau, float(sigma_for_snr(snr)), 1, torch.Generator().manual_seed(seed))))
        print("gradient ablation, subject 0, one realisation: median over the brain of |estimate without the "
              "likelihood gradient / with it - 1| (a solver's every parameter answers to the data)")
        for method in rims:
            net, meta = load_network(weights[method], method, "t1")
            change = gradient_ablation(net, meta, scan.images, scan.mask, truth.score_mask, tau)
            print(f"  {method}: " + ", ".join(f"{name} {100 * c:.2f} %" for name, c in zip(model.param_names, change)))
            if method == "arim":
                with_term, without = moved_start(net, meta, scan.images, scan.mask, truth.score_mask, tau,
                                                 truth.kappa[model.param_names.index("T1")])
                print(f"  arim from a start moved by a factor {np.exp(MOVED_START):.2f} in T1: median T1 RB "
                      f"{with_term:+.2f} % with its data term, {without:+.2f} % without (a solver returns towards "
                      f"0, a corrector of its start stays near {100 * (np.exp(MOVED_START) - 1):+.0f} %)")
    return table
