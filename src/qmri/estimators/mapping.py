"""Parameter maps for a user's series: chunked, masked fitting and BIDS-style outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from qmri import __version__
from qmri.data.io import atomic_path, write_json
from qmri.data.masks import auto_mask, background_sigma
from qmri.data.scans import TAU_FIELDS, Series
from qmri.errors import QmriError
from qmri.estimators.fitquality import fit_quality, undetermined_warning
from qmri.estimators.methods import load_network, predict_masked, resolve_weights
from qmri.estimators.mle import LAMBDA_B, MLESettings, crlb_sd, estimate_sigma, fit
from qmri.physics.likelihood import Gaussian, NoiseModel, Rician, noise_model
from qmri.physics.signal import SignalModel, model_for_task, varies

METHODS = ("mle", "rim", "resnet", "arim")
#: fit-quality maps: BIDS desc label and what the map holds
QUALITY_OUTPUTS = (("rsquared", "coefficient of determination R^2 = 1 - RSS / TSS of the fit, per voxel"),
                   ("residualrms", "residual RMS sqrt(RSS / (N - Q)) over the noise SD: about 1 where the "
                                   "model fits, above where it does not (flow, partial volume, artefacts)"))
#: elements of float64 per chunk of slices: bounds memory at a few hundred MB whatever the volume
CHUNK_ELEMENTS = 4_000_000


SIGNALS = ("auto", "magnitude", "signed")


@dataclass
class Maps:
    """Fitted maps ``(X, Y, Z, Q)`` in internal units, optional CRLB SDs, fit quality, and how they were made.

    ``quality`` is ``(X, Y, Z, 2)``: R^2 and residual RMS / sigma (``qmri.estimators.fitquality.fit_quality``).
    """

    model: SignalModel
    kappa: np.ndarray
    affine: np.ndarray
    tau_ms: np.ndarray
    sigma: float
    sigma_method: str
    method: str
    crlb: np.ndarray | None = None
    settings: dict = field(default_factory=dict)
    quality: np.ndarray | None = None
    noise: NoiseModel = field(default_factory=Gaussian)
    warnings: list[str] = field(default_factory=list)

    @property
    def equation(self) -> str:
        """The fitted signal equation: with the modulus for magnitude images, without for signed ones."""
        return self.model.equation if self.noise.signed else f"|{self.model.equation}|"


def _chunks(n_slices: int, slice_elements: int) -> list[range]:
    size = max(1, CHUNK_ELEMENTS // max(slice_elements, 1))
    middle = n_slices // 2
    chunks = [range(z, min(z + size, n_slices)) for z in range(0, n_slices, size)]
    # the chunk holding the middle slice goes first: it estimates sigma when none is given
    return sorted(chunks, key=lambda c: middle not in c)


def _representation(series: Series, signal: str, method: str, noise: str) -> bool:
    """Return whether to fit the images as signed; check the choice against the method and noise model."""
    if signal not in SIGNALS:
        raise QmriError(f"unknown --signal {signal!r}: choose one of {', '.join(SIGNALS)}")
    if method != "mle":
        if signal == "signed":
            raise QmriError(f"--method {method} is trained on magnitude images; use --signal magnitude or --method mle")
        if noise != "gaussian":
            raise QmriError(f"--noise {noise} is a likelihood of the MLE; --method {method} takes none")
        if varies(series.tr_ms):
            raise QmriError(f"--method {method} uses the paper's model, which needs one TR for every image; "
                            f"this series has TR {series.tr_ms.tolist()} ms: use --method mle")
        return False
    return series.signed if signal == "auto" else signal == "signed"


def map_series(series: Series, task: str, method: str = "mle", sigma: float | None = None,
               mask: np.ndarray | None = None, lambda_b: float = LAMBDA_B, device: str = "cpu",
               uncertainty: bool = False, progress: bool = True, weights: str | Path | None = None,
               signal: str = "auto", noise: str = "gaussian") -> Maps:
    """Return the parameter maps of ``series``, fitted slice by slice in memory-bounded chunks.

    ``method`` "mle" is the regularised MLE; "rim" and "resnet" run a trained network from
    ``weights``. ``signal`` "auto" fits signed images (``series.signed``) without the modulus and
    magnitudes with it; "magnitude" fits the modulus of any series. ``noise`` ("gaussian",
    "rician") is the MLE's likelihood. A T1 series whose TR varies is fitted with
    ``InversionRecoveryTR``. When ``sigma`` is None it is estimated: for Rician noise from the
    background outside the mask (``background_sigma``) where there is one, otherwise from the
    residuals of a voxel-wise Gaussian fit (MLE) or of the network's estimates, on the chunk holding
    the middle slice, and used for every chunk. Fit quality (R^2, residual RMS / sigma) is computed for
    every fitted voxel, and a warning is added when the protocol leaves the relaxation time
    undetermined in most of the mask.
    """
    if method not in METHODS:
        raise QmriError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    signed = _representation(series, signal, method, noise)
    noise_obj = noise_model(noise, signed)
    model = model_for_task(task, series.tr_ms)
    if len(series.tau_ms) <= model.n_params:
        raise QmriError(f"{len(series.tau_ms)} images cannot determine {model.n_params} parameters")
    if device == "cuda" and not torch.cuda.is_available():
        raise QmriError("--device cuda asked for, but torch sees no CUDA device")
    net = meta = None
    if method != "mle":
        weights = resolve_weights(method, task, weights)
        net, meta = load_network(weights, method, task, device)
    data = series.data if signed or not series.signed else np.abs(series.data)
    mask = auto_mask(data) if mask is None else mask.astype(bool)
    if mask.shape != data.shape[:3]:
        raise QmriError(f"mask shape {mask.shape} differs from the image shape {data.shape[:3]}")
    settings = MLESettings(lambda_b=lambda_b)
    sigma_method = "given" if sigma is not None else None
    if sigma is None and isinstance(noise_obj, Rician):
        sigma = background_sigma(data, mask)
        if sigma is not None:
            sigma_method = "estimated from the background outside the mask: median / sqrt(2 ln 2) (Rayleigh)"
    kappa = np.full((*data.shape[:3], model.n_params), np.nan)
    crlb = np.full_like(kappa, np.nan)
    quality = np.full((*data.shape[:3], 2), np.nan)
    x, y, z, n = data.shape
    for chunk in tqdm(_chunks(z, x * y * n), desc="fitting slices", unit="chunk", disable=not progress):
        block = torch.from_numpy(data[:, :, chunk.start:chunk.stop]).permute(2, 3, 0, 1).to(device)
        block_mask = torch.from_numpy(mask[:, :, chunk.start:chunk.stop]).permute(2, 0, 1).to(device)
        if not block_mask.any():
            continue
        if net is None:
            result = fit(model, block, series.tau_ms, sigma=sigma, mask=block_mask, settings=settings,
                         noise=noise_obj)
            sigma, maps = result.sigma, result.kappa
        else:
            maps = predict_masked(net, meta, block, block_mask, series.tau_ms, task)
            if sigma is None:
                flat_data = block.permute(0, 2, 3, 1)[block_mask]
                flat_kappa = maps.permute(0, 2, 3, 1)[block_mask]
                tau = torch.as_tensor(series.tau_ms, dtype=torch.float64, device=block.device)
                sigma = estimate_sigma(model, flat_data.to(torch.float64), flat_kappa, tau)
        kappa[:, :, chunk.start:chunk.stop] = maps.permute(2, 3, 0, 1).cpu().numpy()
        sd = crlb_sd(model, maps, series.tau_ms, sigma, noise_obj)
        crlb[:, :, chunk.start:chunk.stop] = sd.permute(2, 3, 0, 1).cpu().numpy()
        r2, rms = fit_quality(model, noise_obj, maps, block, series.tau_ms, sigma)
        quality[:, :, chunk.start:chunk.stop] = torch.stack([r2, rms], dim=-1).permute(1, 2, 0, 3).cpu().numpy()
    if sigma is None:
        raise QmriError("the mask selects no voxel")
    if sigma_method is None:
        residual_source = "a voxel-wise Gaussian fit" if net is None else "the network's estimates"
        sigma_method = f"estimated from the residuals of {residual_source}: median RSS / median of chi2(N - Q)"
    extra = {"LambdaB": lambda_b if net is None and "B" in model.param_names else None,
             "SignalRepresentation": "signed (real, phase-sensitive)" if signed else (
                 "magnitude (modulus of signed images)" if series.signed else "magnitude"),
             "RepetitionTimeExcitation": None if series.tr_ms is None else [round(t / 1000.0, 9) for t in
                                                                            series.tr_ms.tolist()]}
    if meta is not None:
        extra.update({"WeightsFile": str(weights),
                      "TrainedProtocol": meta["protocol"], "TrainedTau": meta["tau_ms"] or None,
                      "TrainingIterations": meta["iterations"], "TrainingGitRevision": meta["git_revision"]})
    warning = undetermined_warning(model, noise_obj, kappa, crlb, series.tau_ms, float(sigma))
    return Maps(model, kappa, series.affine, series.tau_ms, float(sigma), sigma_method, method,
                crlb if uncertainty else None, extra, quality, noise_obj, [warning] if warning else [])


def write_maps(maps: Maps, prefix: str | Path, source: str) -> list[Path]:
    """Write each map (BIDS units), fit-quality maps and their JSON sidecars; return the NIfTI paths.

    Every file is written to a temporary name and renamed; a failure removes what this call wrote.
    """
    import nibabel as nib

    model = maps.model
    field_name = TAU_FIELDS[model.task][0]
    common = {
        "EstimationMethod": {"mle": f"regularised maximum likelihood ({maps.noise.name} noise)",
                             "rim": "recurrent inference machine", "resnet": "residual network",
                             "arim": "any-protocol recurrent inference machine (qmri arim)"}[maps.method],
        "SignalModel": maps.equation,
        field_name: [round(t / 1000.0, 9) for t in maps.tau_ms.tolist()],
        "NoiseSigma": maps.sigma,
        "NoiseSigmaMethod": maps.sigma_method,
        "SoftwareName": "qmri-rim",
        "SoftwareVersion": __version__,
        "SourceData": source,
        **{k: v for k, v in maps.settings.items() if v is not None},
    }
    jobs = []
    for q, par in enumerate(model.parameters):
        units = {**common, "Units": par.bids_unit}
        jobs.append((f"{prefix}_{par.bids_suffix}", maps.kappa[..., q] * par.bids_factor, units))
        if maps.crlb is not None:
            jobs.append((f"{prefix}_desc-crlb_{par.bids_suffix}", maps.crlb[..., q] * par.bids_factor,
                         {**units, "Description": f"Cramer-Rao lower bound on the SD of {par.name}"}))
    if maps.quality is not None:
        suffix = model.measured.bids_suffix  # the fit is named after the map it makes
        for k, (label, text) in enumerate(QUALITY_OUTPUTS):
            jobs.append((f"{prefix}_desc-{label}_{suffix}", maps.quality[..., k],
                         {**common, "Units": "1", "Description": text}))
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
    lines = [f"model {maps.equation}, {maps.method} ({maps.noise.name} noise)",
             f"sigma = {maps.sigma:.4g} ({maps.sigma_method})"]
    for q, name in enumerate(maps.model.param_names):
        values = maps.kappa[..., q][np.isfinite(maps.kappa[..., q])]
        if len(values):
            p5, p50, p95 = np.percentile(values, [5, 50, 95])
            lines.append(f"{name} [{maps.model.units[q]}]: median {p50:.4g} (5-95 %: {p5:.4g} to {p95:.4g})")
    if maps.quality is not None and np.isfinite(maps.quality[..., 0]).any():
        r2, rms = (np.nanmedian(maps.quality[..., k]) for k in range(2))
        lines.append(f"fit quality: median R^2 {r2:.4f}, median residual RMS / sigma {rms:.3g}")
    return "\n".join(lines)

