import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("QMRI_SHARED", REPO.parent / "shared"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED} (set QMRI_SHARED)")
    return SHARED


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


@pytest.fixture
def dicom_writer():
    """The function ``write_dicom_series``, for tests that need a DICOM folder."""
    pytest.importorskip("pydicom")
    return write_dicom_series
