"""Hardware-phantom test-retest (section 5.2): the ISMRM/NIST system phantom, digital or scanned.

Each sphere's nominal T1 or T2 is the reference; relative bias (eq. 7) and CV (eq. 8) are computed
per pixel of a disc inside each sphere over the C repeated scans, and averaged over the pixels of
the spheres whose nominal value lies within the protocol's tau range (the paper's "restricted tau
domain"). Real sessions are not registered to each other: a pixel of a sphere is matched across
sessions by its offset from that session's detected sphere centre.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qmri.estimators.methods import Estimator
from qmri.paper.acquisitions import fit_all
from qmri.paper.metrics import box_summary, coefficient_of_variation, relative_bias
from qmri.paper.phantom.acquisitions import Scans
from qmri.paper.phantom.reference import TASK_PARAMETER, nominal
from qmri.paper.phantom.spheres import sphere_samples
from qmri.physics.signal import model_for_task


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


def repeatability_table(scans: Scans, maps: dict[str, np.ndarray], task: str, tau_ms: list[float]
                      ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Return the sphere table (``sphere_table``) and arrays for the figure from each method's maps
    ``(C, Q, H, W)`` of ``scans.acquisitions()``: the first scan's maximum intensity projection ``image``,
    the ``centres`` (C, 14, 2), ``roi_px`` and every method's relaxation-time maps ``(C, H, W)``."""
    model = model_for_task(task)
    parameter = model.param_names.index(TASK_PARAMETER[task])
    offsets = scans.roi_offsets()
    samples = {method: sphere_samples(m, scans.centres, offsets) for method, m in maps.items()}
    arrays = {"image": scans.images[0].max(axis=0), "centres": scans.centres,
              "roi_px": np.array(np.abs(offsets).max()),
              **{method: m[:, parameter].astype(np.float32) for method, m in maps.items()}}
    return sphere_table(samples, task, parameter, tau_ms), arrays


def repeatability(scans: Scans, estimators: dict[str, Estimator], task: str, tau_ms: list[float]
                ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Return ``repeatability_table`` with every method fitted here (the pipeline fits each in a job of its own)."""
    return repeatability_table(scans, fit_all(scans.acquisitions(), estimators), task, tau_ms)


def sphere_pixel_cvs(maps: dict[str, np.ndarray], scans: Scans, task: str) -> dict[str, np.ndarray]:
    """Return ``{method: per-pixel CV (%)}`` of the relaxation time over the scans, the ROI pixels of every sphere
    in sphere order, from each method's maps ``(C, Q, H, W)`` of ``scans`` (figure 9a: "phantom spheres")."""
    parameter = model_for_task(task).param_names.index(TASK_PARAMETER[task])
    offsets = scans.roi_offsets()
    return {method: coefficient_of_variation(sphere_samples(m, scans.centres, offsets)[:, parameter]).ravel()
            for method, m in maps.items()}
