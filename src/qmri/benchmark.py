"""Benchmarks that print their numbers next to a reference measured in the same run."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import torch

from qmri import mle, tissues as T
from qmri.brains import BrainModel, mni152_labels, split_slab
from qmri.estimators import Estimator, default_device, estimators_for
from qmri.metrics import coefficient_of_variation, relative_bias
from qmri.montecarlo import Truth, pixel_metrics, repeated_estimates
from qmri.protocols import IV_T1
from qmri.signal import InversionRecovery, SignalModel
from qmri.simulate import TrainsetSettings, sigma_for_snr, synthesise

SNRS = (3, 5, 10, 30, 60, 100)
#: config.yaml's seed: subject 0 of ``quality_benchmark`` is then the pipeline's unseen test slice
CONFIG_SEED = 20210826


def held_out_brain() -> BrainModel:
    """Return the MNI152 brain model with config.yaml's held-out slab (its test slices never train)."""
    labels, affine = mni152_labels()
    train, test = split_slab(labels, affine, (16, 28), 6.0)
    return BrainModel("mni152", labels, affine, train, test)


def mle_benchmark(snr: float = 30.0, reference_voxels: int = 300, repeats: int = 5, seed: int = 0) -> None:
    """Print the MLE's wall time, accuracy and precision on a 256 x 256 slice with the 31 IV_T1 TIs.

    The reference is ``scipy.optimize.least_squares`` per voxel (lambda_B = 0) on
    ``reference_voxels`` random GM/WM voxels, from the same grid-search start; its time per voxel is
    extrapolated to all fitted voxels of the slice for the speed ratio.
    """
    torch.manual_seed(seed)
    model = InversionRecovery()
    tau = torch.tensor(IV_T1, dtype=torch.float64)
    slice_truth = Truth.test_slice(held_out_brain(), model, TrainsetSettings(), seed)
    labels, truth = slice_truth.labels, torch.from_numpy(slice_truth.kappa[None])  # shape (1, 3, 256, 256)
    head = torch.from_numpy(labels > 0)[None]
    tissue = np.isin(labels, (T.GM, T.WM))
    rng = np.random.default_rng(seed)
    pick = rng.choice(np.flatnonzero(tissue), size=min(reference_voxels, int(tissue.sum())), replace=False)
    t1_true = truth[0, 2].numpy()
    crlb_rel = lambda s: (mle.crlb_sd(model, truth, tau, s)[0, 2].numpy() / t1_true)  # noqa: E731
    generator = torch.Generator().manual_seed(seed)

    print(f"MLE benchmark: one 256 x 256 slice (MNI152 held-out, 0.82 mm), {len(tau)} IV_T1 TIs, "
          f"{int(head.sum())} voxels fitted, torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}")
    sigma = float(sigma_for_snr(snr))
    signal = synthesise(truth, sigma, tau, model, generator)
    fit = lambda s, lam, sig: mle.fit(model, s, tau, sigma=sig, mask=head, settings=mle.MLESettings(lambda_b=lam))  # noqa: E731
    fit(signal, 500.0, sigma)  # warm-up
    start = time.perf_counter()
    result = fit(signal, 500.0, sigma)
    ours = time.perf_counter() - start
    err = np.abs(result.kappa[0, 2].numpy() / t1_true - 1)
    crlb = crlb_rel(sigma)
    print(f"\nSNR {snr:g}, lambda_B = 500: {ours:.2f} s wall, {len(result.objective) - 1} iterations, "
          f"converged {result.converged} (paper: 575 s)")
    for name, label in (("GM", T.GM), ("WM", T.WM), ("CSF", T.CSF)):
        m = labels == label
        print(f"  {name:3s} median |relative error| of T1 {np.median(err[m]):7.2%}   "
              f"median CRLB SD/T1 (3 free parameters) {np.median(crlb[m]):7.2%}")
    print(f"  brain tissue (GM+WM) median |relative error| of T1: {np.median(err[tissue]):.2%}")

    flat = signal[0].permute(1, 2, 0).reshape(-1, len(tau))[pick]
    grid_start = mle.grid_search(model, flat, tau, mle.MLESettings())
    start = time.perf_counter()
    ref_kappa, ref_cost = mle.reference_fit(model, flat.numpy(), tau.numpy(), grid_start.numpy())
    per_voxel = (time.perf_counter() - start) / len(pick)
    ref_slice = per_voxel * int(head.sum())
    print(f"\nReference scipy least_squares per voxel: {per_voxel * 1e3:.2f} ms/voxel -> {ref_slice:.0f} s "
          f"for the slice (extrapolated from {len(pick)} voxels)")
    print(f"Speed ratio reference / ours: {ref_slice / ours:.0f}x")
    voxelwise = fit(signal, 0.0, sigma).kappa[0].permute(1, 2, 0).reshape(-1, 3)[pick]
    our_cost = 0.5 * ((flat - model.forward(voxelwise, tau)) ** 2).sum(dim=1).numpy()
    diff = (our_cost - ref_cost) / sigma**2
    print(f"lambda_B = 0 on the same voxels: cost lower in {(diff < -1e-4).sum()}, equal in "
          f"{(np.abs(diff) <= 1e-4).sum()}, higher in {(diff > 1e-4).sum()} (max +{max(diff.max(), 0):.3f} sigma^2)")

    print(f"\nPrecision over {repeats} noise realisations per SNR, T1 on {len(pick)} GM/WM voxels "
          "(ours lambda_B = 500 vs reference per voxel); |RB| eq. 7, CV eq. 8, medians over voxels")
    print(f"{'SNR':>5} {'|RB| ours':>10} {'|RB| ref':>10} {'CV ours':>9} {'CV ref':>9} {'CRLB':>8} {'s/fit':>7}")
    t1_pick = t1_true.reshape(-1)[pick]
    for level in SNRS:
        sigma = float(sigma_for_snr(level))
        ours_t1, ref_t1, seconds = [], [], []
        for _ in range(repeats):
            signal = synthesise(truth, sigma, tau, model, generator)
            start = time.perf_counter()
            kappa = fit(signal, 500.0, sigma).kappa
            seconds.append(time.perf_counter() - start)
            ours_t1.append(kappa[0, 2].reshape(-1)[pick].numpy())
            flat = signal[0].permute(1, 2, 0).reshape(-1, len(tau))[pick]
            start_k = mle.grid_search(model, flat, tau, mle.MLESettings()).numpy()
            ref_t1.append(mle.reference_fit(model, flat.numpy(), tau.numpy(), start_k)[0][:, 2])
        rb = [np.median(np.abs(relative_bias(np.array(v), t1_pick))) for v in (ours_t1, ref_t1)]
        cv = [np.median(coefficient_of_variation(np.array(v))) for v in (ours_t1, ref_t1)]
        bound = np.median(crlb_rel(sigma).reshape(-1)[pick]) * 100
        print(f"{level:>5} {rb[0]:>9.2f}% {rb[1]:>9.2f}% {cv[0]:>8.2f}% {cv[1]:>8.2f}% {bound:>7.2f}% "
              f"{np.mean(seconds):>7.2f}")


def median_seconds(call, repeats: int) -> float:
    """Return the median wall time of ``call()`` over ``repeats`` runs after one warm-up."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


class _JacobianInversionRecovery(InversionRecovery):
    """The comparison's T1 model: likelihood gradients through the full Jacobian (the generic path)."""

    sse_gradient = SignalModel.sse_gradient


def nets_benchmark(repeats: int = 5, seed: int = 0) -> None:
    """Print RIM/ResNet inference on 256 x 256 x 31 and one RIM training step (batch 24 of 40 x 40, J = 6).

    Each is timed twice in this run, with the same weights: the comparison implementation (plain
    eager float32, contiguous tensors, likelihood gradient through the full Jacobian) and ours
    (closed-form ``J^T r``; a bfloat16 RIM cell at inference and bfloat16 autocast in training where
    the CPU has AVX512-BF16/AMX; channels-last tensors).
    """
    from qmri.nets.resnet import ResNet
    from qmri.nets.rim import RIM
    from qmri.train import (TrainSettings, _autocast, build_network, estimates, fast_dtype, inference_precision,
                            masked_mse)

    torch.manual_seed(seed)
    tau = torch.tensor(IV_T1, dtype=torch.float32)
    cpu = torch.device("cpu")
    fast = fast_dtype(cpu)
    print(f"Network benchmark on {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} "
          f"threads; ours: closed-form likelihood gradient, {fast}, channels-last")
    image = torch.rand(1, len(tau), 256, 256, generator=torch.Generator().manual_seed(seed))
    print(f"{'':34s} {'comparison':>11} {'ours':>8} {'ratio':>6} {'paper':>7}")
    plain_rim = RIM(_JacobianInversionRecovery()).eval()
    rim = RIM(InversionRecovery()).eval()
    rim.load_state_dict(plain_rim.state_dict())
    resnet = ResNet(len(tau), 3).eval()
    for name, plain, net, paper in (("RIM inference 256x256x31, J=6", plain_rim, rim, 3.8),
                                    ("ResNet inference 256x256x31", resnet, resnet, 27.0)):
        def comparison(plain=plain):
            with torch.inference_mode():
                estimates(plain.to(memory_format=torch.contiguous_format), image, tau)

        def ours(net=net):
            with torch.inference_mode(), inference_precision(net, fast) as fast_net:
                estimates(fast_net, image.contiguous(memory_format=torch.channels_last), tau)
        base, best = median_seconds(comparison, repeats), median_seconds(ours, repeats)
        print(f"{name:34s} {base:>10.3f}s {best:>7.3f}s {base / best:>5.1f}x {paper:>6.1f}s")

    batch = torch.rand(24, len(tau), 40, 40)
    target = torch.rand(24, 3, 40, 40)
    mask = torch.ones(24, 40, 40, dtype=torch.bool)

    def step(model, dtype, layout):
        net = build_network("rim", model, len(tau), TrainSettings()).to(memory_format=layout)
        optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)

        def run():
            optimiser.zero_grad(set_to_none=True)
            with _autocast(cpu, dtype):
                outputs = estimates(net, batch.contiguous(memory_format=layout), tau)
            masked_mse(outputs, target, mask).backward()
            optimiser.step()
        return run

    base = median_seconds(step(_JacobianInversionRecovery(), torch.float32, torch.contiguous_format), repeats)
    best = median_seconds(step(InversionRecovery(), fast, torch.channels_last), repeats)
    print(f"{'RIM training step, batch 24 40x40':34s} {base:>10.3f}s {best:>7.3f}s {base / best:>5.1f}x {'':>7}")


#: section 6.1 of the paper: seconds for one 256 x 256 slice with 31 inversion times (laptop CPU)
PAPER_SECONDS = {"rim": 3.8, "resnet": 27.0, "mle": 575.0}


def time_estimators(estimators: dict[str, Estimator], signal: torch.Tensor, mask: torch.Tensor, sigma: float,
                    repeats: int = 3) -> list[dict]:
    """Return one row per method: median wall seconds to map ``signal`` (1, N, H, W), after a warm-up."""
    rows = []
    for method, estimate in estimators.items():
        # .cpu() waits for a GPU to finish: the time includes getting the maps back
        seconds = median_seconds(lambda estimate=estimate: estimate(signal, mask, sigma).cpu(), repeats)
        rows.append({"method": method, "seconds": seconds, "paper_seconds": PAPER_SECONDS.get(method),
                     "n_images": signal.shape[1], "matrix": "x".join(map(str, signal.shape[2:])),
                     "threads": torch.get_num_threads(), "device": default_device(), "cpus": os.cpu_count()})
    return rows


def quality_benchmark(weights: dict[str, str], subjects: int = 8, snr: float = 10.0, repeats: int = 10,
                      seed: int = CONFIG_SEED, lambda_b: float = 500.0) -> pd.DataFrame:
    """Print and return T1 quality of trained networks against the MLE on unseen subjects.

    Subject k is the held-out middle MNI slice with its own Table 1 draw (seed ``seed + k``; with the
    default seed subject 0 is the pipeline's test slice), mapped from ``repeats`` noise realisations
    at ``snr`` with the 31 IV_T1 inversion times. Per method: median over the brain of the per-pixel
    relative bias, its absolute value, the CV (percent) and the mean estimate of B (the true B is one
    value per subject, column ``b``). The MLE (``lambda_b``) is the reference;
    the last lines check the RIM against the quality target of the networks' issue on subject 0.
    """
    model, tau, brain = InversionRecovery(), list(map(float, IV_T1)), held_out_brain()
    b, t1 = model.param_names.index("B"), model.param_names.index("T1")
    estimators = estimators_for("t1", tau, weights, lambda_b)
    sigma = float(sigma_for_snr(snr))
    print(f"T1 quality on {subjects} unseen subject draws: SNR {snr:g}, {len(tau)} IV_T1 TIs, C = {repeats}; "
          f"MLE lambda_B = {lambda_b:g}; medians over the brain, percent")
    rows = []
    for k in range(subjects):
        truth = Truth.test_slice(brain, model, TrainsetSettings(), seed + k)
        labels = truth.labels
        maps = repeated_estimates(truth, tau, sigma, repeats, estimators, torch.Generator().manual_seed(seed + k))
        tissue = {name: round(float(truth.kappa[t1][labels == label].mean())) for name, label in (("GM", T.GM),
                                                                                                ("WM", T.WM))}
        for method, estimate in maps.items():
            metric = pixel_metrics(estimate, truth.kappa, truth.score_mask)
            rb, cv = metric["rb"][t1], metric["cv"][t1]  # shape (pixels,)
            rows.append({"subject": k, "seed": seed + k, "gm_t1_ms": tissue["GM"], "wm_t1_ms": tissue["WM"],
                         "b": round(float(truth.kappa[b].mean()), 3), "method": method,
                         "rb": float(np.median(rb)), "abs_rb": float(np.median(np.abs(rb))),
                         "cv": float(np.median(cv)),
                         "b_estimate": float(np.nanmean(estimate[:, b, truth.score_mask]))})
    table = pd.DataFrame(rows)
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
    return table
