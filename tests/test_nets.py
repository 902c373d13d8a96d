"""RIM, ResNet, scaling, training, checkpoints and inference."""

import os
from dataclasses import asdict

import numpy as np
import pytest
import torch

from helpers import toy_trainset
from qmri.errors import QmriError
from qmri.estimators.networks import checkpoint as checkpoint_module
from qmri.estimators.networks import scaling
from qmri.estimators.networks.checkpoint import load_model, predict
from qmri.estimators.networks.resnet import BLOCK_WIDTHS, ResNet, resampled_stem, resampling_matrix
from qmri.estimators.networks.rim import RIM, ConvGRU, tanh
from qmri.physics.signal import InversionRecovery, T2Decay
from qmri.simulation.anyprotocol import AnyProtocolSettings
from qmri.training import TrainSettings, train

TAU = [139.0, 300.0, 520.0, 700.0, 937.0]


def test_rim_accepts_any_number_of_images_and_any_size(generator):
    rim = RIM(InversionRecovery(), steps=3, features=8).eval()
    for n, (h, w) in ((3, (37, 31)), (31, (16, 16)), (7, (9, 40))):
        tau = torch.linspace(100, 900, n)
        out = rim(torch.rand((2, n, h, w), generator=generator), tau)
        assert len(out) == 3 and all(o.shape == (2, 3, h, w) for o in out)
    assert sum(p.numel() for p in rim.cell.conv_in.parameters()) == 6 * 8 * 9 + 8  # input channels 2Q, not N


def test_rim_architecture_follows_section_4_4_4():
    rim = RIM(T2Decay())
    convs = [m for m in rim.cell.modules() if isinstance(m, torch.nn.Conv2d)]
    assert rim.steps == 6 and rim.cell.conv_in.kernel_size == (3, 3) and rim.cell.conv_in.out_channels == 36
    assert rim.cell.conv_out.kernel_size == (1, 1) and rim.cell.conv_out.out_channels == 2
    assert [m.kernel_size for m in rim.cell.conv_mid if isinstance(m, torch.nn.Conv2d)] == [(3, 3), (3, 3)]
    assert all(c.padding in ((1, 1), (0, 0)) for c in convs)


def test_resnet_architecture_and_fixed_n():
    net = ResNet(23, 3)
    assert len(net.blocks) == 12 and [b.body[0].out_channels for b in net.blocks] == list(BLOCK_WIDTHS)
    assert net.stem[0].kernel_size == (1, 1) and net.stem[0].out_channels == 40
    assert net.head.out_channels == 3
    with pytest.raises(ValueError, match="takes 23 images"):
        net(torch.rand(1, 25, 8, 8))


def test_scaling_is_invariant_to_intensity_and_round_trips(generator):
    model = InversionRecovery()
    kappa = torch.tensor([800.0, 1.9, 1200.0]).view(1, 3, 1, 1).expand(2, 3, 6, 5).clone()
    signal = model.forward(kappa, torch.tensor(TAU))
    s = scaling.intensity_scale(signal)
    assert torch.allclose(scaling.from_network(scaling.to_network(kappa, model, s), model, s), kappa)
    rim = RIM(model)
    grads = []
    for factor in (1.0, 1000.0):
        sig = signal * factor
        s = scaling.intensity_scale(sig)
        estimate = kappa * torch.tensor([1.1 * factor, 1.0, 0.8]).view(1, 3, 1, 1)  # A in image units
        k_net = scaling.to_network(estimate, model, s)
        grads.append(rim.gradient(k_net, sig / s, torch.tensor(TAU)))
    assert torch.allclose(grads[0], grads[1], rtol=1e-4, atol=1e-7)


def test_rim_gradient_matches_autograd_in_network_units(generator):
    model = InversionRecovery()
    tau = torch.tensor(TAU, dtype=torch.float64)
    rim = RIM(model).double()
    signal = torch.rand((2, len(TAU), 5, 4), generator=generator, dtype=torch.float64)
    k_net = scaling.to_network(torch.tensor([0.8, 1.7, 900.0], dtype=torch.float64).view(1, 3, 1, 1).expand(
        2, 3, 5, 4), model, torch.ones(2, 1, 1, 1, dtype=torch.float64)).clone().requires_grad_(True)
    f = model.forward(scaling.from_network(k_net, model, torch.ones(2, 1, 1, 1, dtype=torch.float64)), tau)
    (grad,) = torch.autograd.grad((0.5 * ((signal - f) ** 2).mean(dim=1)).sum(), k_net)
    assert torch.allclose(rim.gradient(k_net.detach(), signal, tau), grad)


def test_rim_gradient_is_the_scaled_likelihood_gradient(generator):
    """The RIM input equals sigma^2 / N times the NLL gradient, in network units (chain rule)."""
    from qmri.physics.likelihood import Likelihood

    model = InversionRecovery()
    tau = torch.tensor(TAU, dtype=torch.float64)
    kappa = torch.tensor([0.7, 1.8, 900.0], dtype=torch.float64).view(1, 3, 1, 1).expand(1, 3, 4, 3)
    signal = model.forward(kappa * 1.05, tau)
    rim = RIM(model).double()
    k_net = scaling.to_network(kappa, model, torch.ones(1, 1, 1, 1, dtype=torch.float64))
    sigma = 0.1
    expected = Likelihood(model).gradient(kappa, signal, tau, sigma) * sigma**2 / len(TAU)
    expected = expected * scaling.physical_per_network(kappa, model)  # chain rule to log(T1)
    assert torch.allclose(rim.gradient(k_net, signal, tau), expected)


@pytest.mark.parametrize("method", ["rim", "resnet"])
def test_training_lowers_the_loss_and_the_checkpoint_round_trips(method, rng, tmp_path, monkeypatch):
    trainset = toy_trainset(rng)
    settings = TrainSettings(iterations=30, batch_size=4, rim_steps=2, rim_features=8, checkpoint_every=10,
                             precision="float32", learning_rate=3e-3)
    checkpoint = train(method, "t1-toy", "t1", TAU, trainset, settings, seed=3, output=tmp_path / "m.pt",
                       log_csv=tmp_path / "m.csv", progress=False)
    log = np.genfromtxt(tmp_path / "m.csv", delimiter=",", names=True)
    assert len(log) == 30 and np.median(log["loss"][-10:]) < np.median(log["loss"][:10])
    assert not (tmp_path / "m.pt.resume").exists()
    net, meta = load_model(tmp_path / "m.pt")
    assert meta["protocol"] == "t1-toy" and meta["tau_ms"] == TAU and meta["task"] == "t1"
    assert meta["git_revision"] and meta["device"] == "cpu" and checkpoint["iterations"] == 30
    signal = torch.rand(1, len(TAU), 21, 17)
    out = predict(net, meta, signal * 500.0, TAU, "t1")
    assert out.shape == (1, 3, 21, 17) and torch.isfinite(out).all()
    # any intensity scale: A follows the scale, B and T1 do not move
    scaled = predict(net, meta, signal * 5.0, TAU, "t1")
    assert torch.allclose(out[:, 1:], scaled[:, 1:], rtol=1e-4, atol=1e-4)
    assert torch.allclose(out[:, 0], scaled[:, 0] * 100.0, rtol=1e-4)
    with pytest.raises(QmriError, match="for the t1 task"):
        predict(net, meta, torch.rand(1, 5, 8, 8), TAU, "t2")
    # mapped in chunks on a CPU (here two images and one): each image's maps are those it gets alone
    monkeypatch.setattr(checkpoint_module, "CPU_CHUNK_PIXELS", 2 * 21 * 17)
    images = torch.rand(3, len(TAU), 21, 17) * torch.tensor([1.0, 30.0, 900.0]).view(3, 1, 1, 1)
    alone = torch.cat([predict(net, meta, images[i:i + 1], TAU, "t1") for i in range(3)])
    assert torch.allclose(predict(net, meta, images, TAU, "t1"), alone, rtol=1e-5, atol=1e-6)


def test_training_in_a_rule_log_writes_a_progress_line_per_5_percent(rng, tmp_path):
    from qmri.logs import logging_to

    settings = TrainSettings(iterations=40, batch_size=2, rim_steps=1, rim_features=4, precision="float32")
    with logging_to(tmp_path / "train.log"):
        train("rim", "t1-toy", "t1", TAU, toy_trainset(rng, p=4, size=8), settings, 0, tmp_path / "r.pt",
              tmp_path / "r.csv", progress=True)
    lines = [line for line in (tmp_path / "train.log").read_text().splitlines() if "train rim t1-toy" in line]
    assert len(lines) == 20 and "iteration 2/40" in lines[0] and "iteration 40/40" in lines[-1]
    assert all(" s/it, loss " in line and "ETA" in line for line in lines) and lines[-1].endswith("ETA 0 min 00 s")


def test_resnet_with_another_n_is_a_clear_error(rng, tmp_path):
    settings = TrainSettings(iterations=1, batch_size=2, precision="float32")
    train("resnet", "t1-toy", "t1", TAU, toy_trainset(rng, p=4), settings, 0, tmp_path / "r.pt",
          tmp_path / "r.csv", progress=False)
    net, meta = load_model(tmp_path / "r.pt")
    with pytest.raises(QmriError, match="trained on 5 images"):
        predict(net, meta, torch.rand(1, 7, 8, 8), list(range(100, 800, 100)), "t1")


@pytest.mark.parametrize("method", ["rim", "arim"])
def test_training_resumes_bit_identically_after_interruption(rng, tmp_path, monkeypatch, method):
    """The paper's RIM, and our RIM with a jittered start (torch's generator restored with the batches')."""
    from qmri.training.batches import AnyProtocolBatches, Batches

    batches_class = Batches if method == "rim" else AnyProtocolBatches
    trainset, tau = (toy_trainset(rng), TAU) if method == "rim" else (None, None)
    settings = TrainSettings(iterations=6, batch_size=3, rim_steps=2, rim_features=8, checkpoint_every=3,
                             precision="float32", start_jitter=0.3 if method == "arim" else 0.0)

    def run(name):
        return train(method, "p", "t1", tau, trainset, settings, 1, tmp_path / f"{name}.pt", tmp_path / f"{name}.csv",
                     progress=False)

    straight = run("a")
    original, calls = batches_class.next, {"n": 0}

    def dying_next(self):  # the job is killed while drawing the 5th mini-batch
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(batches_class, "next", dying_next)
    with pytest.raises(KeyboardInterrupt):
        run("b")
    assert (tmp_path / "b.pt.resume").exists() and not (tmp_path / "b.pt").exists()
    monkeypatch.setattr(batches_class, "next", original)
    resumed = run("b")
    for key, value in straight["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key
    assert not (tmp_path / "b.pt.resume").exists()
    assert np.genfromtxt(tmp_path / "b.csv", delimiter=",", names=True)["iteration"].tolist() == list(range(1, 7))


@pytest.mark.parametrize(("current", "resumed"), [({}, True), ({"lr_schedule": "cosine"}, False)])
def test_a_resume_file_older_than_a_setting_resumes_only_at_its_default(current, resumed):
    from qmri.training.loop import resumes

    identity = {"method": "arim", "settings": asdict(TrainSettings(**current)), "data": asdict(AnyProtocolSettings())}
    old = {**identity, "settings": asdict(TrainSettings()), "data": asdict(AnyProtocolSettings())}
    del old["settings"]["lr_schedule"], old["data"]["real_share"]
    assert resumes(old, identity) is resumed
    assert not resumes({**old, "method": "rim"}, identity)


def test_compiles_rim_only_where_it_was_measured_to_pay():
    from qmri.training import COMPILE_MIN_ITERATIONS, compiles_rim

    cpu, rim, resnet = torch.device("cpu"), RIM(InversionRecovery(), steps=1, features=4), ResNet(5, 3)
    long, short = TrainSettings(iterations=COMPILE_MIN_ITERATIONS), TrainSettings(iterations=COMPILE_MIN_ITERATIONS - 1)
    assert compiles_rim(rim, cpu, torch.float32, long)
    assert not compiles_rim(rim, cpu, torch.float32, short) and not compiles_rim(rim, cpu, torch.bfloat16, long)
    assert not compiles_rim(rim, torch.device("cuda"), torch.float32, long)
    assert not compiles_rim(resnet, cpu, torch.float32, TrainSettings(compile=True))
    assert compiles_rim(rim, cpu, torch.bfloat16, TrainSettings(iterations=1, compile=True))
    assert not compiles_rim(rim, cpu, torch.float32, TrainSettings(iterations=5000, compile=False))
    with pytest.raises(QmriError, match="compile must be true, false or auto"):
        TrainSettings(compile="yes")


@pytest.mark.slow
def test_compiled_rim_trains_as_the_eager_one(rng, tmp_path):
    """torch.compile changes the rounding of the cell and the gradient, not what they compute: losses and weights
    agree with the eager run's within float32 rounding, and the checkpoint loads as any other."""
    trainset = toy_trainset(rng, p=6, size=10)
    runs = {}
    for compiled in (False, True):
        settings = TrainSettings(iterations=3, batch_size=2, rim_steps=2, rim_features=4, precision="float32",
                                 compile=compiled)
        runs[compiled] = train("rim", "p", "t1", TAU, trainset, settings, 2, tmp_path / f"{compiled}.pt",
                               tmp_path / f"{compiled}.csv", progress=False)
        assert runs[compiled]["compiled"] is compiled
    eager, compiled = runs[False], runs[True]
    losses = [np.genfromtxt(tmp_path / f"{c}.csv", delimiter=",", names=True)["loss"] for c in (False, True)]
    assert np.allclose(losses[1], losses[0], rtol=1e-5)
    for key, value in eager["state_dict"].items():
        assert torch.allclose(compiled["state_dict"][key], value, rtol=1e-4, atol=1e-6), key
    net, meta = load_model(tmp_path / "True.pt")
    assert meta["compiled"] and torch.isfinite(predict(net, meta, torch.rand(1, len(TAU), 9, 7), TAU, "t1")).all()


def test_auto_compile_trains_eager_where_compiling_fails(rng, tmp_path, monkeypatch, caplog):
    """No C++ compiler (or any failure of inductor): "auto" logs one warning and trains the very same model
    eager, first batch included; ``compile: true`` lets the error through."""
    import qmri.training.compile as compile_policy

    def failing_compile(function):
        def call(*args, **kwargs):
            raise RuntimeError("Compiler: g++ not found\nmore lines")
        return call

    trainset = toy_trainset(rng, p=6, size=10)
    settings = {"iterations": 4, "batch_size": 2, "rim_steps": 2, "rim_features": 4, "precision": "float32"}
    eager = train("rim", "p", "t1", TAU, trainset, TrainSettings(**settings, compile=False), 2, tmp_path / "e.pt",
                  tmp_path / "e.csv", progress=False)
    monkeypatch.setattr(compile_policy, "COMPILE_MIN_ITERATIONS", 4)
    monkeypatch.setattr(torch, "compile", failing_compile)
    with caplog.at_level("WARNING", logger="qmri.train"):
        auto = train("rim", "p", "t1", TAU, trainset, TrainSettings(**settings), 2, tmp_path / "a.pt",
                     tmp_path / "a.csv", progress=False)
    assert [r.getMessage() for r in caplog.records] == [
        "train rim p: compiling the RIM failed (Compiler: g++ not found); training it eager"]
    assert auto["compiled"] is False
    for key, value in eager["state_dict"].items():
        assert torch.equal(auto["state_dict"][key], value), key
    with pytest.raises(RuntimeError, match="g\\+\\+ not found"):
        train("rim", "p", "t1", TAU, trainset, TrainSettings(**settings, compile=True), 2, tmp_path / "t.pt",
              tmp_path / "t.csv", progress=False)


def test_inductor_cache_is_a_folder_per_cpu_capability(tmp_path, monkeypatch):
    """Kernels compiled with torch capped to AVX2 crashed a later uncapped run that found them in the same cache:
    each capability gets its own folder, appended once to the user's (or inductor's default) folder."""
    from qmri.training import inductor_cache_per_capability

    capability = torch.backends.cpu.get_cpu_capability()
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    assert inductor_cache_per_capability() == tmp_path / capability
    assert inductor_cache_per_capability() == tmp_path / capability
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / capability)
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR")
    folder = inductor_cache_per_capability()
    assert folder.name == capability and folder.parent.name.startswith("torchinductor")


def test_fast_tanh_is_tanh_in_value_and_gradient(generator):
    """float32 through 2 sigmoid(2x) - 1 within a few float32 roundings; its gradient tanh's; bfloat16 torch's own."""
    x = torch.cat([torch.linspace(-20, 20, 4001), 1e-3 * torch.randn(1000, generator=generator)]).requires_grad_()
    y = tanh(x)
    (grad,) = torch.autograd.grad(y, x, torch.ones_like(y))
    exact = torch.tanh(x.detach().double())
    assert (y.detach().double() - exact).abs().max() < 3e-7
    assert torch.allclose(grad.double(), 1 - exact**2, rtol=0, atol=1e-6)
    small = 1e-3 * torch.randn(100, generator=generator).bfloat16()
    assert torch.equal(tanh(small), torch.tanh(small))


def test_conv_gru_is_the_gru_update(generator):
    """h' = u h + (1 - u) c, c = tanh(W x + U (r h)), (r, u) = sigmoid(gates([x, h])), at every pixel."""
    torch.manual_seed(0)
    gru = ConvGRU(4, 5)
    x, h = torch.randn(2, 4, 3, 3, generator=generator), torch.randn(2, 5, 3, 3, generator=generator)
    reset, update = torch.sigmoid(gru.gates(torch.cat([x, h], dim=1))).chunk(2, dim=1)
    candidate = torch.tanh(gru.candidate_x(x) + gru.candidate_h(reset * h))
    assert torch.allclose(gru(x, h), update * h + (1 - update) * candidate, atol=1e-6)


def test_bfloat16_rim_cell_infers_like_float32(generator):
    """The fast inference path (bfloat16 cell, float32 estimate) stays within bfloat16 rounding."""
    from qmri.estimators.networks.checkpoint import inference_precision

    model = InversionRecovery()
    rim = RIM(model).eval()
    torch.nn.init.normal_(rim.cell.conv_out.weight, std=0.02, generator=generator)
    kappa = torch.tensor([0.9, 1.9, 1100.0]).view(1, 3, 1, 1) * (1 + 0.2 * torch.rand(2, 3, 19, 23, generator=generator))
    signal = model.forward(kappa, torch.tensor(TAU)) / kappa[:, :1].amax()
    with torch.inference_mode():
        reference = rim(signal, torch.tensor(TAU))[-1]
        with inference_precision(rim, torch.bfloat16) as fast:
            assert fast.cell.conv_out.weight.dtype == torch.bfloat16
            assert rim.cell.conv_out.weight.dtype == torch.float32  # the caller's network is untouched
            out = fast(signal, torch.tensor(TAU))[-1]
    assert out.dtype == torch.float32
    start = scaling.to_network(model.initial_guess(signal), model, torch.ones(1, 1, 1, 1))
    delta = (reference - start).abs().max()  # how far the RIM moved the estimate
    assert delta > 0.05 and (out - reference).abs().max() < 0.05 * delta


def test_resnet_widths_are_a_setting_the_checkpoint_keeps(rng, tmp_path):
    widths = (8, 8, 16, 3)
    settings = TrainSettings(iterations=1, batch_size=2, precision="float32", resnet_widths=list(widths))
    train("resnet", "t1-toy", "t1", TAU, toy_trainset(rng, p=4), settings, 0, tmp_path / "r.pt", tmp_path / "r.csv",
          progress=False)
    net, meta = load_model(tmp_path / "r.pt")
    assert [b.body[0].out_channels for b in net.blocks] == list(widths) and meta["settings"]["resnet_widths"] == widths


@pytest.mark.parametrize("method", ["rim", "resnet"])
def test_fine_tuning_starts_from_the_trained_model_and_a_resnet_relearns_only_its_stem(method, rng, tmp_path):
    trainset = toy_trainset(rng, p=4)
    settings = TrainSettings(iterations=2, batch_size=2, rim_steps=2, rim_features=4, precision="float32",
                             resnet_widths=(8, 8, 3), learning_rate=1e-30)
    train(method, "t1-a", "t1", TAU, trainset, settings, 0, tmp_path / "a.pt", tmp_path / "a.csv", progress=False)
    other = TAU[:3]
    tuned = train(method, "t1-b", "t1", other, trainset, settings, 1, tmp_path / "b.pt", tmp_path / "b.csv",
                  progress=False, start=tmp_path / "a.pt")
    first = torch.load(tmp_path / "a.pt", weights_only=True)["state_dict"]
    # a learning rate of 1e-30 moves no weight (BatchNorm's running statistics move without it): what the
    # fine-tuned model holds is what it started from
    changed = {k for k, v in tuned["state_dict"].items() if v.dtype.is_floating_point and "running_" not in k
               and (v.shape != first[k].shape or not torch.allclose(v, first[k]))}
    assert tuned["started_from"] == "t1-a"
    assert changed == (set() if method == "rim" else {"stem.0.weight"})
    if method == "resnet":  # the stem starts resampled to the new times
        torch.testing.assert_close(tuned["state_dict"]["stem.0.weight"], resampled_stem(first["stem.0.weight"], TAU, other))
    with pytest.raises(QmriError, match="cannot fine-tune a rim for t2 from"):
        train("rim", "t2-b", "t2", [10.0, 40.0], trainset, settings, 0, tmp_path / "c.pt", tmp_path / "c.csv",
              progress=False, start=tmp_path / "a.pt")


def test_resampling_matrix_interpolates_linearly_and_holds_the_ends():
    tau_from, tau_to = [100.0, 150.0, 400.0, 700.0, 900.0], [700.0, 200.0, 300.0, 500.0]  # any order
    matrix = resampling_matrix(tau_from, tau_to)
    line = lambda t: 3.0 - 0.002 * torch.tensor(t, dtype=torch.float64)  # noqa: E731
    expected = line([200.0, 200.0, 400.0, 700.0, 700.0])  # outside [200, 700]: the end sample
    torch.testing.assert_close(matrix @ line(tau_to), expected)
    torch.testing.assert_close(matrix.sum(dim=1), torch.ones(5, dtype=torch.float64))


def test_a_resampled_stem_reads_a_denser_protocol_as_the_trained_one():
    """The stem's output on an inversion-recovery curve at the new times is the trained stem's at its times, up
    to the curve's curvature between the new samples (34 ms apart)."""
    tau_from = torch.linspace(172.0, 893.0, 31)
    tau_to = torch.linspace(160.0, 900.0, 23)
    kappa = torch.tensor([1.0, 1.9, 1500.0]).view(1, 3, 1, 1)
    curve = lambda tau: InversionRecovery().forward(kappa, tau)  # noqa: E731
    weight = torch.randn(8, 31, 1, 1, generator=torch.Generator().manual_seed(0))
    trained = torch.nn.functional.conv2d(curve(tau_from), weight)
    resampled = torch.nn.functional.conv2d(curve(tau_to), resampled_stem(weight, tau_from.tolist(), tau_to.tolist()))
    assert (resampled - trained).abs().max() < 1e-3 * trained.abs().max()
