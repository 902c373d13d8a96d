"""Repeated scans of a sphere array: the digital phantom at the simulation geometry, or real sessions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from qmri.data.masks import auto_mask
from qmri.data.scans import load_protocol_series
from qmri.errors import QmriError
from qmri.estimators.mle import MLESettings, fit
from qmri.paper.acquisitions import Acquisitions, Batch
from qmri.paper.phantom.reference import nominal
from qmri.paper.phantom.spheres import ROI_FRACTION, disc_offsets, find_spheres, identify, sphere_samples
from qmri.physics.signal import model_for_task
from qmri.simulation import tissues as T
from qmri.simulation.simulate import sigma_for_snr, synthesise


@dataclass(frozen=True)
class DigitalPhantom:
    """Layout of the digital sphere array, in mm (after the NIST plate: a ring of 10, 4 inside).

    The fluid around the spheres gets ``fluid_t1_ms`` / ``fluid_t2_ms``; every compartment has
    A = A_WM (0.65), so an SNR means the same as in the brain experiments; the sphere walls give no signal.
    """

    body_radius_mm: float = 95.0
    ring_radius_mm: float = 57.0
    inner_radius_mm: float = 24.0
    sphere_radius_mm: float = 7.0
    wall_mm: float = 1.0
    fluid_t1_ms: float = 2500.0
    fluid_t2_ms: float = 1500.0

    def centres_mm(self) -> np.ndarray:
        """Return the sphere centres ``(14, 2)`` (row, column) in mm from the phantom centre, sphere 1 first."""
        outer = 2 * np.pi * np.arange(10) / 10
        inner = np.pi / 4 + np.pi / 2 * np.arange(4)
        angles = np.concatenate([outer, inner])
        radii = np.r_[np.full(10, self.ring_radius_mm), np.full(4, self.inner_radius_mm)]
        return np.stack([-radii * np.cos(angles), radii * np.sin(angles)], axis=1)

    def build(self, task: str, b: float, size: int, pixel_mm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(kappa (Q, H, W), mask (H, W), centres (14, 2) px)`` of the task's array.

        ``b`` is the inversion efficiency of the whole slice (T1 task only).
        """
        _, times = nominal(task)
        coords = (np.arange(size) - (size - 1) / 2) * pixel_mm
        rows, cols = np.meshgrid(coords, coords, indexing="ij")  # mm
        centres = self.centres_mm()
        time = np.full((size, size), self.fluid_t1_ms if task == "t1" else self.fluid_t2_ms)
        mask = np.hypot(rows, cols) <= self.body_radius_mm
        for (r, c), value in zip(centres, times):
            distance = np.hypot(rows - r, cols - c)
            mask &= ~((distance > self.sphere_radius_mm) & (distance <= self.sphere_radius_mm + self.wall_mm))
            time[distance <= self.sphere_radius_mm] = value
        a = np.where(mask, T.TABLE1["WM"].a_mean, 0.0)
        time = np.where(mask, time, 1.0)
        maps = [a, np.full_like(a, b), time] if task == "t1" else [a, time]
        return np.stack(maps), mask, centres / pixel_mm + (size - 1) / 2


@dataclass(frozen=True)
class Scans:
    """C repeated scans of one sphere array: images ``(C, N, H, W)``, masks ``(C, H, W)``, sphere
    centres ``(C, 14, 2)`` px in sphere order, the wall radius (px) and the noise SD (None: unknown)."""

    images: np.ndarray
    masks: np.ndarray
    centres: np.ndarray
    radius_px: float
    sigma: float | None

    def roi_offsets(self) -> np.ndarray:
        """Return the ROI: pixel offsets within ``ROI_FRACTION`` of the wall radius."""
        return disc_offsets(ROI_FRACTION * self.radius_px)

    def acquisitions(self, label: str = "phantom") -> Acquisitions:
        """Return the C scans as one batch; their maps stack to ``(C, Q, H, W)``, NaN outside the masks."""
        batch = Batch(torch.from_numpy(self.images).float(), torch.from_numpy(self.masks), self.sigma)
        return Acquisitions(lambda: iter([batch]), (len(self.images),), label)


def digital_scans(task: str, tau_ms: list[float], snr: float, scans: int, seed: int, size: int = 256,
                  pixel_mm: float = 0.82, layout: DigitalPhantom = DigitalPhantom()) -> Scans:
    """Return ``scans`` noisy acquisitions of the digital phantom (SNR against A_WM, ``sigma_for_snr``).

    The slice's inversion efficiency is drawn as for a training patch, ``2 - |N(0, 0.2)|``, from ``seed``.
    """
    rng = np.random.default_rng([seed, 5, 2])
    b = 2 - abs(rng.normal(0, 0.2))
    kappa, mask, centres = layout.build(task, b, size, pixel_mm)
    sigma = float(sigma_for_snr(snr))
    clean = torch.from_numpy(kappa[None]).expand(scans, -1, -1, -1)
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    images = synthesise(clean, sigma, torch.as_tensor(tau_ms, dtype=torch.float64), model_for_task(task), generator)
    masks = np.broadcast_to(mask, (scans, size, size)).copy()
    return Scans(images.float().numpy(), masks, np.broadcast_to(centres, (scans, *centres.shape)).copy(),
                 (layout.sphere_radius_mm + layout.wall_mm / 2) / pixel_mm, sigma)


def measured_times(images: np.ndarray, centres: np.ndarray, offsets: np.ndarray, task: str,
                   tau_ms: list[float]) -> np.ndarray:
    """Return the relaxation time (ms) fitted (MLE, lambda_B = 0) to each sphere's mean signal, ``(S,)``."""
    curves = sphere_samples(images[None], centres[None], offsets)[0].mean(axis=-1)  # shape (N, S)
    model = model_for_task(task)
    result = fit(model, torch.from_numpy(curves[None, :, :, None]).double(), tau_ms, settings=MLESettings(lambda_b=0))
    return result.kappa[0, -1, :, 0].numpy()


def real_scans(folders: list[str | Path], task: str, tau_ms: list[float]) -> Scans:
    """Return the sessions in ``folders`` (one single-slice DICOM or NIfTI series each) with their spheres.

    Spheres are found (``find_spheres``) and identified (``identify``) in each session's own images;
    tau must equal the protocol's, which the models were trained for.
    """
    images, masks, centres, radii = [], [], [], []
    for folder in folders:
        series = load_protocol_series(folder, task, tau_ms)
        if series.data.shape[2] != 1:
            raise QmriError(f"{folder}: {series.data.shape[2]} slices; the phantom experiment takes one")
        image = np.moveaxis(series.data[:, :, 0].astype(np.float64), -1, 0)  # shape (N, H, W)
        pixel_mm = float(np.linalg.norm(series.affine[:3, 0]))
        found, radius = find_spheres(image, pixel_mm)
        mask = auto_mask(series.data[:, :, 0])
        times = measured_times(image, found, disc_offsets(ROI_FRACTION * radius), task, tau_ms)
        ordered = np.empty_like(found)
        ordered[identify(times, task)] = found
        images.append(image)
        masks.append(mask)
        centres.append(ordered)
        radii.append(radius)
    shapes = {i.shape for i in images}
    if len(shapes) != 1:
        raise QmriError(f"the sessions' images differ in shape: {sorted(shapes)}")
    return Scans(np.stack(images), np.stack(masks), np.stack(centres), float(min(radii)), None)


