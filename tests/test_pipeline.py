"""Real Snakemake runs of the smoke preset in a scratch copy of the workflow."""

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from snakemake.utils import update_config

from helpers import IV_T1, phantom_t2, snakemake, workflow_copy, write_scan
from qmri.data.io import load_arrays, load_nifti
from qmri.pipeline.plan import training_plan


def test_lint_is_clean(workdir):
    result = snakemake(workdir, "--lint")
    assert result.returncode == 0, result.stderr
    assert "Congratulations" in result.stdout + result.stderr


@pytest.mark.slow
def test_smoke_preset_makes_every_figure_and_the_report(smoke):
    workdir = smoke
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
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    update_config(config, yaml.safe_load((workdir / "presets/smoke.yaml").read_text()))
    for method in ("rim", "resnet"):
        for protocol in ("t1-23", "t1-25", "t1-31", "t2-6"):
            assert (workdir / f"results/figures/training/{method}_{protocol}.png").exists()
            log = (workdir / f"results/models/{method}/{protocol}.csv").read_text().splitlines()
            settings, start = training_plan(config, method, protocol)
            assert len(log) == 1 + settings["iterations"]
            meta = torch.load(workdir / f"results/models/{method}/{protocol}.pt", weights_only=True)
            assert meta.get("started_from") == start and (start is None) == (protocol in ("t1-31", "t2-6"))
    figures = ["fig2_montecarlo_t1", "figA1_montecarlo_t2", "fig3_blurriness", "fig4_phantom_t1", "fig5_invivo_t1",
               "fig6_invivo_t1_noisy", "fig7_boundary_sharpness", "fig8_invivo_t2", "fig9_generalisation",
               "figA2_phantom_t2"]
    for figure in figures:
        for suffix in ("png", "pdf"):
            assert (workdir / f"results/figures/{figure}.{suffix}").stat().st_size > 10_000, figure
        assert (workdir / f"logs/figures/{figure}.log").exists()
    montecarlo = pd.read_csv(workdir / "results/montecarlo/t1-31.csv")
    assert set(montecarlo["method"]) == {"mle", "rim", "resnet", "arim"} and set(montecarlo["snr"]) == {5, 30}
    assert set(montecarlo["parameter"]) == {"A", "B", "T1"} and (montecarlo["n"] > 100).all()
    invivo = load_arrays(workdir / "results/invivo/iv-t1-noisy.npz")
    assert invivo["rim"].shape == (1, 2, 3, 96, 96) and invivo["truth"].shape == (1, 3, 96, 96)
    generalisation = pd.read_csv(workdir / "results/generalisation/generalisation.csv")
    assert set(generalisation["model"]) == {"mle", "resnet", "rim t1-23", "rim t1-25", "rim t1-31", "arim"}
    assert set(zip(generalisation["dataset"], generalisation["subject"])) == {
        ("hp-t1", "phantom"), ("iv-t1", "volunteer 1"), ("iv-t1-noisy", "volunteer 1")}  # fig. 9a-c
    phantom = pd.read_csv(workdir / "results/phantom/hp-t1.csv")
    assert len(phantom) == 4 * 14 * 2 and phantom["in_range"].sum() == 4 * 5 * 2  # T1-4..T1-8 within 172-893 ms
    sharpness = pd.read_csv(workdir / "results/sharpness/iv-t1.csv")
    assert len(sharpness) == 4 * 20 and set(sharpness["method"]) == {"mle", "resnet", "rim", "arim"}
    report = (workdir / "results/report/reproduction.md").read_text()
    assert report.startswith("# Reproduction report") and "## Summary" in report
    from qmri.paper.audit.register import CLAIMS

    assert f" distinct statements, {len(CLAIMS)} rows.** Independent rows (" in report.split("\n")[2]
    assert all(f"| {claim.key} | {claim.section} |" in report for claim in CLAIMS)
    assert re.search(r"\| iv-t1-noisy +\| simulated +\| T1 +\| RIM +\|", report)  # the volunteers' table
    assert re.search(r"\| hp-t1 +\| +23 \| phantom +\|", report)  # fig. 9a as a table
    assert "![../figures/fig2_montecarlo_t1.png]" in report and "git revision" in report
    assert "Beyond the paper: our any-protocol RIM (aRIM)" in report  # ours, apart from the paper's statements
    cost = report[report.index("## Run cost by rule"):].split("\n## ")[0]  # every rule's jobs, from benchmarks/
    for rule in ("brains", "trainset", "train", "fit", "montecarlo", "timing", "phantom_figure", "loss_curve"):
        assert re.search(rf"^\| {rule} +\| +\d+ \|", cost, re.M), rule
    # nothing left to do: outputs are complete and up to date
    dry = snakemake(workdir, "all_figures", "-n", "--configfile", "presets/smoke.yaml")
    assert "Nothing to be done" in dry.stdout + dry.stderr


@pytest.mark.slow
def test_trained_smoke_model_maps_a_scan_through_the_cli(smoke, tmp_path):
    """qmri fit --method rim with the pipeline's own checkpoint."""
    import json

    import nibabel as nib

    weights = smoke / "results/models/rim/t1-31.pt"
    tau = IV_T1
    data = np.random.default_rng(0).uniform(100, 1000, (20, 18, 2, len(tau))).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "scan.nii.gz")
    seconds = [t / 1000 for t in tau]
    (tmp_path / "scan.json").write_text(json.dumps({"InversionTime": seconds, "EchoTime": seconds}))
    result = subprocess.run([sys.executable, "-m", "qmri", "fit", str(tmp_path / "scan.nii.gz"), "--task", "t1",
                             "--method", "rim", "--weights", str(weights), "-o", str(tmp_path / "rim")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    meta = json.loads((tmp_path / "rim_T1map.json").read_text())
    assert meta["EstimationMethod"] == "recurrent inference machine" and meta["TrainedProtocol"] == "t1-31"
    assert nib.load(tmp_path / "rim_T1map.nii.gz").shape == (20, 18, 2)
    wrong = subprocess.run([sys.executable, "-m", "qmri", "fit", str(tmp_path / "scan.nii.gz"), "--task", "t2",
                            "--method", "rim", "--weights", str(weights), "-o", str(tmp_path / "x")],
                           capture_output=True, text=True, timeout=300)
    assert wrong.returncode == 1 and "is for the t1 task" in wrong.stderr and "Traceback" not in wrong.stderr


@pytest.mark.slow
def test_real_phantom_preset_maps_the_shared_sessions(smoke_copy, shared, tmp_path):
    """presets/real-phantom.yaml on the two real NIST sessions, with the smoke budget (its trained models)."""
    workdir = smoke_copy
    preset = yaml.safe_load((workdir / "presets/real-phantom.yaml").read_text())
    for spec in preset["phantom"]["datasets"].values():
        spec["sessions"] = [str(shared / p.removeprefix("../shared/")) for p in spec["sessions"]]
    (tmp_path / "real.yaml").write_text(yaml.safe_dump(preset))
    targets = ["results/figures/phantom_nist-t1.png", "results/figures/phantom_nist-t2.png"]
    result = snakemake(workdir, *targets, "--cores", "2", "--configfile", "presets/smoke.yaml", str(tmp_path / "real.yaml"))
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("nist-t1", "nist-t2"):
        table = pd.read_csv(workdir / f"results/phantom/{name}.csv")
        assert len(table) == 4 * 14 * 2  # MLE, RIM, ResNet and ours
        arrays = load_arrays(workdir / f"results/phantom/{name}.npz")
        assert arrays["centres"].shape == (2, 14, 2) and arrays["image"].shape == (256, 256)
    t1 = pd.read_csv(workdir / "results/phantom/nist-t1.csv")
    mle = t1[(t1["method"] == "mle") & (t1["metric"] == "rb") & t1["in_range"]]
    # spheres found and identified in both sessions: the voxel-wise MLE is within 15 % of every
    # in-range sphere's nominal T1 (neighbouring spheres differ by a factor of 1.4 or more)
    assert len(mle) == 12 and mle["median"].abs().max() < 15
    assert "lambda_b" in (workdir / "presets/real-phantom.yaml").read_text()


@pytest.mark.slow
def test_real_volunteer_scans_listed_in_config_are_mapped(smoke_copy, tmp_path):
    """invivo.real: two repeated NIfTI scans of one "volunteer" through the smoke T2 models."""
    workdir = smoke_copy

    rng = np.random.default_rng(7)
    scans = [write_scan(tmp_path / f"scan-{c}.nii.gz", phantom_t2(), 2.0, rng) for c in (1, 2)]
    config = {"invivo": {"real": {"mine": {"protocol": "t2-6", "volunteers": [scans]}}}}
    (tmp_path / "real.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "results/figures/invivo_mine.png", "--cores", "2", "--configfile",
                       "presets/smoke.yaml", str(tmp_path / "real.yaml"))
    assert result.returncode == 0, result.stderr[-3000:]
    arrays = load_arrays(workdir / "results/invivo_real/mine.npz")
    assert arrays["mle"].shape == (1, 2, 2, 24, 20) and arrays["mask"].shape == (1, 24, 20)
    assert "median CV of T2" in (workdir / "logs/invivo_real/mine.log").read_text()
    # the BIDS sidecars, which hold tau, are inputs of the rule too
    plan = snakemake(workdir, "results/invivo_real/mine.npz", "-n", "--forcerun", "invivo_real", "--configfile",
                     "presets/smoke.yaml", str(tmp_path / "real.yaml"))
    inputs = next(line for line in plan.stdout.splitlines() if line.strip().startswith("input:"))
    assert all(str(tmp_path / f"scan-{c}.{ext}") in inputs for c in (1, 2) for ext in ("json", "nii.gz"))


def test_invalid_config_is_rejected_before_any_job(workdir, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainset:\n  n_patches: -3\n")
    result = snakemake(workdir, "all_figures", "-n", "--configfile", str(bad))
    assert result.returncode != 0
    assert "n_patches" in result.stdout + result.stderr


def test_a_protocol_no_experiment_defines_is_a_one_line_error_and_fits_are_jobs(workdir, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("montecarlo:\n  protocols: {t1: t1-99, t2: t2-6}\n")
    result = snakemake(workdir, "all_figures", "-n", "--configfile", str(bad))
    assert result.returncode != 0
    assert "config: montecarlo.protocols names protocol t1-99, not one of t1-23" in result.stderr
    assert "Traceback" not in result.stderr
    plan = snakemake(workdir, "all_figures", "-n", "--forceall", "--quiet", "rules", "--configfile",
                     "presets/smoke.yaml")
    counts = {line.split()[0]: int(line.split()[1]) for line in plan.stdout.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    # MLE, RIM, ResNet and ours on 2 Monte Carlo protocols, blurriness, 3 in-vivo and 2 phantom datasets (32),
    # and the other protocols' RIMs on the 2 T1 in-vivo datasets and the T1 phantom (6, fig. 9); ours is packaged
    assert counts["fit"] == 38 and counts["train"] == 8


def test_more_cores_than_the_machine_has_are_capped_at_its_cpus(tmp_path):
    """`snakemake --cores 64` on a small machine must not start more thread-hungry jobs than there are CPUs."""
    import os

    work = workflow_copy(tmp_path / "w")
    result = snakemake(work, "results/brains/mni152.json", "--cores", "64", "--configfile", "presets/smoke.yaml")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Provided cores: {min(64, len(os.sched_getaffinity(0)))}\n" in result.stderr


def test_more_seeds_train_every_network_again_and_run_every_experiment_on_it(workdir, tmp_path):
    seeds = tmp_path / "seeds.yaml"
    seeds.write_text("training:\n  seeds: 2\n")
    plan = snakemake(workdir, "report", "-n", "--forceall", "--configfile", "presets/smoke.yaml", str(seeds))
    assert plan.returncode == 0, plan.stderr[-2000:]
    text = plan.stdout + plan.stderr
    counts = {line.split()[0]: int(line.split()[1]) for line in text.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    # every paper network again (8) and its fits (22: see the test above, less the MLE's and ours)
    assert counts["train"] == 16 and counts["fit"] == 60
    fine_tune = next(block for block in text.split("\n\n") if "output: results/models/rim@seed2/t1-23.pt" in block)
    assert "results/models/rim@seed2/t1-31.pt" in fine_tune  # a replicate fine-tunes from its own seed's model
    assert "results/fits/invivo/iv-t1/rim@seed2-t1-23.npz" in text  # fig. 9's other RIMs, of each seed


def test_the_arim_target_trains_stops_scores_and_ships_both_packaged_models(workdir):
    plan = snakemake(workdir, "arim", "-n", "--forceall")
    assert plan.returncode == 0, plan.stderr[-2000:]
    text = plan.stdout + plan.stderr
    counts = {line.split()[0]: int(line.split()[1]) for line in text.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert counts["arim_train"] == 2 and counts["arim_ship"] == 2 and counts["arim_quality"] == 1
    assert counts["arim_quality_mle"] == 1 and counts["arim_steps"] == 2
    # scored and shipped at the step its validation chose
    assert "input: results/arim/t1-stopped.pt, results/arim/quality-mle.csv" in text
    assert "output: src/qmri/estimators/networks/weights/arim-t1.pt" in text
    # the brain share as the packaged models had it: multiplicative voxel noise, not the run's additive one
    assert "results/trainset-multiplicative/mni152.npz" in text
    one = snakemake(workdir, "src/qmri/estimators/networks/weights/arim-t1.pt", "-n", "--forceall")
    assert one.returncode == 0 and "arim_train" in one.stdout and "wildcards: task=t2" not in one.stdout + one.stderr
