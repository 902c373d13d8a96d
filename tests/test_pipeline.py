"""Real Snakemake runs of the smoke preset in a scratch copy of the workflow."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from qmri.io import load_arrays, load_nifti

WORKFLOW_FILES = ("Snakefile", "config.yaml", "workflow", "presets", "envs")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    for name in WORKFLOW_FILES:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
    return root


def snakemake(workdir, *args):
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, capture_output=True,
                          text=True, timeout=900)


def test_lint_is_clean(workdir):
    result = snakemake(workdir, "--lint")
    assert result.returncode == 0, result.stderr
    assert "Congratulations" in result.stdout + result.stderr


@pytest.mark.slow
def test_smoke_preset_runs_to_the_training_set_and_figure(workdir):
    result = snakemake(workdir, "all_figures", "--cores", "2", "--configfile", "presets/smoke.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    labels, _ = load_nifti(workdir / "results/brains/mni152.nii.gz")
    assert labels.shape == (197, 233, 189)
    trainset = load_arrays(workdir / "results/trainset/mni152.npz")
    assert trainset["kappa"].shape == (48, 4, 40, 40)
    assert np.all(np.isfinite(trainset["kappa"]))
    png = workdir / "results/figures/trainset_examples.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000
    for rule_log in ("logs/brains/mni152.log", "logs/trainset/mni152.log", "logs/figures/trainset_examples.log"):
        assert (workdir / rule_log).exists()
    assert "48 patches" in (workdir / "logs/trainset/mni152.log").read_text()
    # nothing left to do: outputs are complete and up to date
    dry = snakemake(workdir, "all_figures", "-n", "--configfile", "presets/smoke.yaml")
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_invalid_config_is_rejected_before_any_job(workdir, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainset:\n  n_patches: -3\n")
    result = snakemake(workdir, "all_figures", "-n", "--configfile", str(bad))
    assert result.returncode != 0
    assert "n_patches" in result.stdout + result.stderr
