"""Blurriness analysis (section 5.1.2): do the methods keep one-pixel structures and their neighbours?

Four structures are written into the T1 map of the test slice (scenario E2): a hypo-intense point
(400 ms) in grey matter, a hyper-intense point (1200 ms) in white matter, and hyper-intense vertical
and horizontal lines (1200 ms) in white matter. The same experiment on the unmodified map is E1.

Choices where the paper is silent:
- placement is automatic: each structure goes where its tissue is thickest (largest distance to
  other tissue along the whole structure), at least ``SEPARATION_PX`` from the others; lines are
  ``LINE_PX`` pixels long;
- the Neighbourhood is the ring of pixels within ``RING_PX`` (chessboard distance) of the structure;
- the independent t-test compares the pooled per-estimate relative errors (every repetition and
  pixel of the region) of E1 and E2, so a one-pixel structure still has C samples per scenario;
  for the CV it compares the per-pixel CVs (Welch), undefined for one pixel.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch
from scipy import ndimage, stats

from qmri.estimators.methods import Estimator
from qmri.paper.acquisitions import Acquisitions, Batch, fit_all, noisy_batches
from qmri.paper.metrics import box_summary, pixel_metrics
from qmri.simulation import tissues as T
from qmri.simulation.simulate import Truth, sigma_for_snr

LINE_PX = 7
#: the box-plot numbers kept per region (``qmri.paper.metrics.box_summary``)
BOX = ("min", "q1", "median", "q3", "max")
RING_PX = 2
SEPARATION_PX = 12


@dataclass(frozen=True)
class Structure:
    """One simulated structure: its name, tissue, T1 (ms) and shape (pixel offsets from its centre)."""

    name: str
    tissue: int
    t1_ms: float
    offsets: tuple[tuple[int, int], ...]


_HALF = LINE_PX // 2
STRUCTURES = (
    Structure("hypo-intense point (GM)", T.GM, 400.0, ((0, 0),)),
    Structure("hyper-intense point (WM)", T.WM, 1200.0, ((0, 0),)),
    # maps are (x, y) arrays shown with y up: a vertical line runs along the second axis
    Structure("vertical line (WM)", T.WM, 1200.0, tuple((0, k) for k in range(-_HALF, _HALF + 1))),
    Structure("horizontal line (WM)", T.WM, 1200.0, tuple((k, 0) for k in range(-_HALF, _HALF + 1))),
)


def place_structures(labels: np.ndarray) -> dict[str, np.ndarray]:
    """Return ``{structure name: boolean mask (H, W)}``, placed where each tissue is thickest."""
    taken = np.zeros(labels.shape, dtype=bool)
    placed = {}
    for s in STRUCTURES:
        depth = ndimage.distance_transform_edt(labels == s.tissue)
        apart = ndimage.distance_transform_edt(~taken) if taken.any() else np.full(labels.shape, np.inf)
        # for every centre: the depth of the shallowest pixel the structure would cover, and its
        # distance to the structures already placed
        worst, nearest = np.full(labels.shape, np.inf), np.full(labels.shape, np.inf)
        for dy, dx in s.offsets:
            worst = np.minimum(worst, np.roll(depth, (-dy, -dx), axis=(0, 1)))
            nearest = np.minimum(nearest, np.roll(apart, (-dy, -dx), axis=(0, 1)))
        worst[nearest <= SEPARATION_PX] = -1
        cy, cx = np.unravel_index(np.argmax(worst), labels.shape)
        if worst[cy, cx] < RING_PX + 1:
            raise ValueError(f"no room for the {s.name} in this slice")
        mask = np.zeros(labels.shape, dtype=bool)
        mask[[cy + dy for dy, _ in s.offsets], [cx + dx for _, dx in s.offsets]] = True
        placed[s.name] = mask
        taken |= mask
    return placed


def regions(structure: np.ndarray) -> dict[str, np.ndarray]:
    """Return the Structure and Neighbourhood masks of one structure."""
    ring = ndimage.binary_dilation(structure, structure=np.ones((3, 3), bool), iterations=RING_PX) & ~structure
    return {"Structure": structure, "Neighbourhood": ring}


def with_structures(truth: Truth, placed: dict[str, np.ndarray]) -> Truth:
    """Return scenario E2: the truth with each structure's T1 written in."""
    kappa = truth.kappa.copy()
    t1 = truth.model.index("T1")
    for s in STRUCTURES:
        kappa[t1][placed[s.name]] = s.t1_ms
    return replace(truth, kappa=kappa)


def _relative_errors(estimates: np.ndarray, truth: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Return every estimate's relative error in percent over ``region``, flattened (C x pixels)."""
    return ((estimates[:, region] - truth[region]) / truth[region] * 100.0).ravel()


def scenarios(truth: Truth) -> tuple[dict[str, Truth], dict[str, np.ndarray]]:
    """Return the scenarios ``{"E1": truth, "E2": truth with the structures}`` and the structures' masks."""
    placed = place_structures(truth.labels)
    return {"E1": truth, "E2": with_structures(truth, placed)}, placed


def acquisitions(truth: Truth, tau_ms: list[float], snr: float, repetitions: int, seed: int) -> Acquisitions:
    """Return C realisations of E1 and of E2 at ``snr`` with the same noise in both (the generator restarts
    from ``seed``); their maps stack to ``(2, C, Q, H, W)``."""
    sigma = float(sigma_for_snr(snr))
    cases = scenarios(truth)[0]

    def batches() -> Iterator[Batch]:
        for scenario in cases.values():
            yield from noisy_batches(scenario, tau_ms, sigma, repetitions, torch.Generator().manual_seed(seed))

    return Acquisitions(batches, (len(cases), repetitions), "blurriness")


def blurriness_table(truth: Truth, estimates: dict[str, np.ndarray]) -> tuple[pd.DataFrame, dict[str, np.ndarray], Truth]:
    """Return ``(table, structure masks, E2 truth)`` from each method's maps ``(2, C, Q, H, W)`` of ``acquisitions``:
    per method, structure, region and scenario, T1 metrics.

    The table has the median, SD and range over the region of the per-pixel relative bias and CV (percent),
    the box (``BOX``) of the per-pixel CV and of the pooled per-estimate relative errors (every repetition and
    pixel: the paper's "Relative Bias over one hundred repetitions", fig. 3d-e), the errors' mean, SD and count
    (the t-test's samples, so equivalence tests can be run on them), and for E2 rows the t-test p-values
    against E1.
    """
    cases, placed = scenarios(truth)
    t1 = truth.model.index("T1")
    rows = []
    for method, maps in estimates.items():
        for s in STRUCTURES:
            for region_name, region in regions(placed[s.name]).items():
                per = {}
                for k, (name, scenario) in enumerate(cases.items()):
                    est = maps[k]  # shape (C, Q, H, W)
                    metrics = pixel_metrics(est, scenario.kappa, region)
                    rb, cv = metrics["rb"][t1], metrics["cv"][t1]
                    errors = _relative_errors(est[:, t1], scenario.kappa[t1], region)
                    per[name] = (errors, cv)
                    error_box, cv_box = box_summary(errors), box_summary(cv)
                    rows.append({"method": method, "structure": s.name, "region": region_name, "scenario": name,
                                 "pixels": int(region.sum()), "rb_median": float(np.median(rb)),
                                 "rb_sd": float(rb.std()), "rb_min": float(rb.min()), "rb_max": float(rb.max()),
                                 "cv_median": float(np.median(cv)), "cv_sd": float(cv.std()),
                                 **{f"cv_{k}": cv_box[k] for k in BOX},
                                 **{f"error_{k}": error_box[k] for k in BOX},
                                 "error_mean": float(errors.mean()), "error_sd": float(errors.std(ddof=1)),
                                 "error_n": int(errors.size)})
                rows[-1]["p_rb"] = float(stats.ttest_ind(per["E1"][0], per["E2"][0]).pvalue)
                rows[-1]["p_cv"] = (float(stats.ttest_ind(per["E1"][1], per["E2"][1], equal_var=False).pvalue)
                                    if region.sum() > 1 else float("nan"))
    return pd.DataFrame(rows), placed, cases["E2"]


def blurriness(truth: Truth, tau_ms: list[float], snr: float, repetitions: int, estimators: dict[str, Estimator],
               seed: int) -> tuple[pd.DataFrame, dict[str, np.ndarray], Truth]:
    """Return ``blurriness_table`` with every method fitted here (the pipeline fits each in a job of its own)."""
    return blurriness_table(truth, fit_all(acquisitions(truth, tau_ms, snr, repetitions, seed), estimators))
