"""Training-set simulation (section 4.2): parameter patches on brain anatomy, then weighted images.

A training set stores ground-truth parameter patches for every task at once,
channels ``KAPPA_NAMES = (A, B, T1, T2)``, plus a noise SD per patch; weighted images for
any protocol are synthesised from them on demand (``synthesise``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage, stats

from qmri.errors import QmriError
from qmri.physics.signal import SignalModel
from qmri.simulation import tissues as T
from qmri.simulation.brains import BrainModel

KAPPA_NAMES: tuple[str, ...] = ("A", "B", "T1", "T2")


@dataclass(frozen=True)
class Protocol:
    """An acquisition protocol of Table 2: its name, task ("t1" or "t2") and tau (ms)."""

    name: str
    task: str
    tau_ms: list[float]


@dataclass(frozen=True)
class TrainsetSettings:
    """How patches are drawn. Lengths in mm, times in ms."""

    n_patches: int = 7200
    patch_size: int = 40
    pixel_mm: float = 1.0
    #: SD of the voxel-wise Gaussian parameter noise, as a fraction of the patch's tissue value.
    #: The paper adds such noise "to enable recovery of intra-tissue variation" without a value.
    voxel_cv: float = 0.05
    #: how the training patches' voxel noise is made: "multiplicative" (SD ``voxel_cv`` of the tissue value, ours)
    #: or "additive" (the authors': ``ADDITIVE_VOXEL_SD``, then smoothed); test slices and volunteers keep ours
    voxel_noise: str = "multiplicative"
    b_half_normal_sd: float = 0.2
    sigma_min: float = 0.0065
    sigma_max: float = 0.255
    max_rotation_deg: float = 10.0
    scale_range: tuple[float, float] = (0.9, 1.1)
    flip: bool = True


def draw_patch_centres(model: BrainModel, n: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``n`` patch centres ``(n, 3)`` in voxel coordinates, uniform over the brain mask.

    The mask is the CSF, GM and WM voxels of the model's training slices; each centre is a
    mask voxel, jittered uniformly within it in-plane (so it rounds back to that voxel).
    """
    if not model.train_slices:
        raise QmriError(f"brain model {model.name} has no training slices")
    in_train = np.zeros(model.labels.shape[2], bool)
    in_train[list(model.train_slices)] = True
    mask = np.isin(model.labels, T.BRAIN_LABELS) & in_train[None, None, :]
    voxels = np.flatnonzero(mask)
    centres = np.stack(np.unravel_index(rng.choice(voxels, size=n), mask.shape), axis=1).astype(float)
    centres[:, :2] += rng.uniform(-0.5, 0.5, size=(n, 2))
    return centres


def resample_planes(model: BrainModel, centres: np.ndarray, size: int, pixel_mm: float,
                    angle: np.ndarray, scale: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """Return axial label planes ``(P, size, size)`` around ``centres`` (P, 3) in voxel units.

    Nearest-neighbour sampling on a grid of ``pixel_mm`` spacing, rotated by ``angle`` (rad),
    scaled by ``scale`` and mirrored left-right where ``mirror`` is -1; background outside.
    """
    zooms = np.abs(np.diag(model.affine)[:3])
    offsets = (np.arange(size) - (size - 1) / 2) * pixel_mm  # shape (W,), mm
    u, v = offsets[None, None, :], offsets[None, :, None]  # columns run along x, rows along y
    cos, sin = [f(angle)[:, None, None] * scale[:, None, None] for f in (np.cos, np.sin)]
    x = centres[:, 0, None, None] + mirror[:, None, None] * (cos * u - sin * v) / zooms[0]
    y = centres[:, 1, None, None] + (sin * u + cos * v) / zooms[1]
    z = np.broadcast_to(centres[:, 2, None, None], x.shape)
    coords = np.stack([x, y, z])  # shape (3, P, H, W), voxel units
    return ndimage.map_coordinates(model.labels, coords, order=0, mode="grid-constant", cval=0).astype(np.uint8)


def sample_patch_labels(model: BrainModel, settings: TrainsetSettings, rng: np.random.Generator
                        ) -> np.ndarray:
    """Return label patches ``(P, H, W)`` around centres from ``draw_patch_centres``.

    Each patch is rotated by up to ``max_rotation_deg``, scaled by a factor in ``scale_range`` and
    mirrored left-right with probability 1/2: the variation that makes one anatomy serve as many
    "subjects".
    """
    p = settings.n_patches
    centres = draw_patch_centres(model, p, rng)
    angle = np.deg2rad(rng.uniform(-settings.max_rotation_deg, settings.max_rotation_deg, p))
    scale = rng.uniform(*settings.scale_range, p)
    mirror = np.where(settings.flip & (rng.random(p) < 0.5), -1.0, 1.0)
    return resample_planes(model, centres, settings.patch_size, settings.pixel_mm, angle, scale, mirror)


def slice_labels(model: BrainModel, slice_index: int, size: int = 256, pixel_mm: float = 0.82) -> np.ndarray:
    """Return one whole axial slice ``(size, size)``, centred on the head, e.g. the paper's 256 x 256.

    The default 0.82 mm pixels are the paper's in-plane voxel size (Table 2).
    """
    head = np.argwhere(model.labels[:, :, slice_index] > 0)
    if len(head) == 0:
        raise QmriError(f"slice {slice_index} of {model.name} is empty")
    centre = np.array([[*(head.min(axis=0) + head.max(axis=0)) / 2, slice_index]], dtype=float)
    one = np.ones(1)
    return resample_planes(model, centre, size, pixel_mm, 0 * one, one, one)[0]


def draw_slice(model: BrainModel, slice_index: int, settings: TrainsetSettings, rng: np.random.Generator,
               size: int = 256, pixel_mm: float = 0.82, tissue_draw: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(labels, kappa)`` of one whole test slice, ``(1, size, size)`` and ``(1, 4, size, size)``.

    Parameters are drawn as for a training patch (section 4.2), so the slice is one more "subject"
    (``draw_parameters``; ``tissue_draw`` False: Table 1's tissue means with voxel-wise spread).
    """
    labels = slice_labels(model, slice_index, size, pixel_mm)[None]
    kappa, _ = draw_parameters(labels, settings, rng, tissue_draw)
    return labels, kappa


def held_out_slice(model: BrainModel, settings: TrainsetSettings, seed: int, size: int = 256, pixel_mm: float = 0.82
               ) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(labels, kappa)`` ``(size, size)`` and ``(4, size, size)`` of the model's middle test slice.

    The unseen slice of the simulated experiments (section 5.1: 256 x 256 at the paper's 0.82 mm),
    parameters drawn with a generator seeded from ``seed``.
    """
    if not model.test_slices:
        raise QmriError(f"brain model {model.name} has no test slices")
    middle = model.test_slices[len(model.test_slices) // 2]
    labels, kappa = draw_slice(model, middle, settings, np.random.default_rng(seed), size, pixel_mm)
    return labels[0], kappa[0]


def sigma_for_snr(snr: float | np.ndarray) -> float | np.ndarray:
    """Return the noise SD for an SNR defined against white matter: ``sigma = A_WM / SNR``, A_WM = 0.65.

    With this definition the paper's training range sigma in [0.0065, 0.255] is SNR 100 to 2.5.
    """
    return T.TABLE1["WM"].a_mean / np.asarray(snr, dtype=float)


def _truncated_normal(mean: np.ndarray, sd: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return normal draws truncated to ``[max(mean - 3 sd, mean / 20), mean + 3 sd]``, elementwise.

    Truncation keeps relaxation times and A strictly positive (e.g. muscle T2 = 50 +- 20 ms)
    and drops tails that Table 1's Gaussian summary was never meant to describe.
    """
    sd = np.where(sd > 0, sd, 1.0)
    lower = np.maximum(mean - 3 * sd, mean / 20)
    return stats.truncnorm.rvs((lower - mean) / sd, 3.0, loc=mean, scale=sd, random_state=rng)


def _standard_normal_within(limit: float, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Return standard normal draws truncated to ``[-limit, limit]`` (redraws the few outside)."""
    z = rng.standard_normal(shape)
    outside = np.abs(z) > limit
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) > limit
    return z


#: the authors' additive voxel-wise parameter noise (SD; A in its own units, times in ms) and the Gaussian
#: smoothing of the noisy maps (SD in pixels), from EMCqMRI 1.1.17's dataset utilities
ADDITIVE_VOXEL_SD = {"A": 0.05, "T1": 100.0, "T2": 10.0}
ADDITIVE_SMOOTHING_PX = 0.4


def _voxel_noise(tissue_map: np.ndarray, name: str, settings: TrainsetSettings, kind: str,
                 rng: np.random.Generator) -> np.ndarray:
    """Return the map of parameter ``name`` with its voxel-wise noise: multiplicative (SD ``voxel_cv``, truncated
    at 3 SD) or the authors' additive one (``ADDITIVE_VOXEL_SD`` on tissue voxels, the map then smoothed with a
    Gaussian of ``ADDITIVE_SMOOTHING_PX`` in-plane and kept non-negative; background stays near zero)."""
    if kind == "multiplicative":
        return tissue_map * (1.0 + settings.voxel_cv * _standard_normal_within(3.0, tissue_map.shape, rng))
    if kind != "additive":
        raise QmriError(f"trainset: voxel_noise must be multiplicative or additive, got {kind!r}")
    noisy = np.where(tissue_map > 0, tissue_map + ADDITIVE_VOXEL_SD[name] * rng.standard_normal(tissue_map.shape), 0.0)
    return np.maximum(ndimage.gaussian_filter(noisy, (0, ADDITIVE_SMOOTHING_PX, ADDITIVE_SMOOTHING_PX)), 0.0)


def draw_parameters(labels: np.ndarray, settings: TrainsetSettings, rng: np.random.Generator,
                    tissue_draw: bool = True, voxel_noise: str = "multiplicative") -> tuple[np.ndarray, np.ndarray]:
    """Return ``(kappa, sigma)``: parameter patches ``(P, 4, H, W)`` and noise SDs ``(P,)``.

    Per patch and tissue, A, T1 and T2 are drawn from Table 1 (truncated normal; with ``tissue_draw``
    False every tissue takes Table 1's mean, as a typical person); each voxel
    then gets multiplicative Gaussian noise of SD ``voxel_cv`` (truncated at 3 SD; ``voxel_noise``:
    ``_voxel_noise``). B is one
    value per patch, ``2 - |N(0, b_half_normal_sd)|``, with no voxel noise. The noise SD is
    log-uniform in ``[sigma_min, sigma_max]`` (SNR about 100 to 3). Background is A = T1 = T2 = 0.
    """
    p = labels.shape[0]
    table = T.table_arrays()
    n_labels = len(T.LABEL_NAMES)
    maps = []
    for name in ("A", "T1", "T2"):
        mean = np.broadcast_to(table[f"{name}_mean"], (p, n_labels))
        drawn = _truncated_normal(mean, table[f"{name}_sd"], rng) if tissue_draw else mean
        per_tissue = np.where(mean > 0, drawn, 0.0)
        tissue_map = np.take_along_axis(per_tissue, labels.reshape(p, -1), axis=1).reshape(labels.shape)
        maps.append(_voxel_noise(tissue_map, name, settings, voxel_noise, rng))
    b = 2.0 - np.abs(rng.normal(0.0, settings.b_half_normal_sd, p))
    b_map = np.broadcast_to(b[:, None, None], labels.shape)
    kappa = np.stack([maps[0], b_map, maps[1], maps[2]], axis=1).astype(np.float32)
    sigma = np.exp(rng.uniform(np.log(settings.sigma_min), np.log(settings.sigma_max), p))
    return kappa, sigma.astype(np.float32)


def simulate_trainset(model: BrainModel, settings: TrainsetSettings, seed: int) -> dict[str, np.ndarray]:
    """Return a training set for one brain model: ``kappa``, ``sigma``, ``labels`` arrays.

    Deterministic: the generator is seeded from ``seed`` and the model name.
    """
    rng = np.random.default_rng([seed, *model.name.encode()])
    labels = sample_patch_labels(model, settings, rng)
    kappa, sigma = draw_parameters(labels, settings, rng, voxel_noise=settings.voxel_noise)
    return {"kappa": kappa, "sigma": sigma, "labels": labels}


def task_kappa(kappa: np.ndarray | torch.Tensor, model: SignalModel) -> np.ndarray | torch.Tensor:
    """Return the channels of a stored ``(P, 4, H, W)`` kappa that ``model`` estimates, in its order."""
    return kappa[:, [KAPPA_NAMES.index(name) for name in model.param_names]]


def synthesise(kappa: torch.Tensor, sigma: torch.Tensor | float, tau_ms: torch.Tensor,
               model: SignalModel, generator: torch.Generator | None = None) -> torch.Tensor:
    """Return noisy weighted images ``f(kappa) + N(0, sigma^2)``, shape ``(batch, N, *spatial)`` (eq. 1).

    ``kappa`` holds the model's own channels; ``sigma`` is a scalar or one value per batch item.
    Background voxels with T1 = 0 (or T2 = 0) give a zero signal, not NaN.
    """
    clean = model.forward(kappa, tau_ms)
    sigma = torch.as_tensor(sigma, dtype=clean.dtype, device=clean.device)
    sigma = sigma.reshape(-1, *([1] * (clean.ndim - 1))) if sigma.ndim == 1 else sigma
    noise = torch.randn(clean.shape, generator=generator, dtype=clean.dtype, device=clean.device)
    return clean + sigma * noise


def weighted_images(kappa: np.ndarray, sigma: np.ndarray, tau_ms: list[float] | np.ndarray, task: str,
                    seed: int) -> np.ndarray:
    """Return noisy weighted images ``(P, N, H, W)`` for stored ``(P, 4, H, W)`` patches and a protocol."""
    from qmri.physics.signal import model_for_task

    model = model_for_task(task)
    generator = torch.Generator().manual_seed(seed)
    kappa_t = task_kappa(torch.from_numpy(np.ascontiguousarray(kappa)), model)
    tau = torch.as_tensor(np.asarray(tau_ms, dtype=np.float32))
    return synthesise(kappa_t, torch.from_numpy(sigma), tau, model, generator).numpy()


def spread_by_noise(sigma: np.ndarray, n: int) -> np.ndarray:
    """Return indices of ``n`` patches at evenly spaced quantiles of the noise SD (high SNR first)."""
    order = np.argsort(sigma)
    return order[np.linspace(0, len(order) - 1, n).round().astype(int)]


def settings_from_config(entry: dict) -> TrainsetSettings:
    """Return the settings of a ``trainset:`` config entry (ranges given as two-item lists)."""
    entry = dict(entry)
    sigma_min, sigma_max = entry.pop("sigma_range")
    if "scale_range" in entry:
        entry["scale_range"] = tuple(entry["scale_range"])
    return TrainsetSettings(sigma_min=sigma_min, sigma_max=sigma_max, **entry)


@dataclass(frozen=True)
class Truth:
    """A simulated slice: parameters ``kappa`` (Q, H, W) in the model's order and tissue ``labels`` (H, W)."""

    model: SignalModel
    kappa: np.ndarray
    labels: np.ndarray

    @property
    def fit_mask(self) -> np.ndarray:
        """Every pixel with signal (the head): what a method is asked to map, shape (H, W)."""
        return self.labels > 0

    @property
    def score_mask(self) -> np.ndarray:
        """The brain (CSF, GM, WM): where the metrics are summarised, shape (H, W)."""
        return np.isin(self.labels, T.BRAIN_LABELS)

    @classmethod
    def held_out_slice(cls, brain: BrainModel, model: SignalModel, settings: TrainsetSettings, seed: int,
                   size: int = 256, pixel_mm: float = 0.82) -> Truth:
        """Return the brain model's unseen middle test slice (``held_out_slice``) for ``model``."""
        labels, kappa = held_out_slice(brain, settings, seed, size, pixel_mm)
        return cls(model, task_kappa(kappa[None], model)[0].astype(np.float64), labels)

    @classmethod
    def drawn(cls, brain: BrainModel, model: SignalModel, settings: TrainsetSettings, slice_index: int,
              rng: np.random.Generator, size: int = 256, pixel_mm: float = 0.82, tissue_draw: bool = True) -> Truth:
        """Return axial slice ``slice_index`` of the brain model with parameters drawn as ``draw_slice`` does."""
        labels, kappa = draw_slice(brain, slice_index, settings, rng, size, pixel_mm, tissue_draw)
        return cls(model, task_kappa(kappa, model)[0].astype(np.float64), labels[0])
