"""Test-retest on "volunteers" (sections 5.3 and 5.4): repeated scans of unseen anatomy, mapped by every method.

Without real volunteer scans, a volunteer is a held-out slice of the test brain model with its own
parameter draw (section 4.2), scanned ``scans`` times with fresh noise at the dataset's SNR. There is
a ground truth, but the paper's in-vivo metrics do not use one: pixel-wise CV over the repeated
scans, agreement between methods, and boundary sharpness. Real repeated scans (``real_scans``)
give the pixel-wise CV only.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import torch

from qmri.data.masks import auto_mask
from qmri.data.scans import load_protocol_series
from qmri.errors import QmriError
from qmri.estimators.methods import Estimator
from qmri.paper.acquisitions import Acquisitions, Batch, fit_all
from qmri.paper.metrics import coefficient_of_variation
from qmri.physics.signal import SignalModel
from qmri.simulation import tissues as T
from qmri.simulation.brains import BrainModel, spread
from qmri.simulation.simulate import (
    Protocol,
    TrainsetSettings,
    Truth,
    sigma_for_snr,
    synthesise,
)

#: how simulated volunteers get their tissue values: Table 1's means (people's GM/WM contrast) or a draw per person
TISSUE_VALUES = ("means", "drawn")


def volunteers(brain: BrainModel, model: SignalModel, settings: TrainsetSettings, seed: int, count: int,
               size: int = 256, pixel_mm: float = 0.82, tissues: str = "means") -> list[Truth]:
    """Return ``count`` volunteers: test slices spread over the held-out slab.

    Volunteer k takes the test slice at quantile (k + 1) / (count + 1) and a generator seeded
    ``[seed, k]``, so every dataset (T1, T1 noisy, T2) of a volunteer shows the same "person".
    ``tissues`` "means": every tissue at Table 1's mean with the voxel-wise spread of the training data
    (``voxel_cv``), so GM/WM contrast is that of people (GM T1 1400 ms, WM 780 ms); "drawn": one draw of
    Table 1 per volunteer as for a training subject (GM may then fall below WM).
    """
    if tissues not in TISSUE_VALUES:
        raise ValueError(f"invivo tissues must be one of {', '.join(TISSUE_VALUES)}, not {tissues!r}")
    if not brain.test_slices:
        raise ValueError(f"brain model {brain.name} has no test slices")
    found = []
    for k, index in enumerate(spread(brain.test_slices, count)):
        found.append(Truth.drawn(brain, model, settings, index, np.random.default_rng([seed, k]), size, pixel_mm,
                                 tissues == "drawn"))
    return found


def scan(truth: Truth, tau_ms: list[float], snr: float, scans: int, seed: int) -> torch.Tensor:
    """Return ``scans`` repeated acquisitions of one volunteer, ``(scans, N, H, W)`` float32, reproducibly."""
    kappa = torch.from_numpy(truth.kappa[None]).expand(scans, -1, -1, -1)
    tau = torch.as_tensor(tau_ms, dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    return synthesise(kappa, float(sigma_for_snr(snr)), tau, truth.model, generator).float()


def median_cv(maps: np.ndarray, region: np.ndarray, parameter: int) -> float:
    """Return the median over ``region`` of the pixel-wise CV (%) of one parameter over the scans."""
    return float(np.nanmedian(coefficient_of_variation(maps[:, parameter][:, region])))


def scan_seed(seed: int, dataset: str, volunteer: int) -> int:
    """Return the noise seed of one volunteer's scans in one dataset (the same in every rule)."""
    return int(np.random.SeedSequence([seed, volunteer, *dataset.encode()]).generate_state(1)[0])


def acquisitions(volunteer_truths: list[Truth], dataset: str, tau_ms: list[float], snr: float, scans: int,
                 seed: int) -> Acquisitions:
    """Return every volunteer's ``scans`` repeated scans of a dataset (noise seeded per volunteer and dataset);
    their maps stack to ``(V, scans, Q, H, W)``; each method maps the head with the true noise SD."""
    sigma = float(sigma_for_snr(snr))

    def batches() -> Iterator[Batch]:
        for k, truth in enumerate(volunteer_truths):
            images = scan(truth, tau_ms, snr, scans, scan_seed(seed, dataset, k))
            yield Batch(images, torch.from_numpy(truth.fit_mask).expand(scans, -1, -1), sigma)

    return Acquisitions(batches, (len(volunteer_truths), scans), dataset)


def repeatability_arrays(volunteer_truths: list[Truth], estimates: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Return ``{"labels": (V, H, W), "truth": (V, Q, H, W), method: maps (V, scans, Q, H, W)}`` float32 for the
    figures, from each method's maps of ``acquisitions``."""
    return {"labels": np.stack([t.labels for t in volunteer_truths]),
            "truth": np.stack([t.kappa.astype(np.float32) for t in volunteer_truths]),
            **{method: maps.astype(np.float32) for method, maps in estimates.items()}}


def real_scans(volunteer_scans: list[list[str]], task: str, tau_ms: list[float], slice_index: int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Return one axial slice of real repeated scans, ``(V, C, N, H, W)``, and each volunteer's mask ``(V, H, W)``.

    ``volunteer_scans`` lists, per volunteer, C >= 2 series (NIfTI + sidecar or DICOM folder) of the
    same geometry, repeated without moving (the paper's test-retest). ``slice_index`` defaults to
    the middle slice. The mask is ``qmri.data.masks.auto_mask`` of the scans' mean: the head, not only
    the brain, as no tissue labels exist for real scans.
    """
    images, masks = [], []
    for scans in volunteer_scans:
        series = [load_protocol_series(path, task, tau_ms) for path in scans]
        shapes = {s.data.shape for s in series}
        if len(shapes) != 1:
            raise QmriError(f"repeated scans differ in shape: {sorted(shapes)} ({', '.join(map(str, scans))})")
        z = series[0].data.shape[2] // 2 if slice_index is None else slice_index
        if not 0 <= z < series[0].data.shape[2]:
            raise QmriError(f"slice {z} is outside the {series[0].data.shape[2]} slices of {scans[0]}")
        stack = np.stack([s.data[:, :, z] for s in series]).astype(np.float32)  # shape (C, H, W, N)
        masks.append(auto_mask(stack.mean(axis=0)))
        images.append(np.moveaxis(stack, -1, 1))
    shapes = {i.shape[1:] for i in images}
    if len(shapes) != 1:
        raise QmriError(f"the volunteers' scans differ in shape or count: {sorted(shapes)}")
    return np.stack(images), np.stack(masks)


def real_acquisitions(images: np.ndarray, masks: np.ndarray, label: str = "real scans") -> Acquisitions:
    """Return real scans from ``real_scans`` (one batch per volunteer; sigma unknown, so each method estimates
    it); their maps stack to ``(V, C, Q, H, W)``."""

    def batches() -> Iterator[Batch]:
        for scans, mask in zip(images, masks):
            yield Batch(torch.from_numpy(scans), torch.from_numpy(mask).expand(len(scans), -1, -1), None)

    return Acquisitions(batches, images.shape[:2], label)


def map_real(images: np.ndarray, masks: np.ndarray, estimators: dict[str, Estimator]) -> dict[str, np.ndarray]:
    """Return ``{method: maps (V, C, Q, H, W)}`` float32 of real scans from ``real_scans``."""
    return {name: maps.astype(np.float32) for name, maps in fit_all(real_acquisitions(images, masks), estimators).items()}


def pixel_cvs(maps: dict[str, np.ndarray], region: np.ndarray, parameter: int) -> dict[str, np.ndarray]:
    """Return ``{model: per-pixel CV (%)}`` over ``region`` of one parameter from each model's repeated maps
    ``(C, Q, ...)``, the pixels in the same order for every model."""
    return {model: coefficient_of_variation(m[:, parameter][:, region]) for model, m in maps.items()}


def generalisation_rows(dataset: str, protocol: Protocol, subject: str, cvs: dict[str, np.ndarray]) -> list[dict]:
    """Return section 5.4's rows of one subject (a volunteer or a phantom) of one T1 dataset: per model the median
    T1 CV (%) over the tissues of interest, and for every model the mean, SD and count of its per-pixel CV minus that
    of the RIM trained for the dataset's protocol (the paired samples of an equivalence test)."""
    own = cvs.get(f"rim {protocol.name}")
    rows = []
    for model, cv in cvs.items():
        row = {"dataset": dataset, "protocol": protocol.name, "n_tau": len(protocol.tau_ms), "subject": subject,
               "model": model, "median_cv_t1": float(np.nanmedian(cv))}
        if own is not None:
            diff = cv - own
            diff = diff[np.isfinite(diff)]
            row |= {"cv_minus_own_mean": float(diff.mean()), "cv_minus_own_sd": float(diff.std(ddof=1)),
                    "pixels": int(diff.size)}
        rows.append(row)
    return rows


def generalisation_table(volunteer_truths: list[Truth], datasets: dict[str, Protocol],
                         estimates: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    """Return section 5.4's table for the volunteers (``generalisation_rows``): per T1 dataset (name -> its
    protocol) and volunteer, every model's maps ``estimates[dataset][model]`` ``(V, scans, Q, H, W)`` over the
    tissues of interest (GM and WM)."""
    rows = []
    for dataset, protocol in datasets.items():
        arrays = repeatability_arrays(volunteer_truths, estimates[dataset])
        for k in range(len(volunteer_truths)):
            tissue = np.isin(arrays["labels"][k], (T.GM, T.WM))  # the paper's "tissues of interest"
            cvs = pixel_cvs({model: arrays[model][k] for model in estimates[dataset]}, tissue, 2)
            rows += generalisation_rows(dataset, protocol, f"volunteer {k + 1}", cvs)
    return pd.DataFrame(rows)
