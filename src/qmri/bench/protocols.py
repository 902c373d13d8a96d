"""``qmri bench protocols``: scanners' protocols (variable TR, signed images, Rician noise) against the paper's model."""

from __future__ import annotations

import math
import os
import time

import numpy as np
import torch

from qmri.data.masks import background_sigma
from qmri.data.scans import Series
from qmri.estimators import mle
from qmri.estimators.mapping import map_series
from qmri.paper.metrics import coefficient_of_variation, relative_bias
from qmri.physics.likelihood import Gaussian, Rician
from qmri.physics.signal import InversionRecovery, InversionRecoveryTR, T2Decay
from qmri.pipeline.study import Study
from qmri.simulation.simulate import sigma_for_snr, synthesise


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
    truth = study.held_out_truth(brain, "t1")
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
    truth = study.held_out_truth(brain, model.task)
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
