"""Figures. Colours per method follow the paper: RIM red, MLE blue, ResNet green."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from qmri.io import atomic_path  # noqa: E402

METHOD_COLOURS = {"rim": "#d62728", "mle": "#1f77b4", "resnet": "#2ca02c"}


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


def loss_curve(log: pd.DataFrame, title: str) -> plt.Figure:
    """Return the training loss against iteration (log scale), raw and running median.

    ``log`` has columns ``iteration``, ``loss`` and ``final_estimate_loss`` (the CSV that training writes).
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
    ax.set_ylabel("MSE (network units)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig
