"""An experiment's scans as reproducible batches, and fitting one method to all of them.

The pipeline fits each method in a job of its own (rule ``fit``): every job regenerates the same
noisy images from the seed, batch by batch, so no image is stored and each method's maps are
computed once and cached. The batches are those the experiments always used (``noisy_batches``:
realisations ``batch`` at a time), so a fit does not depend on which other methods ran.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from qmri.data.io import load_arrays, save_arrays
from qmri.estimators.methods import Estimator
from qmri.simulation.simulate import Truth, synthesise


@dataclass(frozen=True)
class Batch:
    """Images ``(c, N, H, W)`` float32, the mask to map ``(c, H, W)`` and the noise SD (None: unknown)."""

    images: torch.Tensor
    mask: torch.Tensor
    sigma: float | None


@dataclass(frozen=True)
class Acquisitions:
    """The scans of one dataset: ``batches()`` yields them in a fixed order, every call the same images;
    their maps stack to ``shape + (Q, H, W)`` (e.g. ``(SNRs, C)`` for the Monte Carlo experiment)."""

    batches: Callable[[], Iterator[Batch]]
    shape: tuple[int, ...]
    label: str = "scans"


#: noise realisations drawn and fitted at a time (bounded memory)
BATCH = 10


def noisy_batches(truth: Truth, tau_ms: list[float], sigma: float, repetitions: int, generator: torch.Generator,
                  batch: int = BATCH) -> Iterator[Batch]:
    """Yield ``repetitions`` noisy acquisitions of ``truth``, ``batch`` at a time (bounded memory), from ``generator``."""
    kappa = torch.from_numpy(truth.kappa[None]).to(torch.float64)  # shape (1, Q, H, W)
    tau = torch.as_tensor(tau_ms, dtype=torch.float64)
    mask = torch.from_numpy(truth.fit_mask)
    for start in range(0, repetitions, batch):
        c = min(batch, repetitions - start)
        signal = synthesise(kappa.expand(c, -1, -1, -1), sigma, tau, truth.model, generator).float()
        yield Batch(signal, mask.expand(c, -1, -1), sigma)


def fit(acquisitions: Acquisitions, estimator: Estimator, progress: bool = False) -> np.ndarray:
    """Return one method's maps of every scan, ``shape + (Q, H, W)``, on the CPU."""
    parts = [estimator(b.images, b.mask, b.sigma).cpu().numpy()
             for b in tqdm(acquisitions.batches(), desc=acquisitions.label, disable=not progress)]
    maps = np.concatenate(parts)
    return maps.reshape(*acquisitions.shape, *maps.shape[1:])


def fit_all(acquisitions: Acquisitions, estimators: dict[str, Estimator]) -> dict[str, np.ndarray]:
    """Return ``{method: fit(acquisitions, estimator)}``: every method on the same scans."""
    return {name: fit(acquisitions, estimator) for name, estimator in estimators.items()}


def save_fit(path: str | os.PathLike, maps: np.ndarray) -> None:
    """Write a fit's maps losslessly: float32 when every value is one (the networks'), else float64 (the MLE's)."""
    narrow = maps.astype(np.float32)
    exact = np.array_equal(narrow.astype(maps.dtype), maps, equal_nan=True)
    save_arrays(path, maps=narrow if exact else maps, dtype=np.array(maps.dtype.str))


def load_fit(path: str | os.PathLike) -> np.ndarray:
    """Return the maps written by ``save_fit``, in the dtype the method returned them."""
    arrays = load_arrays(path)
    return arrays["maps"].astype(np.dtype(str(arrays["dtype"])))
