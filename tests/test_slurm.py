"""The smoke preset through profiles/slurm on a real single-node SLURM cluster (issue: scale out)."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from helpers import workflow_copy
from slurm_cluster import Cluster, missing_requirements

#: what a cluster run needs beside the profile: this test cluster has no GPU and no accounting database
CLUSTER_ONLY = ("--set-resources", "train:gpu=0", "--slurm-status-command", "squeue", "--slurm-no-account",
                "--seconds-between-status-checks", "2", "--slurm-init-seconds-before-status-checks", "1")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    c = Cluster(tmp_path_factory.mktemp("slurm"))
    try:
        c.start()
        yield c
    finally:
        c.stop()


def run(workdir, env, target, *args):
    return subprocess.run([sys.executable, "-m", "snakemake", target, "--configfile", "presets/smoke.yaml", *args],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=1500)


@pytest.mark.slow
def test_smoke_runs_through_sbatch_and_matches_a_local_run(cluster, smoke, tmp_path):
    """The whole smoke preset through sbatch, compared with the session's local smoke run (``smoke``)."""
    on_slurm = workflow_copy(tmp_path / "slurm")
    result = run(on_slurm, cluster.env, "all_figures", "--profile", "profiles/slurm", *CLUSTER_ONLY)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert (on_slurm / "results/report/reproduction.md").exists()
    # every job of the DAG but the local target rule went through sbatch: slurmctld logged each submission
    planned = run(on_slurm, None, "all_figures", "--forceall", "-n", "--quiet", "rules")
    counts = [int(line.split()[-1]) for line in planned.stdout.splitlines() if line.split()[:1] == ["total"]]
    jobs = cluster.submitted_jobs()
    assert counts and len(jobs) >= counts[0] - 1, (counts, jobs)
    for name in ("results/trainset/mni152.npz", "results/brains/mni152.nii.gz"):
        assert (on_slurm / name).read_bytes() == (smoke / name).read_bytes(), name
    a, b = (pd.read_csv(w / "results/montecarlo/t1-31.csv") for w in (on_slurm, smoke))
    assert a[["snr", "method", "parameter", "metric"]].equals(b[["snr", "method", "parameter", "metric"]])
    # same seeds and code; thread scheduling may change the last bits of the float32 network outputs
    assert np.allclose(a["median"], b["median"], rtol=1e-3, atol=1e-3)
