"""Reading a user's weighted series: a 4D NIfTI with its BIDS sidecar, or a folder of DICOM files.

A series is ``data`` of shape ``(X, Y, Z, N)`` (N weighted images), its RAS ``affine`` in mm and
the preparation/inversion times ``tau_ms`` (ms). Times come from ``--tau`` when given, else from
the JSON sidecar (BIDS ``InversionTime`` / ``EchoTime``, lists in seconds) or the DICOM headers.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qmri.errors import QmriError
from qmri.io import load_nifti

#: which BIDS sidecar field and DICOM attribute hold tau for each task
TAU_FIELDS: dict[str, tuple[str, str]] = {"t1": ("InversionTime", "InversionTime"), "t2": ("EchoTime", "EchoTime")}
#: DICOM patient coordinates (LPS) to NIfTI world coordinates (RAS)
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(frozen=True)
class Series:
    """Weighted images ``(X, Y, Z, N)``, their affine and tau in ms, sorted by tau."""

    data: np.ndarray
    affine: np.ndarray
    tau_ms: np.ndarray
    source: str


def sidecar_path(nifti: Path) -> Path:
    """Return the BIDS sidecar path of a NIfTI file (``x.nii.gz`` -> ``x.json``)."""
    name = nifti.name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            return nifti.with_name(name[: -len(suffix)] + ".json")
    return nifti.with_suffix(".json")


def _sorted(data: np.ndarray, affine: np.ndarray, tau_ms: np.ndarray, source: str) -> Series:
    if data.shape[-1] != len(tau_ms):
        raise QmriError(f"{source}: {len(tau_ms)} tau values for {data.shape[-1]} volumes")
    if not np.all(np.isfinite(tau_ms)) or np.any(tau_ms <= 0):
        raise QmriError(f"{source}: tau values must be positive numbers, got {list(tau_ms)}")
    order = np.argsort(tau_ms, kind="stable")
    return Series(np.ascontiguousarray(data[..., order], dtype=np.float64), affine, tau_ms[order], source)


def load_nifti_series(path: Path, task: str, tau_ms: list[float] | None) -> Series:
    """Return the series in a 4D NIfTI; tau from ``tau_ms`` or its sidecar (seconds there)."""
    data, affine = load_nifti(path)
    if data.ndim == 3:  # one slice: (x, y, N)
        data = data[:, :, None, :]
    if data.ndim != 4:
        raise QmriError(f"{path}: expected a 4D NIfTI (x, y, z, N), got shape {data.shape}")
    if tau_ms is None:
        field = TAU_FIELDS[task][0]
        sidecar = sidecar_path(path)
        if not sidecar.exists():
            raise QmriError(f"no tau for {path}: give --tau (ms) or a sidecar {sidecar.name} with {field}")
        try:
            meta = json.loads(sidecar.read_text())
        except json.JSONDecodeError as err:
            raise QmriError(f"corrupt JSON in {sidecar}: {err.msg} (line {err.lineno})") from None
        values = meta.get(field)
        if not isinstance(values, list) or not values:
            raise QmriError(f"{sidecar} has no list {field} (seconds, one per volume); give --tau (ms)")
        tau = np.asarray(values, dtype=float) * 1000.0
    else:
        tau = np.asarray(tau_ms, dtype=float)
    return _sorted(data.astype(np.float64), affine, tau, str(path))


def load_dicom_series(folder: Path, task: str, tau_ms: list[float] | None) -> Series:
    """Return the series in a folder of single-frame DICOM images, one image per (slice, tau).

    Images are grouped into slices by position along the slice normal and sorted by tau
    (``InversionTime`` for T1, ``EchoTime`` for T2, in ms). Pixel values get RescaleSlope and
    RescaleIntercept. The folder may hold one series per tau, as scanners often write them.
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
    data = np.empty((*pixels[0].shape[::-1], len(slices), n_per_slice))  # (columns, rows, Z, N)
    tau = None
    for z, h in enumerate(slices):
        members = np.flatnonzero(height == h)
        members = members[np.argsort(tau_all[members], kind="stable")]
        if tau is not None and not np.allclose(tau_all[members], tau):
            raise QmriError(f"{folder}: slices have different tau values")
        tau = tau_all[members]
        for n, i in enumerate(members):
            data[:, :, z, n] = pixels[i].T
    step = np.diff(slices).mean() if len(slices) > 1 else float(images[0].get("SliceThickness", 1.0) or 1.0)
    first = positions[np.flatnonzero(height == slices[0])[0]]
    affine = np.eye(4)
    affine[:3, 0] = row * spacing[1]  # along columns (i)
    affine[:3, 1] = col * spacing[0]  # along rows (j)
    affine[:3, 2] = normal * step
    affine[:3, 3] = first
    return _sorted(data, LPS_TO_RAS @ affine, tau, str(folder))


def load_series(path: str | Path, task: str, tau_ms: list[float] | None = None) -> Series:
    """Return the series at ``path``: a NIfTI file or a folder of DICOM files."""
    path = Path(path)
    if not path.exists():
        raise QmriError(f"missing input: {path}")
    if path.is_dir():
        return load_dicom_series(path, task, tau_ms)
    return load_nifti_series(path, task, tau_ms)


def load_protocol_series(path: str | Path, task: str, tau_ms: list[float]) -> Series:
    """Return the series at ``path``, checking that its tau (from its headers or sidecar) is ``tau_ms``.

    For the pipeline's real datasets: a network works only on the times it was trained for.
    """
    series = load_series(path, task)
    if len(series.tau_ms) != len(tau_ms) or not np.allclose(series.tau_ms, tau_ms):
        raise QmriError(f"{path}: tau {series.tau_ms.tolist()} ms differs from the protocol's {list(tau_ms)}")
    return series

