"""File input and output: atomic writes, NIfTI volumes, training-set archives, JSON sidecars."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from qmri.errors import QmriError


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` and rename it onto ``path`` only on success.

    The temporary name keeps the final suffixes so writers that infer the format from
    the extension (nibabel, matplotlib, numpy) behave as for the final name. The file gets the
    permissions of any new file (``0o666`` less the umask), not the temporary file's owner-only ones.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name.removesuffix(suffix)}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    """Return the JSON object in ``path``, with a one-line error if it is missing or corrupt."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise QmriError(f"missing file: {path}") from None
    except json.JSONDecodeError as err:
        raise QmriError(f"corrupt JSON in {path}: {err.msg} (line {err.lineno})") from None


def save_nifti(path: str | os.PathLike, data: np.ndarray, affine: np.ndarray) -> None:
    """Write ``data`` as a NIfTI-1 image with ``affine``, atomically."""
    with atomic_path(path) as tmp:
        nib.save(nib.Nifti1Image(np.asarray(data), affine), tmp)


def load_nifti(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(data, affine)`` of a NIfTI file, with a one-line error if unreadable."""
    path = Path(path)
    if not path.exists():
        raise QmriError(f"missing file: {path}")
    try:
        img = nib.load(path)
        return np.asarray(img.dataobj), np.asarray(img.affine)
    except Exception as err:  # nibabel raises many types for damaged files
        raise QmriError(f"cannot read NIfTI {path}: {err}") from None


def save_arrays(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Write named arrays to a compressed ``.npz`` archive, atomically."""
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **arrays)


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Return all arrays of an ``.npz`` archive, loaded into memory."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise QmriError(f"missing file: {path}") from None
    except (OSError, ValueError) as err:
        raise QmriError(f"cannot read archive {path}: {err}") from None
