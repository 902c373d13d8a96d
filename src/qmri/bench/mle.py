"""``qmri bench mle``: the vectorised MLE against the per-voxel scipy reference, timed in the same run."""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from qmri.estimators import mle
from qmri.paper.acquisitions import BATCH
from qmri.paper.metrics import coefficient_of_variation, relative_bias
from qmri.physics.signal import InversionRecovery
from qmri.pipeline.study import Study
from qmri.simulation import tissues as T
from qmri.simulation.simulate import sigma_for_snr, synthesise


def mle_benchmark(study: Study, snr: float = 30.0, reference_voxels: int = 300, repeats: int = 5, seed: int = 0) -> None:
    """Print the MLE's wall time, accuracy and precision on the study's test slice with its T1 Monte Carlo
    protocol (the paper's 31 IV_T1 TIs), at the study's SNRs.

    The reference is ``scipy.optimize.least_squares`` per voxel (lambda_B = 0) on
    ``reference_voxels`` random GM/WM voxels, from the same grid-search start; its time per voxel is
    extrapolated to all fitted voxels of the slice for the speed ratio.
    """
    torch.manual_seed(seed)
    model = InversionRecovery()
    protocol = study.montecarlo_protocol("t1")
    tau = torch.tensor(protocol.tau_ms, dtype=torch.float64)
    slice_truth = study.held_out_truth(study.mni152_brain(), "t1", seed)
    labels, truth = slice_truth.labels, torch.from_numpy(slice_truth.kappa[None])  # shape (1, 3, 256, 256)
    head = torch.from_numpy(labels > 0)[None]
    tissue = np.isin(labels, (T.GM, T.WM))
    rng = np.random.default_rng(seed)
    pick = rng.choice(np.flatnonzero(tissue), size=min(reference_voxels, int(tissue.sum())), replace=False)
    t1_true = truth[0, 2].numpy()
    crlb_rel = lambda s: (mle.crlb_sd(model, truth, tau, s)[0, 2].numpy() / t1_true)  # noqa: E731
    generator = torch.Generator().manual_seed(seed)

    print(f"MLE benchmark: one 256 x 256 slice (MNI152 held-out, 0.82 mm), {len(tau)} TIs ({protocol.name}), "
          f"{int(head.sum())} voxels fitted, torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}")
    sigma = float(sigma_for_snr(snr))
    signal = synthesise(truth, sigma, tau, model, generator)
    fit = lambda s, lam, sig: mle.fit(model, s, tau, sigma=sig, mask=head, settings=mle.MLESettings(lambda_b=lam))  # noqa: E731
    fit(signal, study.lambda_b, sigma)  # warm-up
    start = time.perf_counter()
    result = fit(signal, study.lambda_b, sigma)
    ours = time.perf_counter() - start
    err = np.abs(result.kappa[0, 2].numpy() / t1_true - 1)
    crlb = crlb_rel(sigma)
    print(f"\nSNR {snr:g}, lambda_B = {study.lambda_b:g}: {ours:.2f} s wall, {len(result.objective) - 1} iterations, "
          f"converged {result.converged} (paper: 575 s)")
    for name, label in (("GM", T.GM), ("WM", T.WM), ("CSF", T.CSF)):
        m = labels == label
        print(f"  {name:3s} median |relative error| of T1 {np.median(err[m]):7.2%}   "
              f"median CRLB SD/T1 (3 free parameters) {np.median(crlb[m]):7.2%}")
    print(f"  brain tissue (GM+WM) median |relative error| of T1: {np.median(err[tissue]):.2%}")

    flat = signal[0].permute(1, 2, 0).reshape(-1, len(tau))[pick]
    grid_start = mle.grid_search(model, flat, tau)
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
          f"(ours lambda_B = {study.lambda_b:g} vs reference per voxel); |RB| eq. 7, CV eq. 8, medians over voxels")
    print(f"{'SNR':>5} {'|RB| ours':>10} {'|RB| ref':>10} {'CV ours':>9} {'CV ref':>9} {'CRLB':>8} {'s/fit':>7}")
    t1_pick = t1_true.reshape(-1)[pick]
    for level in study.config["montecarlo"]["snr"]:
        sigma = float(sigma_for_snr(level))
        ours_t1, ref_t1, seconds = [], [], []
        for _ in range(repeats):
            signal = synthesise(truth, sigma, tau, model, generator)
            start = time.perf_counter()
            kappa = fit(signal, study.lambda_b, sigma).kappa
            seconds.append(time.perf_counter() - start)
            ours_t1.append(kappa[0, 2].reshape(-1)[pick].numpy())
            flat = signal[0].permute(1, 2, 0).reshape(-1, len(tau))[pick]
            start_k = mle.grid_search(model, flat, tau).numpy()
            ref_t1.append(mle.reference_fit(model, flat.numpy(), tau.numpy(), start_k)[0][:, 2])
        rb = [np.median(np.abs(relative_bias(np.array(v), t1_pick))) for v in (ours_t1, ref_t1)]
        cv = [np.median(coefficient_of_variation(np.array(v))) for v in (ours_t1, ref_t1)]
        bound = np.median(crlb_rel(sigma).reshape(-1)[pick]) * 100
        print(f"{level:>5} {rb[0]:>9.2f}% {rb[1]:>9.2f}% {cv[0]:>8.2f}% {cv[1]:>8.2f}% {bound:>7.2f}% "
              f"{np.mean(seconds):>7.2f}")

    # the pipeline fits its realisations BATCH at a time: that must cost what the slices cost one by one
    sigma = float(sigma_for_snr(snr))
    batch = torch.cat([synthesise(truth, sigma, tau, model, generator) for _ in range(BATCH)])
    start = time.perf_counter()
    together = fit(batch, study.lambda_b, sigma).kappa[:, 2]
    batched = time.perf_counter() - start
    start = time.perf_counter()
    alone = torch.cat([fit(batch[i:i + 1], study.lambda_b, sigma).kappa[:, 2] for i in range(BATCH)])
    single = time.perf_counter() - start
    apart = ((together - alone).abs() / mle.crlb_sd(model, truth, tau, sigma)[:, 2])[head.expand_as(alone)]
    print(f"\nA batch of {BATCH} realisations at SNR {snr:g} in one call (as the pipeline's fits): {batched:.2f} s; "
          f"one by one {single:.2f} s (ratio {batched / single:.2f}); |T1 batch - alone| / CRLB SD: median "
          f"{apart.median():.1e}, 99.9th percentile {apart.quantile(0.999):.1e}")
