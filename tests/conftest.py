from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import SHARED, write_dicom_series


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


@pytest.fixture
def dicom_writer():
    """The function ``write_dicom_series``, for tests that need a DICOM folder."""
    pytest.importorskip("pydicom")
    return write_dicom_series
