"""Figures. Colours per method follow the paper: RIM red, MLE blue, ResNet green."""

from __future__ import annotations

import os
from collections.abc import Iterator

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from qmri.data.io import atomic_path  # noqa: E402
from qmri.paper.blurriness import regions  # noqa: E402
from qmri.paper.metrics import coefficient_of_variation, outliers  # noqa: E402
from qmri.paper.naming import METHOD_COLOURS, METHOD_NAMES, replicate_of  # noqa: E402
from qmri.simulation import tissues as T  # noqa: E402


def save_figure(fig: plt.Figure, *paths: str | os.PathLike) -> None:
    """Save ``fig`` to each path (format from the suffix), atomically, then close it."""
    for path in paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=150, bbox_inches="tight")
    plt.close(fig)


def trainset_examples(kappa: np.ndarray, sigma: np.ndarray, images: np.ndarray, tau_ms: np.ndarray,
                      image_index: tuple[int, int]) -> plt.Figure:
    """Return a grid of training patches: rows are patches; columns T1, T2, A, B and two weighted images.

    ``kappa`` is ``(P, 4, H, W)`` (A, B, T1, T2), ``images`` ``(P, N, H, W)``; ``image_index``
    picks the two weighted images shown (by index into ``tau_ms``).
    """
    columns = [("T1 [ms]", kappa[:, 2], "magma", (0, 4000)), ("T2 [ms]", kappa[:, 3], "viridis", (0, 250)),
               ("A [a.u.]", kappa[:, 0], "gray", (0, 1.4)), ("B", kappa[:, 1], "cividis", (1.4, 2.0))]
    for i in image_index:
        columns.append((f"image, TI = {tau_ms[i]:.0f} ms", images[:, i], "gray", (0, 1.2)))
    n_rows = kappa.shape[0]
    fig, axes = plt.subplots(n_rows, len(columns), figsize=(2.1 * len(columns), 2.0 * n_rows + 0.6),
                             squeeze=False, layout="constrained")
    for col, (title, data, cmap, (vmin, vmax)) in enumerate(columns):
        for row in range(n_rows):
            ax = axes[row, col]
            im = ax.imshow(data[row], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(title, fontsize=9)
            if title == "B":
                ax.text(0.5, 0.5, f"B = {data[row].mean():.3f}", transform=ax.transAxes, ha="center",
                        va="center", fontsize=10, bbox={"facecolor": "white", "alpha": 0.8})
            if col == 0:
                ax.set_ylabel(f"SNR {kappa[row, 0][kappa[row, 0] > 0].mean() / sigma[row]:.0f}", fontsize=9)
        fig.colorbar(im, ax=axes[:, col], location="bottom", shrink=0.8, pad=0.01)
    fig.suptitle("Simulated training patches (section 4.2): ground truth and two noisy weighted images")
    return fig


#: the training loss's axis label per ``NetworkForm.loss``
LOSS_LABELS = {"network": "MSE over the object (network units)", "physical": "MSE over every pixel (A / s, B, T in s)"}


def loss_curve(log: pd.DataFrame, title: str, loss: str = "network") -> plt.Figure:
    """Return the training loss against iteration (log scale), raw and running median.

    ``log`` has columns ``iteration``, ``loss`` and ``final_estimate_loss`` (the CSV that training writes);
    ``loss``: the network form's loss (``LOSS_LABELS``).
    """
    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    window = max(1, len(log) // 50)
    method = title.split()[0].lower()
    colour = METHOD_COLOURS.get(method, "k")
    ax.plot(log["iteration"], log["loss"], color=colour, alpha=0.25, lw=0.8, label="loss per mini-batch")
    ax.plot(log["iteration"], log["loss"].rolling(window, min_periods=1).median(), color=colour, lw=2,
            label=f"running median ({window})")
    if method == "rim":
        ax.plot(log["iteration"], log["final_estimate_loss"].rolling(window, min_periods=1).median(),
                color="k", lw=1, ls="--", label="final estimate only")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel(LOSS_LABELS[loss])
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


#: display order and names of the methods
METRIC_NAMES = {"rb": "Relative bias (%)", "cv": "Coefficient of variation (%)"}


def _full_range_axis(ax: plt.Axes, stats: pd.DataFrame) -> None:
    """Fit the y axis to every whisker of ``stats`` whole (minimum to maximum, as the paper's): linear, or a
    symmetric log axis that stays linear over the boxes when the extremes lie more than 20 box heights away."""
    span = max(stats["q3"].max() - stats["q1"].min(), 1e-3)
    lo, hi = stats["min"].min(), stats["max"].max()
    if hi - lo > 20 * span:
        ax.set_yscale("symlog", linthresh=span)
    pad = 0.05 * (hi - lo) if hi - lo <= 20 * span else 0.0
    ax.set_ylim(lo - pad - 0.05 * span, hi + pad + 0.05 * span)


def noise_robustness(summary: pd.DataFrame, title: str) -> plt.Figure:
    """Return figure 2 / A1: box plots of per-pixel relative bias (top) and CV (bottom) against SNR.

    ``summary`` holds the rows of ``qmri.paper.montecarlo.noise_robustness``. Boxes are quartiles with a
    line at the median and whiskers at the minimum and maximum over the brain, as in the paper, shown whole
    (``_full_range_axis``).
    """
    params = list(dict.fromkeys(summary["parameter"]))
    methods = [m for m in METHOD_NAMES if m in set(summary["method"])]
    snrs = sorted(set(summary["snr"]))
    fig, axes = plt.subplots(2, len(params), figsize=(4.2 * len(params), 6.5), layout="constrained", squeeze=False)
    width = 0.8 / len(methods)
    for row, metric in enumerate(METRIC_NAMES):
        for col, param in enumerate(params):
            ax = axes[row, col]
            part = summary[(summary["metric"] == metric) & (summary["parameter"] == param)]
            for k, method in enumerate(methods):
                rows = part[part["method"] == method].set_index("snr").loc[snrs]
                boxes = [{"med": r["median"], "q1": r["q1"], "q3": r["q3"], "whislo": r["min"], "whishi": r["max"],
                          "fliers": []} for _, r in rows.iterrows()]
                colour = METHOD_COLOURS[method]
                ax.bxp(boxes, positions=np.arange(len(snrs)) + (k - (len(methods) - 1) / 2) * width, widths=width * 0.85,
                       patch_artist=True, boxprops={"facecolor": colour, "alpha": 0.45, "edgecolor": colour},
                       medianprops={"color": "k"}, whiskerprops={"color": colour}, capprops={"color": colour})
            if metric == "rb":
                ax.axhline(0, color="0.5", lw=0.8, zorder=0)
            _full_range_axis(ax, part)
            ax.set_xticks(np.arange(len(snrs)), [f"{s:g}" for s in snrs])
            ax.set_xlabel("SNR")
            ax.set_title(f"{param}: {METRIC_NAMES[metric].split(' (')[0].lower()}")
            if col == 0:
                ax.set_ylabel(METRIC_NAMES[metric])
    handles = [plt.Rectangle((0, 0), 1, 1, color=METHOD_COLOURS[m], alpha=0.6) for m in methods]
    fig.legend(handles, [METHOD_NAMES[m] for m in methods], loc="outside lower center", ncol=len(methods))
    fig.suptitle(title)
    return fig


#: half side (pixels) of the zoom on each blurriness structure (fig. 3b-c)
ZOOM_HALF_PX = 7


def blurriness(table: pd.DataFrame, t1_e2: np.ndarray, placed: dict[str, np.ndarray], title: str = "Blurriness"
               ) -> plt.Figure:
    """Return figure 3: the E2 T1 map with its structures (a), a zoom on each with its Structure and
    Neighbourhood regions (b-c), and T1 relative bias and CV per region (d-g).

    Boxes are quartiles with a line at the median and whiskers at the range, as the paper's: of every estimate's
    relative error in the region for the relative bias, of the per-pixel CV with a black line of the SD above
    for the CV; E1 hatched, E2 solid; * and ** mark E2 rows whose t-test against E1 gives p < 0.05 and p < 0.01
    (``qmri.paper.blurriness``).
    """
    fig = plt.figure(figsize=(15, 8), layout="constrained")
    grid = fig.add_gridspec(2, 3, width_ratios=[1.1, 1, 1])
    ax = fig.add_subplot(grid[0, 0])
    im = ax.imshow(t1_e2.T, cmap="gray", vmin=0, vmax=2500, origin="lower")
    for k, mask in enumerate(placed.values(), start=1):
        ys, xs = np.nonzero(mask)
        ax.add_patch(plt.Rectangle((ys.min() - 4, xs.min() - 4), np.ptp(ys) + 8, np.ptp(xs) + 8, fill=False,
                                   ec="#ff7f0e", lw=1.2))
        ax.text(ys.max() + 6, xs.max() + 6, str(k), color="#ff7f0e", fontsize=11, weight="bold")
    ax.set_title("a) E2 ground truth T1 with structures 1-4", fontsize=10)
    ax.axis("off")
    fig.colorbar(im, ax=ax, shrink=0.7, label="T1 (ms)")
    zooms = grid[1, 0].subgridspec(2, 2)
    for k, (name, mask) in enumerate(placed.items()):
        zax = fig.add_subplot(zooms[k // 2, k % 2])
        xs, ys = np.nonzero(mask)
        cx, cy = int(np.median(xs)), int(np.median(ys))
        window = (slice(max(cx - ZOOM_HALF_PX, 0), cx + ZOOM_HALF_PX + 1),
                  slice(max(cy - ZOOM_HALF_PX, 0), cy + ZOOM_HALF_PX + 1))
        zax.imshow(t1_e2[window].T, cmap="gray", vmin=0, vmax=2500, origin="lower", interpolation="nearest")
        overlay = np.zeros((*t1_e2[window].shape, 4))
        for colour, region in zip(("#1f77b4", "#d62728"), regions(mask).values()):
            overlay[region[window]] = matplotlib.colors.to_rgba(colour, 0.55)
        zax.imshow(overlay.transpose(1, 0, 2), origin="lower", interpolation="nearest")
        zax.set_title(f"{'bc'[k // 2]}) {k + 1}: {name}", fontsize=8)
        zax.axis("off")
    structures = list(placed)
    methods = [m for m in METHOD_NAMES if m in set(table["method"])]
    width = 0.8 / (2 * len(methods))
    for row, region in enumerate(("Structure", "Neighbourhood")):
        for col, metric in enumerate(("rb", "cv")):
            ax = fig.add_subplot(grid[row, col + 1])
            part = table[table["region"] == region]
            stat = "error" if metric == "rb" else "cv"  # RB: every estimate's relative error; CV: per pixel
            extent = []
            for k, method in enumerate(methods):
                for j, scenario in enumerate(("E1", "E2")):
                    rows = part[(part["method"] == method) & (part["scenario"] == scenario)].set_index("structure")
                    rows = rows.loc[structures]
                    x = np.arange(len(structures)) + (2 * k + j - len(methods) + 0.5) * width
                    colour = METHOD_COLOURS[method]
                    ax.bxp([{"med": r[f"{stat}_median"], "q1": r[f"{stat}_q1"], "q3": r[f"{stat}_q3"],
                             "whislo": r[f"{stat}_min"], "whishi": r[f"{stat}_max"], "fliers": []}
                            for _, r in rows.iterrows()], positions=x, widths=width * 0.85, patch_artist=True,
                           boxprops={"facecolor": colour, "alpha": 0.9 if scenario == "E2" else 0.35,
                                     "hatch": None if scenario == "E2" else "//", "edgecolor": colour},
                           medianprops={"color": "k"}, whiskerprops={"color": colour}, capprops={"color": colour})
                    top = rows[f"{stat}_max"]
                    if metric == "cv":  # the SD over the region, a black line on top of the box (fig. 3f-g)
                        ax.vlines(x, rows["cv_q3"], rows["cv_q3"] + rows["cv_sd"], color="k", lw=1)
                        top = np.maximum(top, rows["cv_q3"] + rows["cv_sd"])
                    extent.append(rows[[f"{stat}_{b}" for b in ("min", "q1", "q3", "max")]].set_axis(
                        ["min", "q1", "q3", "max"], axis=1).assign(max=top))
                    if scenario == "E2":
                        for xi, ti, p in zip(x, top, rows[f"p_{metric}"]):
                            if p < 0.05:
                                ax.text(xi, ti, "**" if p < 0.01 else "*", ha="center", va="bottom", fontsize=11)
            _full_range_axis(ax, pd.concat(extent))
            if metric == "rb":
                ax.axhline(0, color="0.5", lw=0.8)
            ax.set_xticks(np.arange(len(structures)), [f"{k}" for k in range(1, len(structures) + 1)])
            ax.set_xlabel("structure")
            ax.set_ylabel(f"T1 {METRIC_NAMES[metric]}")
            ax.set_title(f"{'dfeg'[2 * row + col]}) {region}: {METRIC_NAMES[metric].split(' (')[0].lower()}")
    handles = [plt.Rectangle((0, 0), 1, 1, color=METHOD_COLOURS[m], alpha=0.9) for m in methods]
    handles += [plt.Rectangle((0, 0), 1, 1, fc="white", ec="k", hatch="//"), plt.Rectangle((0, 0), 1, 1, fc="0.5")]
    fig.legend(handles, [METHOD_NAMES[m] for m in methods] + ["E1 (original)", "E2 (structures)"],
               loc="outside lower center", ncol=len(methods) + 2)
    fig.suptitle(f"{title}: " + "; ".join(f"{k} {s}" for k, s in enumerate(structures, 1))
                 + "\nzooms: structure blue, Neighbourhood red; * p < 0.05, ** p < 0.01 (t-test E2 vs E1)", fontsize=10)
    return fig


def _map_panel(ax: plt.Axes, image: np.ndarray, title: str, vmin: float, vmax: float, cmap: str = "gray"):
    """Show one 2D map (x, y) in radiological view; return the image handle."""
    ax.set_title(title, fontsize=10)
    ax.axis("off")
    return ax.imshow(image.T, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")


def _agreement(ax: plt.Axes, reference: np.ndarray, other: np.ndarray, names: tuple[str, str], limit: float,
               unit: str) -> None:
    """2D histogram of ``other`` against ``reference`` with the identity line and the mean difference."""
    keep = np.isfinite(reference) & np.isfinite(other)
    ax.hist2d(reference[keep], other[keep], bins=120, range=[[0, limit], [0, limit]], cmap="magma", cmin=1)
    ax.plot([0, limit], [0, limit], color="c", lw=1)
    ax.set_xlabel(f"{names[0]} ({unit})")
    ax.set_ylabel(f"{names[1]} ({unit})")
    ax.set_title(f"{names[1]} vs {names[0]}: mean difference {np.mean(other[keep] - reference[keep]):+.1f} {unit}",
                 fontsize=9)
    ax.set_aspect("equal")


def _zoom_box(brain: np.ndarray, size: int) -> tuple[slice, slice]:
    """Return the ``size``-pixel square around the brain's centre (the detail of figure 5d-f)."""
    xs, ys = np.nonzero(brain)
    cx, cy = int(np.median(xs)), int(np.median(ys))
    half = size // 2
    x0 = min(max(cx - half, 0), brain.shape[0] - size)
    y0 = min(max(cy - half, 0), brain.shape[1] - size)
    return slice(x0, x0 + size), slice(y0, y0 + size)


def _maps_rows(fig: plt.Figure, axes: np.ndarray, maps: dict[str, np.ndarray], brain: np.ndarray,
               truth: np.ndarray, name: str, unit: str, limit: float, letters: Iterator[str],
               zoom: tuple[slice, slice] | None) -> None:
    """Draw the maps row (outliers marked), the zoom row if ``zoom``, the difference row and the agreement row
    of figures 5 and 8 at colour scale ``limit``, each panel titled with the next of ``letters``; ``maps`` are
    volunteer 1 scan 1 per method (H, W)."""
    methods = list(maps)
    reference = maps["mle"]
    row = iter(range(axes.shape[0]))
    top = next(row)
    for k, method in enumerate(methods):
        bad = outliers(maps[method], truth, brain)
        im = _map_panel(axes[top, k], maps[method], "", 0, limit)
        ys, xs = np.nonzero(bad)
        axes[top, k].scatter(ys, xs, s=2, c="#00e5ff", marker="s", lw=0)
        axes[top, k].set_title(f"{next(letters)}) {METHOD_NAMES[method]} {name} (0-{limit:g} {unit}): {bad.sum()} "
                               "outliers (cyan)", fontsize=9)
    fig.colorbar(im, ax=axes[top, len(methods) - 1], shrink=0.7, label=f"{name} ({unit})")
    if zoom is not None:
        zrow = next(row)
        for k, method in enumerate(methods):
            im = _map_panel(axes[zrow, k], maps[method][zoom], f"{next(letters)}) detail", 0, limit)
            bad = outliers(maps[method], truth, brain)[zoom]
            ys, xs = np.nonzero(bad)
            axes[zrow, k].scatter(ys, xs, s=14, facecolors="none", edgecolors="#00e5ff", lw=0.8)
        box = plt.Rectangle((zoom[0].start, zoom[1].start), zoom[0].stop - zoom[0].start,
                            zoom[1].stop - zoom[1].start, fill=False, ec="#1f77b4", lw=1.2)
        axes[top, 0].add_patch(box)
    drow, arow = next(row), next(row)
    for ax in (axes[drow, 0], axes[arow, 0]):
        ax.axis("off")
    axes[drow, 0].text(0.0, 0.5, "Outliers: brain pixels more than\n50 % off the simulated truth,\nor not finite. "
                       "Differences and\nagreement over the brain.", fontsize=9, va="center")
    for k, method in enumerate(methods[1:], start=1):
        diff = np.where(brain, maps[method] - reference, np.nan)
        d = _map_panel(axes[drow, k], diff, f"{next(letters)}) {METHOD_NAMES[method]} - MLE (+-{0.2 * limit:g} "
                       f"{unit})", -0.2 * limit, 0.2 * limit, "RdBu_r")
        fig.colorbar(d, ax=axes[drow, k], shrink=0.7, label=f"{name} difference ({unit})")
    for k, method in enumerate(methods[1:], start=1):
        _agreement(axes[arow, k], reference[brain], maps[method][brain], ("MLE", METHOD_NAMES[method]), limit, unit)
        axes[arow, k].set_title(f"{next(letters)}) {axes[arow, k].get_title()}", fontsize=9)


def invivo_maps(maps: dict[str, np.ndarray], labels: np.ndarray, truth: np.ndarray, parameter: int, name: str,
                unit: str, limit: float, title: str, wide_limit: float | None = None, zoom_px: int | None = None
                ) -> plt.Figure:
    """Return figures 5 and 8: volunteer 1 scan 1 per method with its outliers, a detail (``zoom_px`` square
    around the brain's centre: fig. 5d-f), differences to the MLE and agreement with it; with ``wide_limit`` the
    same again at that scale (fig. 8h-o: CSF and T2 above 750 ms).

    ``maps`` holds each method's ``(V, C, Q, H, W)`` array, ``truth`` the volunteers' ``(V, Q, H, W)``.
    """
    methods = [m for m in METHOD_NAMES if m in maps]
    brain = np.isin(labels[0], T.BRAIN_LABELS)
    zoom = _zoom_box(brain, zoom_px) if zoom_px else None
    scales = [(limit, zoom)] + ([(wide_limit, None)] if wide_limit else [])
    rows = sum(3 + (z is not None) for _, z in scales)
    fig, axes = plt.subplots(rows, len(methods), figsize=(4.2 * len(methods), 4.2 * rows), layout="constrained",
                             squeeze=False)
    first = {m: maps[m][0, 0, parameter] for m in methods}
    start, letters = 0, iter("abcdefghijklmnopqrstuvwxyz")
    for scale, z in scales:
        height = 3 + (z is not None)
        _maps_rows(fig, axes[start:start + height], first, brain, truth[0, parameter], name, unit, scale, letters,
                   z)
        start += height
    fig.suptitle(title)
    return fig


def invivo_repeatability(maps: dict[str, np.ndarray], brain: np.ndarray, parameter: int, name: str, unit: str,
                         limit: float, title: str) -> plt.Figure:
    """Return figure 6: volunteer 1's maps from scans 1 and 2 per method and the pixel-wise CV map over ``brain`` (H, W)."""

    methods = [m for m in METHOD_NAMES if m in maps]
    fig, axes = plt.subplots(len(methods), 3, figsize=(12, 4 * len(methods)), layout="constrained", squeeze=False)
    for row, method in enumerate(methods):
        scans = maps[method][0, :, parameter]  # shape (C, H, W)
        for c in range(2):
            im = _map_panel(axes[row, c], scans[c], f"{METHOD_NAMES[method]}, scan {c + 1}", 0, limit)
        cv = np.where(brain, coefficient_of_variation(scans), np.nan)
        cvim = _map_panel(axes[row, 2], cv, f"{METHOD_NAMES[method]} CV: mean {np.nanmean(cv):.1f}%, "
                          f"median {np.nanmedian(cv):.1f}% (brain)", 0, 30, "viridis")
        fig.colorbar(im, ax=axes[row, 1], shrink=0.8, label=f"{name} ({unit})")
        fig.colorbar(cvim, ax=axes[row, 2], shrink=0.8, label="CV (%)")
    fig.suptitle(title)
    return fig


def generalisation(table: pd.DataFrame) -> plt.Figure:
    """Return figure 9: median CV of T1 per dataset and subject (the phantom first, then the volunteers by their
    number of TIs, as the paper's panels a-e) for MLE, the ResNet, every T1 RIM and ours (the run's own networks,
    not those retrained with other seeds)."""
    groups = table[["dataset", "n_tau", "subject"]].drop_duplicates()
    groups = groups.assign(first=groups["subject"] != "phantom").sort_values(["first", "n_tau", "subject"])
    models = [m for m in dict.fromkeys(table["model"]) if replicate_of(m)[1] == 1]
    rims = [m for m in models if m.startswith("rim")]
    shades = plt.cm.Reds(np.linspace(0.45, 0.95, len(rims)))
    colours = {**METHOD_COLOURS, **dict(zip(rims, shades))}
    labels = {**METHOD_NAMES, "resnet": "ResNet (dataset's own)", **{m: m.replace("rim ", "RIM ") for m in rims}}
    fig, ax = plt.subplots(figsize=(2.2 * len(groups) + 2, 4.5), layout="constrained")
    width = 0.8 / len(models)
    cell = table.set_index(["dataset", "subject", "model"])["median_cv_t1"]
    for k, model in enumerate(models):
        values = [cell.get((g.dataset, g.subject, model), np.nan) for g in groups.itertuples()]
        ax.bar(np.arange(len(groups)) + (k - (len(models) - 1) / 2) * width, values, width, color=colours[model],
               label=labels[model])
    ax.set_xticks(np.arange(len(groups)), [f"{'abcdefghij'[i]}) {g.dataset} ({g.n_tau} TIs)\n{g.subject}"
                                           for i, g in enumerate(groups.itertuples())], fontsize=8)
    ax.set_ylabel("median CV of T1 (%)\nphantom spheres or GM and WM")
    ax.set_title("Generalisability (section 5.4): every T1 RIM on every T1 dataset")
    ax.legend(fontsize=8, ncol=2)
    return fig


def phantom(table: pd.DataFrame, arrays: dict[str, np.ndarray], parameter: str, title: str) -> plt.Figure:
    """Return figure 4 / A2: per sphere, relative bias and CV of the relaxation time, and the ROIs.

    Spheres sit on the x axis by nominal value (ms); boxes are quartiles, whiskers the ROI's min and
    max, out-of-range spheres faded. The y axis is fitted to the in-range spheres, so a sphere far
    outside the training range does not squash the others; the CSV has every number.
    """
    methods = [m for m in METHOD_NAMES if m in set(table["method"])]
    spheres = table.drop_duplicates("sphere").sort_values("nominal_ms")
    fig = plt.figure(figsize=(15, 4.8), layout="constrained")
    grid = fig.add_gridspec(1, 3, width_ratios=[1.3, 1.3, 1])
    width = 0.8 / len(methods)
    for col, metric in enumerate(METRIC_NAMES):
        ax = fig.add_subplot(grid[0, col])
        part = table[table["metric"] == metric].set_index(["method", "sphere"])
        for k, method in enumerate(methods):
            for x, (_, sphere) in enumerate(spheres.iterrows()):
                r = part.loc[(method, sphere["sphere"])]
                colour = METHOD_COLOURS[method]
                alpha = 0.55 if sphere["in_range"] else 0.12
                ax.bxp([{"med": r["median"], "q1": r["q1"], "q3": r["q3"], "whislo": r["min"], "whishi": r["max"],
                         "fliers": []}], positions=[x + (k - (len(methods) - 1) / 2) * width], widths=width * 0.85,
                       patch_artist=True, boxprops={"facecolor": colour, "alpha": alpha, "edgecolor": colour},
                       medianprops={"color": "k"}, whiskerprops={"color": colour, "alpha": max(alpha, 0.3)},
                       capprops={"color": colour})
        inside = part[part["in_range"]]
        if len(inside):
            _full_range_axis(ax, inside)
        if metric == "rb":
            ax.axhline(0, color="0.5", lw=0.8, zorder=0)
        ax.set_xticks(np.arange(len(spheres)), [f"{v:.0f}" for v in spheres["nominal_ms"]], rotation=60)
        ax.set_xlabel(f"nominal {parameter} (ms)")
        ax.set_ylabel(f"{parameter} {METRIC_NAMES[metric][0].lower()}{METRIC_NAMES[metric][1:]}")
    ax = fig.add_subplot(grid[0, 2])
    image = arrays["image"]
    ax.imshow(image, cmap="gray", vmin=0, vmax=np.percentile(image, 99.5))
    names = list(dict.fromkeys(table["sphere"]))
    for (r, c), name in zip(arrays["centres"][0], names):
        ax.add_patch(plt.Circle((c, r), float(arrays["roi_px"]), fill=False, color="y", lw=1))
        ax.text(c, r - float(arrays["roi_px"]) - 2, name.split("-")[1], color="y", ha="center", fontsize=7)
    ax.set_title("sphere ROIs, scan 1 (maximum over tau)", fontsize=10)
    ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=METHOD_COLOURS[m], alpha=0.6) for m in methods]
    fig.legend(handles, [METHOD_NAMES[m] for m in methods], loc="outside lower center", ncol=len(methods))
    fig.suptitle(title, fontsize=11)
    return fig


def boundary_sharpness(maps: dict[str, np.ndarray], lines: np.ndarray, table: pd.DataFrame, tests: pd.DataFrame,
                       pixel_mm: float, example: int = 0, data: str = "IV_T1") -> plt.Figure:
    """Return figure 7: the lines on the RIM T1 map, one line's profiles and sigmoid fits, and |nu| per method.

    ``maps`` are T1 maps (H, W) per method, ``lines`` from ``qmri.paper.sharpness.boundary_lines``,
    ``table`` from ``qmri.paper.sharpness.slopes`` and ``tests`` from ``qmri.paper.sharpness.paired_tests``.
    """
    from qmri.paper.sharpness import positions_mm, profiles, sigmoid

    methods = [m for m in METHOD_NAMES if m in maps]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), layout="constrained", width_ratios=[1, 1.1, 0.9])
    _map_panel(axes[0], maps["rim"], "RIM T1 with the 20 profile lines (red)", 0, 2500)
    for start, end in lines:
        axes[0].plot([start[0], end[0]], [start[1], end[1]], color="r", lw=1.2)
    axes[0].plot(*lines[example, 0], "o", color="y", ms=4)
    x = positions_mm(lines, pixel_mm)
    ax = axes[1]
    for method in methods:
        y = profiles(maps[method], lines[example:example + 1])[0]
        row = table[(table["method"] == method) & (table["line"] == example)].iloc[0]
        ax.plot(x, y, ".", color=METHOD_COLOURS[method], ms=4)
        ax.plot(x, sigmoid(x, row["V"], row["nu"], row["x0_mm"], row["b"]), color=METHOD_COLOURS[method],
                label=f"{METHOD_NAMES[method]}: nu = {row['nu']:.2f} /mm")
    ax.set_xlabel("distance along the line, GM to WM (mm)")
    ax.set_ylabel("T1 (ms)")
    ax.set_title("line marked yellow: T1 and sigmoid fit", fontsize=10)
    ax.legend(fontsize=9)
    ax = axes[2]
    values = [table.loc[table["method"] == m, "abs_nu"].dropna() for m in methods]
    box = ax.boxplot(values, whis=(0, 100), patch_artist=True, tick_labels=[METHOD_NAMES[m] for m in methods])
    for patch, method in zip(box["boxes"], methods):
        patch.set(facecolor=METHOD_COLOURS[method], alpha=0.5)
    ax.set_ylabel("|nu| (1/mm)")
    ax.set_title("paired t-test: " + ", ".join(f"{METHOD_NAMES[r.a]}-{METHOD_NAMES[r.b]} p = {r.p:.2g}"
                                               for r in tests.itertuples()), fontsize=9)
    fig.suptitle(f"Boundary sharpness (section 5.3): sigmoid slope across the GM/WM interface, volunteer 1, {data}")
    return fig
