"""The core install: `pip install qmri-rim` without extras maps a series, with no pipeline package present."""

import subprocess
import sys

import numpy as np
import pytest

from helpers import REPO, phantom_t2, write_scan
from qmri.data.io import load_nifti

#: packages only the pipeline (the `workflow` extra) brings
PIPELINE_ONLY = ("snakemake", "pandas", "matplotlib", "nilearn", "yaml", "brainweb_dl")


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=1200, **kwargs)


@pytest.mark.slow
def test_the_core_install_maps_a_series_without_the_pipeline(tmp_path, rng):
    venv = tmp_path / "core"
    assert run(sys.executable, "-m", "venv", str(venv)).returncode == 0
    python = str(venv / "bin" / "python")
    for what in ("torch==2.13.0", str(REPO)):  # as the docs say: torch first, then the project without extras
        done = run(python, "-m", "pip", "install", "-q", what)
        assert done.returncode == 0, done.stderr[-3000:]
    found = run(python, "-c", f"import importlib.util as u; print([m for m in {PIPELINE_ONLY!r} if u.find_spec(m)])")
    assert found.stdout.strip() == "[]", found.stdout
    t2 = phantom_t2()
    scan = write_scan(tmp_path / "scan.nii.gz", t2, sigma=1.0, rng=rng)
    mapped = run(str(venv / "bin" / "qmri"), "fit", scan, "--task", "t2", "-o", str(tmp_path / "out" / "sub-01"))
    assert mapped.returncode == 0, mapped.stderr
    t2_map, _ = load_nifti(tmp_path / "out" / "sub-01_T2map.nii.gz")
    inside = t2 > 0
    assert np.nanmedian(np.abs(t2_map[inside] * 1000.0 - t2[inside]) / t2[inside]) < 0.05
    bench = run(str(venv / "bin" / "qmri"), "bench", "mle")
    assert bench.returncode == 1 and bench.stderr.count("\n") == 1
    assert "pip install 'qmri-rim[workflow]'" in bench.stderr
