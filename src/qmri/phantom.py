"""Hardware-phantom test-retest (section 5.2): the ISMRM/NIST system phantom, digital or scanned.

Each sphere's nominal T1 or T2 is the reference; relative bias (eq. 7) and CV (eq. 8) are computed
per pixel of a disc inside each sphere over the C repeated scans, and averaged over the pixels of
the spheres whose nominal value lies within the protocol's tau range (the paper's "restricted tau
domain"). Real sessions are not registered to each other: a pixel of a sphere is matched across
sessions by its offset from that session's detected sphere centre.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import ndimage, signal as scipy_signal

from qmri import tissues as T
from qmri.errors import QmriError
from qmri.estimators import Estimator, map_all
from qmri.mapping import auto_mask
from qmri.metrics import coefficient_of_variation, relative_bias
from qmri.mle import MLESettings, fit
from qmri.montecarlo import box_summary
from qmri.scans import load_protocol_series
from qmri.signal import model_for_task
from qmri.simulate import sigma_for_snr, synthesise

#: where the nominal values come from (the phantom maker's table, as shipped with MR-BIAS test data)
REFERENCE_SOURCE = ("CaliberMRI ISMRM/NIST system phantom, batch 2 (serial 130-0093), 3 T, 20 degC: "
                    "T1-Batch2_3T_dl-20210726.csv and T2-Batch2_3T_dl-20210726.csv, the 20 degC rows")
#: sphere -> (T1 ms, T2 ms) at 20 degC; T1-k are the spheres of the T1 array, T2-k of the T2 array
REFERENCE: dict[str, tuple[float, float]] = {
    "T1-1": (1883.97, 1489.41), "T1-2": (1330.16, 1026.78), "T1-3": (987.27, 736.97),
    "T1-4": (690.08, 521.27), "T1-5": (484.97, 354.38), "T1-6": (341.58, 248.03),
    "T1-7": (240.86, 174.99), "T1-8": (174.95, 126.33), "T1-9": (121.08, 86.91),
    "T1-10": (85.75, 60.86), "T1-11": (60.21, 42.44), "T1-12": (42.89, 30.66),
    "T1-13": (30.4, 21.76), "T1-14": (21.44, 15.3),
    "T2-1": (3025.17, 1928.33), "T2-2": (2185.54, 379.48), "T2-3": (1901.28, 267.29),
    "T2-4": (1549.98, 175.05), "T2-5": (1510.76, 166.9), "T2-6": (1026.43, 88.89),
    "T2-7": (805.1, 63.42), "T2-8": (599.96, 44.24), "T2-9": (431.22, 29.88),
    "T2-10": (292.87, 19.4), "T2-11": (226.53, 14.74), "T2-12": (158.17, 10.52),
    "T2-13": (116.7, 7.27), "T2-14": (82.46, 5.1),
}
SPHERES = 14
#: the ROI is a disc of this fraction of the sphere's wall radius: clear of the wall and partial volume
ROI_FRACTION = 0.6
#: the relaxation time each task measures
TASK_PARAMETER = {"t1": "T1", "t2": "T2"}


def measured_parameter(table: pd.DataFrame) -> str:
    """Return "T1" or "T2": the relaxation time a ``sphere_table`` holds (its spheres' array)."""
    return table["sphere"].iloc[0].split("-")[0]


def nominal(task: str) -> tuple[list[str], np.ndarray]:
    """Return the sphere names of the task's array (T1-1 ... T1-14) and their nominal times (ms)."""
    parameter = TASK_PARAMETER[task]
    names = [f"{parameter}-{k}" for k in range(1, SPHERES + 1)]
    return names, np.array([REFERENCE[n][0 if parameter == "T1" else 1] for n in names])


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

    def map(self, estimators: dict[str, Estimator]) -> dict[str, np.ndarray]:
        """Return ``{method: maps (C, Q, H, W)}``, NaN outside the masks."""
        return map_all(estimators, torch.from_numpy(self.images).float(), torch.from_numpy(self.masks), self.sigma)


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


def disc_offsets(radius_px: float) -> np.ndarray:
    """Return the integer pixel offsets ``(K, 2)`` within ``radius_px`` of a centre pixel."""
    r = int(np.floor(radius_px))
    dr, dc = np.mgrid[-r:r + 1, -r:r + 1]
    keep = np.hypot(dr, dc) <= radius_px
    return np.stack([dr[keep], dc[keep]], axis=1)


def sphere_samples(maps: np.ndarray, centres: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Return ``(C, Q, S, K)``: each scan's maps (C, Q, H, W) at the K offsets around its S centres (C, S, 2).

    Centres are rounded to the nearest pixel; pixel k of a sphere is the same offset in every scan.
    """
    pixels = np.rint(centres).astype(int)[:, :, None, :] + offsets[None, None]  # shape (C, S, K, 2)
    scan = np.arange(maps.shape[0])[:, None, None]
    return np.moveaxis(maps[scan, :, pixels[..., 0], pixels[..., 1]], -1, 1)


def _ring_kernel(radius_px: float) -> np.ndarray:
    """Return a zero-mean matched filter for a dark wall of ``radius_px``: +1 on the wall, -1 just outside."""
    r = int(np.ceil(radius_px + 4))
    dr, dc = np.mgrid[-r:r + 1, -r:r + 1]
    distance = np.hypot(dr, dc)
    wall = np.abs(distance - radius_px) <= 1.0
    outside = (distance >= radius_px + 2) & (distance <= radius_px + 4)
    return wall / wall.sum() - outside / outside.sum()


def find_spheres(images: np.ndarray, pixel_mm: float, count: int = SPHERES,
                 radius_mm: tuple[float, float] = (5.0, 10.0)) -> tuple[np.ndarray, float]:
    """Return ``(centres (count, 2) px, sphere radius px)`` of the spheres in one session's images (N, H, W).

    Spheres are found by their walls: on the darkness of the maximum intensity projection inside
    the phantom, a ring filter (dark wall, bright fluid just outside; a dark sphere answers as
    well as a bright one) is swept over radii in ``radius_mm``; the radius with the strongest
    ``count`` separated peaks wins. Peaks closer than two radii to a stronger one are dropped.
    """
    mip = np.nanmax(images, axis=0)
    level = np.percentile(mip, 99)
    body = ndimage.binary_fill_holes(mip > 0.1 * level)
    labelled, n = ndimage.label(body)
    if n == 0:
        raise QmriError("no phantom found in the images (all below 10 % of the 99th percentile)")
    body = labelled == np.argmax(np.bincount(labelled.ravel())[1:]) + 1
    darkness = np.where(body, 1 - np.clip(mip / level, 0, 1), 0.0)
    best: tuple[float, np.ndarray, float] | None = None
    for radius in np.arange(radius_mm[0], radius_mm[1] + 1e-9, 0.5) / pixel_mm:
        response = scipy_signal.fftconvolve(darkness, _ring_kernel(radius)[::-1, ::-1], mode="same")
        inside = ndimage.binary_erosion(body, iterations=int(np.ceil(radius + 4)))
        response = np.where(inside, response, -np.inf)
        peaks = _strongest_peaks(response, count, 2 * radius)
        if len(peaks) < count:
            continue
        score = float(response[peaks[:, 0], peaks[:, 1]].sum())
        if best is None or score > best[0]:
            best = (score, peaks, float(radius))
    if best is None:
        raise QmriError(f"could not find {count} spheres in the phantom images")
    return best[1].astype(float), best[2]


def _strongest_peaks(response: np.ndarray, count: int, separation: float) -> np.ndarray:
    """Return up to ``count`` pixel positions ``(k, 2)`` of the largest values, pairwise >= ``separation`` apart."""
    local_max = response == ndimage.maximum_filter(response, size=3)
    candidates = np.argwhere(local_max & np.isfinite(response))
    candidates = candidates[np.argsort(-response[candidates[:, 0], candidates[:, 1]])]
    kept: list[np.ndarray] = []
    for position in candidates:  # a few hundred local maxima at most, not pixels
        if all(np.hypot(*(position - k)) >= separation for k in kept):
            kept.append(position)
            if len(kept) == count:
                break
    return np.array(kept).reshape(-1, 2)


def identify(times_ms: np.ndarray, task: str) -> np.ndarray:
    """Return, for each detected sphere, its index into the task's array (0 = sphere 1), by rank.

    ``times_ms`` (S,) are relaxation times measured in the detected spheres (a fit of each sphere's
    mean signal): the longest is sphere 1, the shortest sphere 14, as the array is ordered by its
    nominal values. (MR-BIAS registers a template instead; ranking needs no knowledge of the
    plate's orientation, and is exact when the fit is monotone in the true time.)
    """
    _, times = nominal(task)
    if len(times_ms) != len(times):
        raise QmriError(f"{len(times_ms)} spheres measured, the {task} array has {len(times)}")
    order = np.argsort(-np.asarray(times_ms))  # detected spheres, longest first
    index = np.empty(len(times), int)
    index[order] = np.argsort(-times)
    return index


def sphere_table(estimates: dict[str, np.ndarray], task: str, parameter: int, tau_ms: list[float]) -> pd.DataFrame:
    """Return per method and sphere the box-plot numbers of per-pixel RB and CV (%) of the relaxation time.

    ``estimates`` maps method -> ``(C, Q, 14, K)`` in sphere order; a sphere is ``in_range`` when its
    nominal time lies within [min tau, max tau].
    """
    names, times = nominal(task)
    in_range = (times >= min(tau_ms)) & (times <= max(tau_ms))
    rows = []
    for method, est in estimates.items():
        values = est[:, parameter]  # shape (C, S, K)
        rb = relative_bias(values, times[:, None])
        cv = coefficient_of_variation(values)
        for s, name in enumerate(names):
            for metric, per_pixel in (("rb", rb[s]), ("cv", cv[s])):
                rows.append({"method": method, "sphere": name, "nominal_ms": times[s], "in_range": bool(in_range[s]),
                             "metric": metric, "pixel_abs_mean": float(np.nanmean(np.abs(per_pixel))),
                             **box_summary(per_pixel)})
    return pd.DataFrame(rows)


def restricted_averages(table: pd.DataFrame) -> pd.DataFrame:
    """Return per method the mean |RB| and CV (%) over all pixels of the in-range spheres (the paper's averages).

    The paper calls its average RB an "error" without saying whether signs cancel; we average the
    magnitude, so spheres biased up and down do not hide each other. Every sphere's ROI has the same
    pixel count, so this is the mean of the spheres' pixel means.
    """
    inside = table[table["in_range"]]
    return inside.pivot_table(index="method", columns="metric", values="pixel_abs_mean", aggfunc="mean")


def test_retest(scans: Scans, estimators: dict[str, Estimator], task: str, tau_ms: list[float]
                ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Return the sphere table (``sphere_table``) and arrays for the figure: the first scan's maximum
    intensity projection ``image``, the ``centres`` (C, 14, 2), ``roi_px`` and every method's
    relaxation-time maps ``(C, H, W)``."""
    model = model_for_task(task)
    parameter = model.param_names.index(TASK_PARAMETER[task])
    maps = scans.map(estimators)
    offsets = scans.roi_offsets()
    samples = {method: sphere_samples(m, scans.centres, offsets) for method, m in maps.items()}
    arrays = {"image": scans.images[0].max(axis=0), "centres": scans.centres,
              "roi_px": np.array(np.abs(offsets).max()),
              **{method: m[:, parameter].astype(np.float32) for method, m in maps.items()}}
    return sphere_table(samples, task, parameter, tau_ms), arrays
