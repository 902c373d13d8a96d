"""Parameter maps for a user's series: chunked, masked fitting and BIDS-style outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from qmri import __version__
from qmri.errors import QmriError
from qmri.estimators import load_network, predict_masked
from qmri.io import atomic_path, write_json
from qmri.mle import MLESettings, crlb_sd, estimate_sigma, fit
from qmri.scans import TAU_FIELDS, Series
from qmri.signal import SignalModel, model_for_task

#: BIDS qMRI suffix, unit conversion factor from internal units, and unit of each parameter
OUTPUTS: dict[str, tuple[str, float, str]] = {"A": ("M0map", 1.0, "arbitrary"), "B": ("Bmap", 1.0, "1"),
                                              "T1": ("T1map", 1e-3, "s"), "T2": ("T2map", 1e-3, "s")}
METHODS = ("mle", "rim", "resnet")
#: elements of float64 per chunk of slices: bounds memory at a few hundred MB whatever the volume
CHUNK_ELEMENTS = 4_000_000


@dataclass
class Maps:
    """Fitted maps ``(X, Y, Z, Q)`` in internal units, optional CRLB SDs, and how they were made."""

    model: SignalModel
    kappa: np.ndarray
    affine: np.ndarray
    tau_ms: np.ndarray
    sigma: float
    sigma_method: str
    method: str
    crlb: np.ndarray | None = None
    settings: dict = field(default_factory=dict)


def auto_mask(data: np.ndarray) -> np.ndarray:
    """Return voxels whose maximum over the series exceeds 5 % of the 99th percentile of that maximum.

    Excludes air, where magnitude noise follows no relaxation curve and would only cost time.
    """
    mip = np.nanmax(np.where(np.isfinite(data), data, -np.inf), axis=-1)
    finite = np.isfinite(mip)
    if not finite.any():
        raise QmriError("the input holds no finite voxel")
    return finite & (mip > 0.05 * np.percentile(mip[finite], 99))


def _chunks(n_slices: int, slice_elements: int) -> list[range]:
    size = max(1, CHUNK_ELEMENTS // max(slice_elements, 1))
    middle = n_slices // 2
    chunks = [range(z, min(z + size, n_slices)) for z in range(0, n_slices, size)]
    # the chunk holding the middle slice goes first: it estimates sigma when none is given
    return sorted(chunks, key=lambda c: middle not in c)


def map_series(series: Series, task: str, method: str = "mle", sigma: float | None = None,
               mask: np.ndarray | None = None, lambda_b: float = 500.0, device: str = "cpu",
               uncertainty: bool = False, progress: bool = True, weights: str | Path | None = None) -> Maps:
    """Return the parameter maps of ``series``, fitted slice by slice in memory-bounded chunks.

    ``method`` "mle" is the regularised MLE; "rim" and "resnet" run a trained network from
    ``weights``. When ``sigma`` is None it is estimated from the residuals of a voxel-wise fit (MLE)
    or of the network's estimates, on the chunk holding the middle slice, and used for every chunk;
    the networks need it only for ``uncertainty``.
    """
    if method not in METHODS:
        raise QmriError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    model = model_for_task(task)
    if len(series.tau_ms) <= model.n_params:
        raise QmriError(f"{len(series.tau_ms)} images cannot determine {model.n_params} parameters")
    if device == "cuda" and not torch.cuda.is_available():
        raise QmriError("--device cuda asked for, but torch sees no CUDA device")
    net = meta = None
    if method != "mle":
        if weights is None:
            raise QmriError(f"--method {method} needs --weights (a checkpoint from the pipeline's train rule)")
        net, meta = load_network(weights, method, task, device)
    data = series.data
    mask = auto_mask(data) if mask is None else mask.astype(bool)
    if mask.shape != data.shape[:3]:
        raise QmriError(f"mask shape {mask.shape} differs from the image shape {data.shape[:3]}")
    settings = MLESettings(lambda_b=lambda_b)
    kappa = np.full((*data.shape[:3], model.n_params), np.nan)
    crlb = np.full_like(kappa, np.nan) if uncertainty else None
    sigma_given = sigma is not None
    x, y, z, n = data.shape
    for chunk in tqdm(_chunks(z, x * y * n), desc="fitting slices", unit="chunk", disable=not progress):
        block = torch.from_numpy(data[:, :, chunk.start:chunk.stop]).permute(2, 3, 0, 1).to(device)
        block_mask = torch.from_numpy(mask[:, :, chunk.start:chunk.stop]).permute(2, 0, 1).to(device)
        if not block_mask.any():
            continue
        if net is None:
            result = fit(model, block, series.tau_ms, sigma=sigma, mask=block_mask, settings=settings)
            sigma, maps = result.sigma, result.kappa
        else:
            maps = predict_masked(net, meta, block, block_mask, series.tau_ms, task)
            if sigma is None:
                flat_data = block.permute(0, 2, 3, 1)[block_mask]
                flat_kappa = maps.permute(0, 2, 3, 1)[block_mask]
                tau = torch.as_tensor(series.tau_ms, dtype=torch.float64, device=block.device)
                sigma = estimate_sigma(model, flat_data.to(torch.float64), flat_kappa, tau)
        kappa[:, :, chunk.start:chunk.stop] = maps.permute(2, 3, 0, 1).cpu().numpy()
        if crlb is not None:
            sd = crlb_sd(model, maps, series.tau_ms, sigma)
            crlb[:, :, chunk.start:chunk.stop] = sd.permute(2, 3, 0, 1).cpu().numpy()
    if sigma is None:
        raise QmriError("the mask selects no voxel")
    residual_source = "a voxel-wise fit" if net is None else "the network's estimates"
    sigma_method = "given" if sigma_given else (f"estimated from the residuals of {residual_source}: "
                                                "median RSS / median of chi2(N - Q)")
    extra = {"LambdaB": lambda_b if net is None and "B" in model.param_names else None}
    if meta is not None:
        extra.update({"TrainedProtocol": meta["protocol"], "TrainedTau": meta["tau_ms"],
                      "TrainingIterations": meta["iterations"], "TrainingGitRevision": meta["git_revision"]})
    return Maps(model, kappa, series.affine, series.tau_ms, float(sigma), sigma_method, method, crlb, extra)


def write_maps(maps: Maps, prefix: str | Path, source: str, weights: str | None = None) -> list[Path]:
    """Write each map (BIDS units) and its JSON sidecar; return the NIfTI paths.

    Every file is written to a temporary name and renamed; a failure removes what this call wrote.
    """
    import nibabel as nib

    model = maps.model
    field_name = TAU_FIELDS[model.task][0]
    common = {
        "EstimationMethod": {"mle": "regularised maximum likelihood (Gaussian noise)",
                             "rim": "recurrent inference machine", "resnet": "residual network"}[maps.method],
        "SignalModel": {"t1": "|A (1 - B exp(-TI/T1))|", "t2": "|A exp(-TE/T2)|"}[model.task],
        field_name: [round(t / 1000.0, 9) for t in maps.tau_ms.tolist()],
        "NoiseSigma": maps.sigma,
        "NoiseSigmaMethod": maps.sigma_method,
        "WeightsFile": weights,
        "SoftwareName": "qmri-rim",
        "SoftwareVersion": __version__,
        "SourceData": source,
        **{k: v for k, v in maps.settings.items() if v is not None},
    }
    jobs = []
    for q, name in enumerate(model.param_names):
        suffix, factor, unit = OUTPUTS[name]
        jobs.append((f"{prefix}_{suffix}", maps.kappa[..., q] * factor, {**common, "Units": unit}))
        if maps.crlb is not None:
            jobs.append((f"{prefix}_desc-crlb_{suffix}", maps.crlb[..., q] * factor,
                         {**common, "Units": unit, "Description": f"Cramer-Rao lower bound on the SD of {name}"}))
    written: list[Path] = []
    try:
        for stem, values, meta in jobs:
            image = Path(f"{stem}.nii.gz")
            with atomic_path(image) as tmp:
                nib.save(nib.Nifti1Image(values.astype(np.float32), maps.affine), tmp)
            written.append(image)
            write_json(Path(f"{stem}.json"), meta)
            written.append(Path(f"{stem}.json"))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return [p for p in written if p.suffix == ".gz"]


def describe(maps: Maps) -> str:
    """Return a one-paragraph summary of the fitted maps for the terminal."""
    lines = [f"sigma = {maps.sigma:.4g} ({maps.sigma_method})"]
    for q, name in enumerate(maps.model.param_names):
        values = maps.kappa[..., q][np.isfinite(maps.kappa[..., q])]
        if len(values):
            p5, p50, p95 = np.percentile(values, [5, 50, 95])
            lines.append(f"{name} [{maps.model.units[q]}]: median {p50:.4g} (5-95 %: {p5:.4g} to {p95:.4g})")
    return "\n".join(lines)

