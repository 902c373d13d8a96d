"""Reading a user's weighted series: a 4D NIfTI with its BIDS sidecar, or a folder of DICOM files.

A series is ``data`` of shape ``(X, Y, Z, N)`` (N weighted images), its RAS ``affine`` in mm, the
preparation/inversion times ``tau_ms`` (ms), each image's repetition time ``tr_ms`` (ms) where known,
and whether the images are ``signed`` (real-valued, phase-sensitive) rather than magnitudes.

- tau comes from ``--tau`` when given, else from the JSON sidecar (BIDS ``InversionTime`` /
  ``EchoTime``, lists in seconds) or the DICOM headers.
- TR comes from ``--tr``, else the sidecar's ``RepetitionTimeExcitation`` or, failing that,
  ``RepetitionTime`` (seconds; one number for the series or a list with one per volume), else each
  DICOM image's ``RepetitionTime`` (ms). Unknown TR is None (the paper's model, which needs none).
- Signed: a DICOM ``ImageType`` value ``R``/``REAL`` or ``ComplexImageComponent`` ``REAL`` (also in
  a dcm2niix sidecar), or an image mostly negative where bright (``looks_signed``). Phase and
  imaginary images are refused.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qmri.data.io import load_nifti
from qmri.errors import QmriError

#: which BIDS sidecar field and DICOM attribute hold tau for each task
TAU_FIELDS: dict[str, tuple[str, str]] = {"t1": ("InversionTime", "InversionTime"), "t2": ("EchoTime", "EchoTime")}
#: DICOM patient coordinates (LPS) to NIfTI world coordinates (RAS)
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(frozen=True)
class Series:
    """Weighted images ``(X, Y, Z, N)``, their affine, tau and TR in ms (TR None if unknown), sorted by tau."""

    data: np.ndarray
    affine: np.ndarray
    tau_ms: np.ndarray
    source: str
    tr_ms: np.ndarray | None = None
    signed: bool = False


#: ImageType / ComplexImageComponent values of real-valued images, and of images that cannot be fitted
REAL_TYPES = {"R", "REAL"}
REFUSED_TYPES = {"P": "phase", "PHASE": "phase", "I": "imaginary", "IMAGINARY": "imaginary"}


def component_kind(image_type: list[str] | str | None, component: str | None, source: str) -> bool:
    """Return True if the header values say the images are real-valued; refuse phase and imaginary images.

    ``image_type`` is DICOM ImageType (value 3 onwards names the component on most scanners);
    ``component`` is ComplexImageComponent (enhanced MR).
    """
    values = [image_type] if isinstance(image_type, str) else list(image_type or [])
    values = [str(v).upper() for v in values[2:]] + ([str(component).upper()] if component else [])
    for value in values:
        if value in REFUSED_TYPES:
            raise QmriError(f"{source}: {REFUSED_TYPES[value]} images cannot be mapped; give magnitude or "
                            "real (phase-sensitive) images")
    return any(v in REAL_TYPES for v in values)


def looks_signed(data: np.ndarray) -> bool:
    """Return whether some image of ``data`` (..., N) is mostly negative where it is bright.

    Among the values whose magnitude exceeds 10 % of the 99th percentile of all magnitudes, more than
    half negative in one image: true of the early images of a real-valued inversion-recovery series,
    never of magnitude images (a simulated magnitude series with Gaussian noise has a few negative
    values near the signal null, all faint).
    """
    if not (data < 0).any():  # magnitude images: no copy of the series
        return False
    flat = data.reshape(-1, data.shape[-1])
    flat = flat[np.isfinite(flat).all(axis=1)]
    if flat.size == 0:
        return False
    bright = np.abs(flat) > 0.1 * np.percentile(np.abs(flat), 99)
    negative = ((flat < 0) & bright).sum(axis=0)
    return bool(np.any(negative > 0.5 * np.maximum(bright.sum(axis=0), 1)))


def per_volume(values: object, n: int, source: str, name: str, factor: float) -> np.ndarray | None:
    """Return a number or a list of ``n`` numbers as ``(n,)`` times ``factor``; None for None."""
    if values is None:
        return None
    array = np.atleast_1d(np.asarray(values, dtype=float)) * factor
    if array.ndim != 1 or len(array) not in (1, n) or not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise QmriError(f"{source}: {name} must be one positive number or {n} of them, got {values!r}")
    return np.broadcast_to(array, (n,)).copy()


def sidecar_path(nifti: Path) -> Path:
    """Return the BIDS sidecar path of a NIfTI file (``x.nii.gz`` -> ``x.json``)."""
    name = nifti.name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            return nifti.with_name(name[: -len(suffix)] + ".json")
    return nifti.with_suffix(".json")


def series_from_array(data: np.ndarray, affine: np.ndarray, tau_ms: np.ndarray, source: str,
                      tr_ms: np.ndarray | None = None, signed: bool = False) -> Series:
    """Return ``data`` (X, Y, Z, N) as a series sorted by tau, checking tau and TR (ms).

    ``signed`` comes from the headers; a series whose images look signed (``looks_signed``) is signed too.
    """
    if data.shape[-1] != len(tau_ms):
        raise QmriError(f"{source}: {len(tau_ms)} tau values for {data.shape[-1]} volumes")
    if not np.all(np.isfinite(tau_ms)) or np.any(tau_ms <= 0):
        raise QmriError(f"{source}: tau values must be positive numbers, got {list(tau_ms)}")
    tr_ms = per_volume(tr_ms, len(tau_ms), source, "TR", 1.0)
    order = np.argsort(tau_ms, kind="stable")
    data = np.ascontiguousarray(data[..., order], dtype=np.float64)
    signed = signed or looks_signed(data)
    return Series(data, affine, tau_ms[order], source, None if tr_ms is None else tr_ms[order], signed)


def load_nifti_series(path: Path, task: str, tau_ms: list[float] | None, tr_ms: list[float] | None = None
                      ) -> Series:
    """Return the series in a 4D NIfTI; tau, TR and the image type from the arguments or its sidecar (seconds there)."""
    data, affine = load_nifti(path)
    if data.ndim == 3:  # one slice: (x, y, N)
        data = data[:, :, None, :]
    if data.ndim != 4:
        raise QmriError(f"{path}: expected a 4D NIfTI (x, y, z, N), got shape {data.shape}")
    field = TAU_FIELDS[task][0]
    sidecar = sidecar_path(path)
    meta = {}
    if sidecar.exists():
        try:
            meta = json.loads(sidecar.read_text())
        except json.JSONDecodeError as err:
            raise QmriError(f"corrupt JSON in {sidecar}: {err.msg} (line {err.lineno})") from None
    if tau_ms is None:
        if not meta:
            raise QmriError(f"no tau for {path}: give --tau (ms) or a sidecar {sidecar.name} with {field}")
        values = meta.get(field)
        if not isinstance(values, list) or not values:
            raise QmriError(f"{sidecar} has no list {field} (seconds, one per volume); give --tau (ms)")
        tau = np.asarray(values, dtype=float) * 1000.0
    else:
        tau = np.asarray(tau_ms, dtype=float)
    n = data.shape[-1]
    tr = (per_volume(tr_ms, n, str(path), "--tr", 1.0) if tr_ms is not None else
          per_volume(meta.get("RepetitionTimeExcitation", meta.get("RepetitionTime")), n, str(sidecar), "TR", 1000.0))
    signed = component_kind(meta.get("ImageType"), meta.get("ComplexImageComponent"), str(path))
    return series_from_array(data.astype(np.float64), affine, tau, str(path), tr, signed)


def load_dicom_series(folder: Path, task: str, tau_ms: list[float] | None, tr_ms: list[float] | None = None
                      ) -> Series:
    """Return the series in a folder of single-frame DICOM images, one image per (slice, tau).

    Images are grouped into slices by position along the slice normal and sorted by tau
    (``InversionTime`` for T1, ``EchoTime`` for T2, in ms). Pixel values get RescaleSlope and
    RescaleIntercept. The folder may hold one series per tau, as scanners often write them. TR is
    each image's ``RepetitionTime`` (ms) unless ``tr_ms`` is given.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise QmriError(f"{folder}: no files")
    images = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about harmless UID formatting
        for path in files:
            try:
                images.append(pydicom.dcmread(path))
            except (InvalidDicomError, OSError) as err:
                raise QmriError(f"{path}: not a readable DICOM file ({err})") from None
    attr = TAU_FIELDS[task][1]
    try:
        orientation = np.asarray(images[0].ImageOrientationPatient, dtype=float)
        spacing = np.asarray(images[0].PixelSpacing, dtype=float)
        positions = np.asarray([im.ImagePositionPatient for im in images], dtype=float)
        pixels = [im.pixel_array.astype(np.float64) * float(im.get("RescaleSlope", 1) or 1)
                  + float(im.get("RescaleIntercept", 0) or 0) for im in images]
    except (AttributeError, ValueError, TypeError) as err:
        raise QmriError(f"{folder}: DICOM files lack geometry or pixel data ({err})") from None
    if len({p.shape for p in pixels}) != 1:
        raise QmriError(f"{folder}: images of different sizes; put one series per folder")
    row, col = orientation[:3], orientation[3:]
    normal = np.cross(row, col)
    height = np.round(positions @ normal, 3)
    slices = np.unique(height)
    n_per_slice = len(images) // len(slices)
    if n_per_slice * len(slices) != len(images):
        raise QmriError(f"{folder}: {len(images)} images do not split evenly into {len(slices)} slices")
    if tau_ms is None:
        values = [im.get(attr) for im in images]
        if any(v is None for v in values):
            raise QmriError(f"{folder}: DICOM headers lack {attr}; give --tau (ms)")
        tau_all = np.asarray(values, dtype=float)
    else:
        if len(tau_ms) != n_per_slice:
            raise QmriError(f"{folder}: {len(tau_ms)} tau values for {n_per_slice} images per slice")
        tau_all = np.tile(np.asarray(tau_ms, dtype=float), len(slices))  # in file-name order per slice
    if tr_ms is None:
        values = [im.get("RepetitionTime") for im in images]
        tr_all = None if any(v is None for v in values) else np.asarray(values, dtype=float)
    else:
        tr_all = np.tile(per_volume(tr_ms, n_per_slice, str(folder), "--tr", 1.0), len(slices))
    signed = any(component_kind(im.get("ImageType"), im.get("ComplexImageComponent"), str(folder)) for im in images)
    data = np.empty((*pixels[0].shape[::-1], len(slices), n_per_slice))  # (columns, rows, Z, N)
    tau = tr = None
    for z, h in enumerate(slices):
        members = np.flatnonzero(height == h)
        members = members[np.argsort(tau_all[members], kind="stable")]
        if tau is not None and not np.allclose(tau_all[members], tau):
            raise QmriError(f"{folder}: slices have different tau values")
        tau = tau_all[members]
        tr = None if tr_all is None else tr_all[members]
        for n, i in enumerate(members):
            data[:, :, z, n] = pixels[i].T
    step = np.diff(slices).mean() if len(slices) > 1 else float(images[0].get("SliceThickness", 1.0) or 1.0)
    first = positions[np.flatnonzero(height == slices[0])[0]]
    affine = np.eye(4)
    affine[:3, 0] = row * spacing[1]  # along columns (i)
    affine[:3, 1] = col * spacing[0]  # along rows (j)
    affine[:3, 2] = normal * step
    affine[:3, 3] = first
    return series_from_array(data, LPS_TO_RAS @ affine, tau, str(folder), tr, signed)


def load_series(path: str | Path, task: str, tau_ms: list[float] | None = None,
                tr_ms: list[float] | None = None) -> Series:
    """Return the series at ``path``: a NIfTI file or a folder of DICOM files (``tr_ms``: one TR or one per image)."""
    path = Path(path)
    if not path.exists():
        raise QmriError(f"missing input: {path}")
    if path.is_dir():
        return load_dicom_series(path, task, tau_ms, tr_ms)
    return load_nifti_series(path, task, tau_ms, tr_ms)


def load_protocol_series(path: str | Path, task: str, tau_ms: list[float]) -> Series:
    """Return the series at ``path``, checking that its tau (from its headers or sidecar) is ``tau_ms``.

    For the pipeline's real datasets: a network works only on the times it was trained for.
    """
    series = load_series(path, task)
    if len(series.tau_ms) != len(tau_ms) or not np.allclose(series.tau_ms, tau_ms):
        raise QmriError(f"{path}: tau {series.tau_ms.tolist()} ms differs from the protocol's {list(tau_ms)}")
    return series

