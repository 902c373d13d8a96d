"""Shared test set-up: paths, small synthetic data and writers (imported by the tests and conftest.py).

Test modules import from here, never from each other.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
import yaml

from qmri.data.scans import Series
from qmri.physics.signal import T2Decay
from qmri.simulation import tissues as T
from qmri.simulation.simulate import Truth

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("QMRI_SHARED", REPO.parent / "shared"))
#: what a scratch copy of the workflow needs
WORKFLOW_FILES = ("Snakefile", "config.yaml", "workflow", "presets", "envs", "profiles", "studies")
#: config.yaml, the one source of the protocols: IV_T1 (31 inversion times) and the T2 preparation times (ms)
CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())
IV_T1 = [float(t) for t in CONFIG["protocols"]["t1-31"]["tau_ms"]]
T2_PREP = [float(t) for t in CONFIG["protocols"]["t2-6"]["tau_ms"]]
#: the real NIST sessions' inversion times, with a phantom-like range of T1 (ms)
TI_NIST = np.array([35.0, 75, 100, 125, 150, 250, 1000, 1500, 2000, 3000])
#: the echo times of a clinical multi-echo T2 series (ms)
ECHOES = np.array([10.0, 20, 40, 80, 120, 160, 240, 320])


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``snakemake *args`` in ``workdir`` with this interpreter, output captured."""
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, capture_output=True, text=True,
                          timeout=900)


def workflow_copy(root: Path) -> Path:
    """Copy the workflow into ``root`` (created) and return it."""
    root.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
    return root


TAU_T1 = torch.tensor([139.0, 300.0, 611.0, 937.0], dtype=torch.float64)
TAU_T2 = torch.tensor([10.0, 40.0, 160.0, 320.0], dtype=torch.float64)


def random_kappa(model, generator, shape=(3, 37, 31)):
    """Parameters in the brain's range, odd spatial sizes to catch shape bugs."""
    u = torch.rand((shape[0], model.n_params, *shape[1:]), generator=generator, dtype=torch.float64)
    if model.task == "t1":
        lo = torch.tensor([0.3, 1.4, 300.0], dtype=torch.float64)
        hi = torch.tensor([1.2, 2.0, 4000.0], dtype=torch.float64)
    else:
        lo = torch.tensor([0.3, 20.0], dtype=torch.float64)
        hi = torch.tensor([1.2, 2000.0], dtype=torch.float64)
    view = (1, -1, 1, 1)
    return lo.view(view) + u * (hi - lo).view(view)


def toy_trainset(rng, p=16, size=12):
    """Ground-truth patches (A, B, T1, T2) with two tissues and a background border."""
    labels = np.full((p, size, size), 2, np.uint8)
    labels[:, :, size // 2:] = 3
    labels[:, :2] = 0
    kappa = np.zeros((p, 4, size, size), np.float32)
    kappa[:, 0] = np.where(labels == 2, 0.85, 0.65)
    kappa[:, 1] = rng.uniform(1.6, 2.0, (p, 1, 1))
    kappa[:, 2] = np.where(labels == 2, 1400.0, 780.0)
    kappa[:, 3] = np.where(labels == 2, 110.0, 80.0)
    for c in (0, 2, 3):
        kappa[:, c][labels == 0] = 0
    return {"kappa": kappa, "sigma": rng.uniform(0.01, 0.1, p).astype(np.float32), "labels": labels}


def write_scan(path, t2_ms: np.ndarray, sigma: float, rng, tau=T2_PREP) -> str:
    """A 4D NIfTI (X, Y, Z, N) of a T2 decay with Gaussian noise, and its BIDS sidecar (EchoTime in s)."""
    kappa = torch.from_numpy(np.stack([np.where(t2_ms > 0, 100.0, 0.0), np.maximum(t2_ms, 1.0)]))
    clean = T2Decay().forward(kappa.permute(3, 0, 1, 2), torch.tensor(tau, dtype=torch.float64))  # (Z, N, X, Y)
    data = clean.permute(2, 3, 0, 1).numpy() + sigma * rng.standard_normal((*t2_ms.shape, len(tau)))
    nib.save(nib.Nifti1Image(data.astype(np.float32), np.eye(4)), path)
    path.with_name(path.name.replace(".nii.gz", ".json")).write_text(json.dumps({"EchoTime": [t / 1000 for t in tau]}))
    return str(path)


def phantom_t2(shape=(24, 20, 3)) -> np.ndarray:
    x, y = np.mgrid[:shape[0], :shape[1]]
    disc = np.hypot(x - 11.5, y - 9.5) < 8
    return np.repeat(np.where(disc, 60.0 + 2.0 * x, 0.0)[:, :, None], shape[2], axis=2)


def write_dicom_series(folder: Path, data: np.ndarray, tau_ms, task: str = "t1", tr_ms=None,
                       image_type=("ORIGINAL", "PRIMARY", "M"), slope: float = 1.0, intercept: float = 0.0,
                       spacing=(0.8, 0.9), rng: np.random.Generator | None = None) -> None:
    """Write ``data`` (x, y, z, N) as single-frame MR DICOM files, one per (slice, tau), in shuffled order.

    Stored values are ``round((data - intercept) / slope)`` as uint16; TR per image when given.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    x, y, z_count, n_count = data.shape
    order = [(n, z) for n in range(n_count) for z in range(z_count)]
    if rng is not None:
        order = [order[i] for i in rng.permutation(len(order))]  # files on disk in no particular order
    for count, (n, z) in enumerate(order):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = MRImageStorage, ds.file_meta.MediaStorageSOPInstanceUID, "MR"
        ds.ImageType = list(image_type)
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-50.0, -40.0, 10.0 + 3.0 * z]
        ds.PixelSpacing = list(spacing)
        ds.SliceThickness = 3.0
        setattr(ds, "InversionTime" if task == "t1" else "EchoTime", float(tau_ms[n]))
        if tr_ms is not None:
            ds.RepetitionTime = float(tr_ms[n])
        ds.Rows, ds.Columns = y, x
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        stored = np.clip(np.round((data[:, :, z, n].T - intercept) / slope), 0, 65535).astype(np.uint16)
        ds.PixelData = stored.tobytes()  # (rows, columns)
        ds.save_as(folder / f"IM{count:04d}.dcm", enforce_file_format=True)


def small_truth(model, rng, shape=(9, 11)) -> Truth:
    """A small slice: a 'brain' centre inside a 'head' rim, parameters in the tissue range."""
    labels = np.full(shape, T.MUSCLE, dtype=np.uint8)
    labels[2:-2, 2:-2] = T.WM
    labels[4:-4, 4:-4] = T.GM
    lo = np.array([0.6, 1.8, 700.0] if model.task == "t1" else [0.6, 60.0])
    kappa = lo[:, None, None] * (1 + 0.3 * rng.random((model.n_params, *shape)))
    return Truth(model, kappa, labels)


def run_qmri(*args, cwd=None) -> subprocess.CompletedProcess:
    """Run ``qmri *args`` with this interpreter, output captured."""
    return subprocess.run([sys.executable, "-m", "qmri", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def as_series(images, tau, tr=None, signed=False):
    """(1, N, H, W) images as a one-slice Series (H, W, 1, N)."""
    data = images[0].numpy().transpose(1, 2, 0)[:, :, None, :]
    return Series(np.ascontiguousarray(data), np.eye(4), np.asarray(tau, float), "test", tr, signed)
