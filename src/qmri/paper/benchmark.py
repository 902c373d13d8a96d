"""Benchmarks that print their numbers next to a reference measured in the same run."""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pandas as pd
import torch

from qmri.data.masks import background_sigma
from qmri.data.scans import Series
from qmri.errors import QmriError
from qmri.estimators import mle
from qmri.estimators.mapping import map_series
from qmri.estimators.methods import Estimator, load_network
from qmri.estimators.networks.checkpoint import predict
from qmri.estimators.networks.resnet import BLOCK_WIDTHS
from qmri.estimators.networks.rim import RIM
from qmri.paper import tissues as T
from qmri.paper.acquisitions import BATCH, noisy_batches
from qmri.paper.brains import BrainModel
from qmri.paper.metrics import coefficient_of_variation, pixel_metrics, relative_bias
from qmri.paper.montecarlo import repeated_estimates
from qmri.paper.simulate import sigma_for_snr, synthesise
from qmri.paper.study import Protocol, Study
from qmri.paper.timing import median_seconds
from qmri.physics.likelihood import Gaussian, Rician
from qmri.physics.signal import InversionRecovery, InversionRecoveryTR, SignalModel, T2Decay


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
    slice_truth = study.test_truth(study.mni152_brain(), "t1", seed)
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


def sphere_slice(t1_ms: list[float] | np.ndarray, size: int = 64, radius: int = 8, b: float = 1.9
                 ) -> tuple[torch.Tensor, np.ndarray]:
    """Return a slice of discs of T1 (ms) with A = 1 inside, B a smooth field around ``b``: kappa (1, 3, H, W), discs (H, W).

    Discs sit on a square grid, one per value; outside them A = 0 (no signal) and T1 = 1000 ms.
    """
    yy, xx = np.mgrid[0:size, 0:size]
    t1, a = np.full((size, size), 1000.0), np.zeros((size, size))
    side = math.ceil(math.sqrt(len(t1_ms)))
    step = size // side
    for k, value in enumerate(t1_ms):
        disc = (yy - step // 2 - step * (k // side)) ** 2 + (xx - step // 2 - step * (k % side)) ** 2 < radius**2
        t1[disc], a[disc] = value, 1.0
    b_map = b + 0.05 * np.sin(np.pi * yy / size) * np.cos(np.pi * xx / size)
    return torch.from_numpy(np.stack([a, b_map, t1])[None]), a > 0


def rician(clean: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """Return magnitude images of ``clean`` plus complex Gaussian noise of SD ``sigma`` per channel."""
    noise = torch.randn((2, *clean.shape), generator=generator, dtype=clean.dtype) * sigma
    return torch.sqrt((clean + noise[0]) ** 2 + noise[1] ** 2)


def _one_slice(images: torch.Tensor, tau_ms: np.ndarray, tr_ms: np.ndarray | None = None, signed: bool = False
               ) -> Series:
    """Return images (1, N, H, W) as a one-slice series (H, W, 1, N)."""
    data = np.ascontiguousarray(images[0].numpy().transpose(1, 2, 0)[:, :, None, :])
    return Series(data, np.eye(4), np.asarray(tau_ms, dtype=float), "simulated", tr_ms, signed)


def _rb_cv(estimates: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """Return the medians over pixels of RB, |RB| and CV (percent) of C estimates (C, pixels)."""
    rb = relative_bias(estimates, truth)
    return float(np.median(rb)), float(np.median(np.abs(rb))), float(np.median(coefficient_of_variation(estimates)))


def protocols_benchmark(study: Study, repeats: int = 4, rician_repeats: int = 20, seed: int = 0) -> None:
    """Print the fit of scanner protocols (``qmri fit``'s path), each target next to its baseline from this run.

    1. No sigma given against the true sigma: the held-out brain slice, 31 IV_T1 TIs, SNR 10, B a smooth
       field (1.92 +- 0.05), C = ``repeats``; medians over the brain of |RB| and CV of T1.
    2. TR that lengthens with TI (6 TIs 50-800 ms, TR 1000-2460 ms), discs of T1 100-2500 ms at SNR 50:
       the TR-aware MLE against a per-voxel TR-aware scipy fit where that fit determines T1 (CRLB < 10 %),
       and the paper's model (blind to TR) against the truth.
    3. A real-valued (signed) IR series of a phantom in fluid (10 TIs 35-3000 ms): share of the object
       mapped and median |T1 error| when fitted signed and when fitted as its modulus.
    4. Rician noise: the brain slice's T2, 8 echoes 10-320 ms, SNR 8, C = ``rician_repeats``; Gaussian
       against Rician MLE, sigma from the background; medians over the brain of RB, |RB|, CV; seconds per fit.
    """
    brain, generator = study.mni152_brain(), torch.Generator().manual_seed(seed)
    print(f"Scanner-protocol benchmark, torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}")

    model, tau = InversionRecovery(), torch.tensor(study.montecarlo_protocol("t1").tau_ms, dtype=torch.float64)
    truth = study.test_truth(brain, "t1")
    kappa = torch.from_numpy(truth.kappa[None].copy())
    yy, xx = np.mgrid[0:kappa.shape[2], 0:kappa.shape[3]] / kappa.shape[2]
    kappa[0, 1] = torch.from_numpy(1.92 + 0.05 * np.sin(np.pi * yy) * np.cos(np.pi * xx))
    head, brain_px, sigma = torch.from_numpy(truth.fit_mask)[None], truth.score_mask, float(sigma_for_snr(10))
    t1 = {"given": [], "estimated": []}
    for _ in range(repeats):
        signal = synthesise(kappa, sigma, tau, model, generator)
        for name, value in (("given", sigma), ("estimated", None)):
            t1[name].append(mle.fit(model, signal, tau, sigma=value, mask=head).kappa[0, 2].numpy()[brain_px])
    (_, rb_g, cv_g), (_, rb_e, cv_e) = (_rb_cv(np.array(t1[k]), kappa[0, 2].numpy()[brain_px]) for k in t1)
    print(f"\n1. sigma estimated vs given (T1, SNR 10, 31 TIs, C = {repeats}, brain medians):\n"
          f"   |RB| {rb_e:.2f} % vs {rb_g:.2f} % (ratio {rb_e / rb_g:.2f}, target <= 1.2); "
          f"CV {cv_e:.2f} % vs {cv_g:.2f} % (ratio {cv_e / cv_g:.2f}, target <= 1.2)")

    ti, tr = np.array([50.0, 100, 200, 400, 600, 800]), np.array([1000.0, 1000, 1000, 1260, 1860, 2460])
    kappa, discs = sphere_slice(np.geomspace(100, 2500, 9))
    tr_model, sigma = InversionRecoveryTR(tr), 0.02
    images = synthesise(kappa, sigma, torch.from_numpy(ti), tr_model, generator).abs()
    aware = map_series(_one_slice(images, ti, tr), "t1", mask=discs[:, :, None], progress=False).kappa[:, :, 0, 2]
    blind = map_series(_one_slice(images, ti), "t1", mask=discs[:, :, None], progress=False).kappa[:, :, 0, 2]
    flat = images[0].permute(1, 2, 0).numpy()[discs]
    start = time.perf_counter()
    grid_start = mle.grid_search(tr_model, torch.from_numpy(flat), torch.from_numpy(ti)).numpy()
    ref = mle.reference_fit(tr_model, flat, ti, grid_start)[0]
    ref_seconds = time.perf_counter() - start
    sd = mle.crlb_sd(tr_model, torch.from_numpy(ref.T[None, :, :, None].copy()), ti, sigma)[0, 2, :, 0].numpy()
    good, true_t1 = sd / ref[:, 2] < 0.1, kappa[0, 2].numpy()[discs]
    print(f"\n2. variable TR ({ti.astype(int).tolist()} ms TI, {tr.astype(int).tolist()} ms TR, SNR 50, "
          f"{discs.sum()} voxels; per-voxel scipy reference {ref_seconds:.1f} s):\n"
          f"   TR-aware MLE vs TR-aware per-voxel reference where it determines T1 ({good.sum()} voxels): median "
          f"|difference| {np.median(np.abs(aware[discs][good] / ref[good, 2] - 1)):.2%} (target < 5 %)")
    for value in np.unique(true_t1):
        at = true_t1 == value
        print(f"   T1 {value:6.0f} ms: TR-aware {np.median(aware[discs][at]):6.0f}, reference "
              f"{np.median(ref[at, 2]):6.0f}, paper model (TR ignored) {np.median(blind[discs][at]):6.0f}")

    ti = np.array([35.0, 75, 100, 125, 150, 250, 1000, 1500, 2000, 3000])
    kappa, discs = sphere_slice(np.geomspace(50, 2000, 9), size=96, radius=6, b=1.95)
    yy, xx = np.mgrid[0:96, 0:96]
    body = (yy - 48) ** 2 + (xx - 48) ** 2 < 46**2
    kappa[0, 0] = torch.from_numpy(body.astype(float))
    kappa[0, 2][torch.from_numpy(body & ~discs)] = 2800.0
    images = synthesise(kappa, 0.02, torch.from_numpy(ti), _SignedIR(), generator) * 1500
    print(f"\n3. signed IR series (10 TIs 35-3000 ms, SNR 50, {body.sum()} object voxels, values "
          f"{images.min():.0f} to {images.max():.0f}):")
    for signal in ("auto", "magnitude"):
        t1_map = map_series(_one_slice(images, ti, signed=True), "t1", signal=signal, progress=False).kappa[:, :, 0, 2]
        label = "signed (auto-detected)" if signal == "auto" else "modulus of the same images"
        print(f"   {label:27s}: mapped {np.isfinite(t1_map[body]).mean():.2%} of the object (target >= 99 %), "
              f"median |T1 error| {np.nanmedian(np.abs(t1_map[body] / kappa[0, 2].numpy()[body] - 1)):.2%}")

    model, echoes = T2Decay(), np.array([10.0, 20, 40, 80, 120, 160, 240, 320])
    truth = study.test_truth(brain, model.task)
    clean = model.forward(torch.from_numpy(truth.kappa[None].copy()), torch.from_numpy(echoes))
    head, sigma = torch.from_numpy(truth.fit_mask)[None], float(sigma_for_snr(8))
    t2, seconds = {"gaussian": [], "rician": []}, {"gaussian": [], "rician": []}
    sigmas = []
    for _ in range(rician_repeats):
        images = rician(clean, sigma, generator)
        sigmas.append(background_sigma(images[0].permute(1, 2, 0).numpy(), truth.fit_mask))
        for noise in (Gaussian(), Rician()):
            start = time.perf_counter()
            fitted = mle.fit(model, images, echoes, sigma=sigmas[-1], mask=head, noise=noise)
            seconds[noise.name].append(time.perf_counter() - start)
            t2[noise.name].append(fitted.kappa[0, 1].numpy()[truth.score_mask])
    print(f"\n4. Rician magnitude noise (T2, 8 echoes 10-320 ms, SNR 8, C = {rician_repeats}, sigma from the "
          f"background: {np.mean(sigmas):.4f}, true {sigma:.4f}; brain medians):")
    found = {k: _rb_cv(np.array(v), truth.kappa[1][truth.score_mask]) for k, v in t2.items()}
    for name, (rb, abs_rb, cv) in found.items():
        print(f"   {name:8s}: RB {rb:+6.2f} %, |RB| {abs_rb:5.2f} %, CV {cv:5.2f} %, {np.median(seconds[name]):.2f} s per fit")
    print(f"   Rician |RB| {found['rician'][1]:.2f} % (target < 5 % and <= half the Gaussian's {found['gaussian'][1]:.2f} %); "
          f"time ratio Rician / Gaussian {np.median(seconds['rician']) / np.median(seconds['gaussian']):.1f} (target <= 2)")


class _SignedIR(InversionRecovery):
    """The IR signal before the modulus, as a phase-sensitive reconstruction gives it."""

    def forward(self, kappa: torch.Tensor, tau_ms: torch.Tensor) -> torch.Tensor:
        return self.signed(kappa, tau_ms)


class _JacobianInversionRecovery(InversionRecovery):
    """The comparison's T1 model: likelihood gradients through the full Jacobian (the generic path)."""

    pullback = SignalModel.pullback


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Return this CPU's measured matrix-multiply rate in FLOP/s for ``dtype`` (n x n by n x n, median of ``repeats``):
    the practical peak that the networks' convolutions and matrix products are held against."""
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.rand(n, n, generator=generator).to(dtype) for _ in range(2))
    return 2 * n**3 / median_seconds(lambda: a @ b, repeats)


def counted_flops(call) -> int:
    """Return the floating-point operations of the matrix products and convolutions ``call()`` runs (forward and
    backward), as torch's FLOP counter counts them: the arithmetic a step cannot do without."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        call()
    return counter.get_total_flops()


def nets_benchmark(study: Study, repeats: int = 5, seed: int = 0) -> None:
    """Print RIM/ResNet inference on 256 x 256 x N (and our RIM's, pooled start included) and one training step of
    each (batch 24 of 40 x 40, J = 6), N the study's T1 Monte Carlo protocol (31 TIs), each against this CPU's
    arithmetic bound.

    Each is timed twice in this run, with the same weights: the comparison implementation (plain
    eager float32, contiguous tensors, likelihood gradient through the full Jacobian) and ours
    (closed-form ``J^T r``; a bfloat16 RIM cell at inference and bfloat16 autocast in training where
    the CPU has AVX512-BF16/AMX; channels-last tensors; the RIM's cell and likelihood gradient compiled in
    training where the pipeline's RIM training compiles them, ``qmri.paper.train.compiles_rim``, its compiling in
    the untimed warm-up). The bound is the step's counted FLOPs at the matrix-multiply rate measured in the same run
    (fp32, and the fast dtype's where it differs).
    """
    from qmri.estimators.networks.checkpoint import autocast, build_network, estimates, fast_dtype, inference_precision
    from qmri.paper.train import compile_rim, compiles_rim, masked_mse

    torch.manual_seed(seed)
    tau = torch.tensor(study.montecarlo_protocol("t1").tau_ms, dtype=torch.float32)
    cpu = torch.device("cpu")
    fast = fast_dtype(cpu)
    peaks = {torch.float32: matmul_peak(torch.float32)} | ({fast: matmul_peak(fast)} if fast != torch.float32 else {})
    print(f"Network benchmark on {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} "
          f"threads; ours: closed-form likelihood gradient, {fast}, channels-last")
    print("Measured matrix-multiply peak (2048^3): " + ", ".join(f"{str(d).removeprefix('torch.')} "
                                                                 f"{rate / 1e9:.0f} GFLOP/s" for d, rate in peaks.items()))
    image = torch.rand(1, len(tau), 256, 256, generator=torch.Generator().manual_seed(seed))
    batch = torch.rand(24, len(tau), 40, 40)
    target = torch.rand(24, 3, 40, 40)
    mask = torch.ones(24, 40, 40, dtype=torch.bool)
    n = len(tau)

    def plain_inference(net):
        def run():
            with torch.inference_mode():
                estimates(net.to(memory_format=torch.contiguous_format), image, tau)
        return run

    def fast_inference(net):
        def run():
            with torch.inference_mode(), inference_precision(net, fast) as infer_net:
                estimates(infer_net, image.contiguous(memory_format=torch.channels_last), tau)
        return run

    def step(method, model, dtype, layout, widths=BLOCK_WIDTHS, settings=None):
        """A training step; ``settings`` (ours): the pipeline's, whose ``compiles_rim`` decides on compiling."""
        torch.manual_seed(seed)
        net = build_network(method, model, n, resnet_widths=widths).to(memory_format=layout)
        if settings is not None and compiles_rim(net, cpu, dtype, settings):
            compile_rim(net)
        optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)

        def run():
            optimiser.zero_grad(set_to_none=True)
            with autocast(cpu, dtype):
                outputs = estimates(net, batch.contiguous(memory_format=layout), tau)
            masked_mse(outputs, target, mask).backward()
            optimiser.step()
        return run

    plain_rim = build_network("rim", _JacobianInversionRecovery(), n).eval()
    rim = build_network("rim", InversionRecovery(), n).eval()
    rim.load_state_dict(plain_rim.state_dict())
    resnet = build_network("resnet", InversionRecovery(), n).eval()
    arim = build_network("arim", InversionRecovery(), n).eval()
    contiguous, last = torch.contiguous_format, torch.channels_last
    widths = study.training("resnet", study.montecarlo_protocol("t1").name)[0].resnet_widths
    rim_settings = study.training("rim", study.montecarlo_protocol("t1").name)[0]
    narrow = build_network("resnet", InversionRecovery(), n, resnet_widths=widths).eval()
    own_resnet = [] if widths == BLOCK_WIDTHS else [
        (f"ResNet {'-'.join(map(str, widths))} inference", plain_inference(narrow), fast_inference(narrow), None),
        ("  its training step", step("resnet", InversionRecovery(), torch.float32, contiguous, widths),
         step("resnet", InversionRecovery(), fast, last, widths), None)]
    cases = [
        (f"RIM inference 256x256x{n}, J=6", plain_inference(plain_rim), fast_inference(rim), 3.8),
        (f"aRIM (ours) inference 256x256x{n}", plain_inference(arim), fast_inference(arim), None),
        (f"ResNet inference 256x256x{n}", plain_inference(resnet), fast_inference(resnet), 27.0),
        ("RIM training step, 24 x 40x40" + (", compiled" if compiles_rim(rim, cpu, fast, rim_settings) else ""),
         step("rim", _JacobianInversionRecovery(), torch.float32, contiguous),
         step("rim", InversionRecovery(), fast, last, settings=rim_settings), None),
        ("ResNet training step, 24 x 40x40", step("resnet", InversionRecovery(), torch.float32, contiguous),
         step("resnet", InversionRecovery(), fast, last), None),
        *own_resnet,
    ]
    fast_name = str(fast).removeprefix("torch.")
    print(f"{'':40s} {'comparison':>11} {'ours':>8} {'ratio':>6} {'paper':>7} {'GFLOP':>7} {'fp32 bound':>11} "
          f"{'ours/bound':>10}" + (f" {fast_name + ' bound':>14}" if fast != torch.float32 else ""))
    for name, comparison, ours, paper in cases:
        flops = counted_flops(ours)
        base, best = median_seconds(comparison, repeats), median_seconds(ours, repeats)
        bound = flops / peaks[torch.float32]
        line = (f"{name:40s} {base:>10.3f}s {best:>7.3f}s {base / best:>5.1f}x "
                f"{f'{paper:.1f}s' if paper else '':>7} {flops / 1e9:>7.1f} {bound:>10.3f}s {best / bound:>9.1f}x")
        if fast != torch.float32:
            line += f" {flops / peaks[fast]:>13.3f}s"
        print(line)


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


def _arim_targets(table: pd.DataFrame) -> str:
    """Return our RIM's quality targets (the networks issue) judged on a ``quality_benchmark`` table."""
    wide = table.pivot(index="subject", columns="method", values=["abs_rb", "cv", "b_estimate", "b"])
    mean_abs_rb = wide["abs_rb"]["arim"].mean()
    lower_cv = int((wide["cv"]["arim"] < wide["cv"]["mle"]).sum())
    b_error = (wide["b_estimate"]["arim"] - wide["b"]["arim"]).abs().max()
    verdict = lambda ok: "met" if ok else "not met"
    return (f"arim targets: mean |RB| {mean_abs_rb:.2f} % (<= 2 %) -> {verdict(mean_abs_rb <= 2)}; "
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
    estimate of B (the true B is one value per subject, column ``b``). ``brain``: the study's ``mni152_brain()``,
    if the caller has it already.
    """
    seed = study.seed if seed is None else seed
    brain = study.mni152_brain() if brain is None else brain
    model, tau = InversionRecovery(), protocol.tau_ms
    b, t1 = model.param_names.index("B"), model.param_names.index("T1")
    sigma = float(sigma_for_snr(snr))
    rows = []
    for k in range(subjects):
        truth = study.test_truth(brain, "t1", seed + k)
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
    return pd.DataFrame(rows)


def quality_benchmark(study: Study, weights: dict[str, str | None], subjects: int = 8, snr: float = 10.0, repeats: int = 10,
                      seed: int | None = None, protocol: str | None = None) -> pd.DataFrame:
    """Print and return T1 quality of trained networks against the MLE on unseen subjects (``t1_quality``).

    ``weights`` maps a network method (``rim``, ``resnet``, ``arim``) to its checkpoint (None: the packaged arim).
    ``protocol``: a T1 protocol of the study (default its T1 Monte Carlo one, the 31 IV_T1 inversion times).
    The MLE (``lambda_b``) is the reference; the last lines check the RIM and our RIM against their targets and
    give each RIM's gradient ablation (``gradient_ablation``).
    """
    seed = study.seed if seed is None else seed
    chosen = study.montecarlo_protocol("t1") if protocol is None else study.protocol(protocol)
    if chosen.task != "t1":
        raise QmriError(f"bench quality maps T1; protocol {chosen.name} is for {chosen.task}")
    model, tau = InversionRecovery(), chosen.tau_ms
    print(f"T1 quality on {subjects} unseen subject draws: SNR {snr:g}, {len(tau)} TIs ({chosen.name}), C = {repeats}; "
          f"MLE lambda_B = {study.lambda_b:g}; medians over the brain, percent")
    brain = study.mni152_brain()
    table = t1_quality(study, chosen, study.estimators(chosen, weights), subjects, snr, repeats, seed, brain)
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
    rims = [m for m in weights if m in ("rim", "arim")]
    if rims:
        truth = study.test_truth(brain, "t1", seed)
        scan = next(iter(noisy_batches(truth, tau, float(sigma_for_snr(snr)), 1, torch.Generator().manual_seed(seed))))
        print("gradient ablation, subject 0, one realisation: median over the brain of |estimate without the "
              "likelihood gradient / with it - 1| (a solver's every parameter answers to the data)")
        for method in rims:
            net, meta = load_network(weights[method], method, "t1")
            change = gradient_ablation(net, meta, scan.images, scan.mask, truth.score_mask, tau)
            print(f"  {method}: " + ", ".join(f"{name} {100 * c:.2f} %" for name, c in zip(model.param_names, change)))
    return table
