import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import SHARED, snakemake, workflow_copy, write_dicom_series


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        message = f"shared data folder not found at {SHARED} (set QMRI_SHARED)"
        if os.environ.get("CI"):  # CI lays shared/ beside the checkout: missing there is a failure, not a skip
            pytest.fail(message)
        pytest.skip(message)
    return SHARED


@pytest.fixture
def dicom_writer():
    """The function ``write_dicom_series``, for tests that need a DICOM folder."""
    pytest.importorskip("pydicom")
    return write_dicom_series


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    """A scratch copy of the workflow, shared by the pipeline and cluster tests."""
    return workflow_copy(tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="session")
def smoke(workdir) -> Path:
    """The smoke preset run to completion in ``workdir`` once per session. Read-only: later tests read its
    outputs (the cluster test compares its own run with them); a test that runs more rules takes ``smoke_copy``."""
    result = snakemake(workdir, "all_figures", "--cores", "2", "--configfile", "presets/smoke.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


@pytest.fixture
def smoke_copy(smoke, tmp_path) -> Path:
    """A copy of the session's smoke run, results and Snakemake's records included, for a test that runs more
    rules in it: the session's own run stays as the smoke test left it, whatever the order of the tests."""
    copy = tmp_path / "smoke"
    shutil.copytree(smoke, copy, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
    return copy
