"""``qmri bench quality``: the networks' quality target, scored against the MLE on unseen subjects."""


import numpy as np
import pandas as pd
import pytest
import torch

from helpers import IV_T1, REPO, toy_trainset
from qmri.bench.quality import MOVED_START, gradient_ablation, moved_start, quality_benchmark
from qmri.cli import main
from qmri.estimators.networks.checkpoint import build_network
from qmri.physics.signal import InversionRecovery
from qmri.pipeline.study import Study
from qmri.simulation.anyprotocol import AnyProtocolSettings
from qmri.simulation.tissues import BRAIN_LABELS
from qmri.training import TrainSettings, train


@pytest.mark.slow
def test_quality_benchmark_scores_each_method_on_the_same_subjects(tmp_path, rng, capsys):
    # a RIM whose weights barely moved from the zero output layer returns the initial estimate, T1 = 1000 ms
    settings = TrainSettings(iterations=1, batch_size=2, rim_steps=2, rim_features=4, learning_rate=1e-12,
                             precision="float32")
    tau = Study.load(REPO / "config.yaml").protocol("t1-31").tau_ms
    train("rim", "t1-31", "t1", tau, toy_trainset(rng, p=4), settings, 0, tmp_path / "rim.pt",
          tmp_path / "rim.csv", progress=False)
    assert main(["bench", "quality", "--rim", str(tmp_path / "rim.pt"), "--subjects", "1", "--repeats", "2",
                 "--config", str(REPO / "config.yaml")]) == 0
    assert "subject 0: RIM CV" in capsys.readouterr().out
    study = Study.load(REPO / "config.yaml")
    # a RIM reads any number of images: scored on another protocol (a fine-tuned model's)
    table = quality_benchmark(study, {"rim": str(tmp_path / "rim.pt")}, subjects=1, snr=10.0, repeats=2, seed=7,
                              protocol="t1-23")
    assert "23 TIs (t1-23)" in capsys.readouterr().out
    rows = table.set_index("method")
    truth = study.held_out_truth(study.mni152_brain(), "t1", 7)
    t1 = truth.kappa[2][np.isin(truth.labels, BRAIN_LABELS)]
    assert abs(rows.loc["rim", "abs_rb"] - np.median(np.abs(1000.0 / t1 - 1)) * 100) < 1e-3
    assert rows.loc["rim", "cv"] < 1e-6  # the same map whatever the noise
    assert abs(rows.loc["rim", "b_estimate"] - 2.0) < 1e-6  # and B stays at its initial 2
    assert abs(rows.loc["mle", "b_estimate"] - float(truth.kappa[1].mean())) < 0.05  # the MLE pools B over the slice
    # the MLE at SNR 10: per-pixel CV of a few percent, and a bias within the noise of 2 realisations
    assert 0.5 < rows.loc["mle", "cv"] < 6 and rows.loc["mle", "abs_rb"] < 5


def test_quality_benchmark_without_weights_or_subjects_is_a_one_line_error(capsys):
    assert main(["bench", "quality"]) == 1
    assert main(["bench", "quality", "--rim", "m.pt", "--repeats", "1"]) == 1
    assert main(["bench", "quality", "--rim", "m.pt", "--protocol", "t2-6", "--config", str(REPO / "config.yaml")]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["qmri: error: bench quality needs --rim, --resnet and/or --arim checkpoints",
                     "qmri: error: bench quality needs --subjects >= 1 and --repeats >= 2 (the CV needs two)",
                     "qmri: error: bench quality maps T1; protocol t2-6 is for t2"]


@pytest.mark.slow
def test_protocols_benchmark_prints_each_target_next_to_its_baseline(capsys):
    import re

    from qmri.bench.protocols import protocols_benchmark

    protocols_benchmark(Study.load(REPO / "config.yaml"), repeats=2, rician_repeats=2)
    out = capsys.readouterr().out
    ratios = [float(r) for r in re.findall(r"ratio (\d+\.\d+), target <= 1.2", out)]
    assert len(ratios) == 2 and max(ratios) <= 1.2
    assert float(re.search(r"median \|difference\| (\d+\.\d+)% \(target < 5 %\)", out).group(1)) < 5
    mapped = [float(m) for m in re.findall(r"mapped (\d+\.\d+)% of the object", out)]
    assert len(mapped) == 2 and min(mapped) >= 99
    # two realisations: |RB| is mostly noise (CV 23 % per pixel), the signed median RB over the brain is not
    rb = {name: float(v) for name, v in re.findall(r"(gaussian|rician)\s*: RB\s*([+-]\d+\.\d+) %", out)}
    assert rb["gaussian"] > 15 and abs(rb["rician"]) < 5
    assert "time ratio Rician / Gaussian" in out


def test_the_arithmetic_bound_counts_a_convolution_and_measures_a_rate():
    import torch

    from qmri.bench.flops import counted_flops, matmul_peak

    conv = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
    image = torch.rand(1, 3, 8, 8)
    assert counted_flops(lambda: conv(image)) == 2 * (4 * 8 * 8) * 3 * 9  # multiply-adds of every output
    # backward adds the weights' gradient, as many again (the image needs none)
    assert counted_flops(lambda: conv(image).sum().backward()) == 2 * 2 * (4 * 8 * 8) * 3 * 9
    assert 1e8 < matmul_peak(torch.float32, n=256, repeats=2) < 1e14


def test_gradient_ablation_tells_a_rim_that_reads_the_data_from_one_that_does_not():
    model = InversionRecovery()
    tau = torch.tensor(IV_T1)
    images = model.forward(torch.tensor([1.0, 1.9, 900.0]).view(1, 3, 1, 1).expand(1, 3, 16, 16), tau)
    mask = torch.ones(1, 16, 16, dtype=torch.bool)
    meta = {"task": "t1", "method": "rim"}
    torch.manual_seed(0)
    net = build_network("rim", model, len(tau)).eval()  # untrained: its zero output layer makes no update
    assert gradient_ablation(net, meta, images, mask, mask[0].numpy(), IV_T1) == [0.0, 0.0, 0.0]
    torch.nn.init.normal_(net.cell.conv_out.weight, std=0.1)
    change = gradient_ablation(net, meta, images, mask, mask[0].numpy(), IV_T1)
    assert min(change) > 1e-4 and net.use_gradient  # every parameter moved; the switch is restored


def test_moved_start_tells_a_solver_from_a_corrector_of_its_start():
    """A cell that takes the Gauss-Newton step it reads (against the negative log-likelihood's gradient) comes back
    from a start moved by a factor 1.22 in T1 and stays there without it; an untrained cell (no update) stays with or
    without. The Newton cell need not reach the truth exactly (B and T1 trade off along a shallow valley at these
    inversion times, and a bfloat16 inference cell rounds its steps), but it must undo most of the offset."""

    class Newton(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv_out = torch.nn.Conv2d(1, 1, 1)  # where the RIM reads its cell's dtype

        def forward(self, kappa, step, h1, h2, weights, context):
            return -step, h1, h2

    model = InversionRecovery()
    tau = torch.tensor(IV_T1)
    images = model.forward(torch.tensor([1.0, 1.9, 900.0]).view(1, 3, 1, 1).expand(1, 3, 16, 16), tau)
    mask = torch.ones(1, 16, 16, dtype=torch.bool)
    meta, truth = {"task": "t1", "method": "arim"}, np.full((16, 16), 900.0)
    net = build_network("arim", model, len(tau), data_term="gauss_newton").eval()
    # the start's own error (its pooled B is refined between grid values; one T1 in the image leaves a few %)
    own = moved_start(net, meta, images, mask, mask[0].numpy(), IV_T1, truth, shift=0.0)[0]
    moved = 100 * ((1 + own / 100) * np.exp(MOVED_START) - 1)
    still = moved_start(net, meta, images, mask, mask[0].numpy(), IV_T1, truth)
    assert still == pytest.approx((moved, moved), abs=1.0)
    net.cell = Newton()
    solver = moved_start(net, meta, images, mask, mask[0].numpy(), IV_T1, truth)
    assert abs(solver[0]) < moved / 3 and solver[1] == pytest.approx(moved, abs=1.0)
    assert net.start_offset is None and net.use_gradient  # the switches are restored


@pytest.mark.slow
def test_quality_benchmark_judges_our_rim_against_its_targets(tmp_path, rng, capsys):
    settings = TrainSettings(iterations=1, batch_size=2, rim_steps=2, rim_features=4, precision="float32")
    train("arim", "any", "t1", None, toy_trainset(rng, p=4), settings, 0, tmp_path / "arim.pt", tmp_path / "arim.csv",
          progress=False, data=AnyProtocolSettings(image_size=24))
    assert main(["bench", "quality", "--arim", str(tmp_path / "arim.pt"), "--subjects", "1", "--repeats", "2",
                 "--config", str(REPO / "config.yaml"), "--csv", str(tmp_path / "q.csv")]) == 0
    out = capsys.readouterr().out
    assert "arim targets: mean |RB|" in out and "gradient ablation" in out and "  arim: A " in out
    assert "arim_start targets: mean |RB|" in out  # its start alone, scored beside it
    first = pd.read_csv(tmp_path / "q.csv")
    assert set(first["method"]) == {"mle", "arim", "arim_start"}
    # the MLE's rows reused: the same rows, not fitted again; other settings are a one-line error
    again = ["bench", "quality", "--arim", str(tmp_path / "arim.pt"), "--subjects", "1", "--config",
             str(REPO / "config.yaml"), "--mle-from", str(tmp_path / "q.csv")]
    assert main([*again, "--repeats", "2", "--csv", str(tmp_path / "r.csv")]) == 0
    assert f"(from {tmp_path / 'q.csv'})" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "r.csv").sort_values("method", ignore_index=True),
                                  first.sort_values("method", ignore_index=True))
    assert main([*again, "--repeats", "3"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"qmri: error: {tmp_path / 'q.csv'} holds no MLE rows made with these settings (subjects, seed, SNR, C, "
        "protocol, lambda_B): score the MLE again without it"]
