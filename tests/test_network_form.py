"""The paper-form networks' implementation switches (``NetworkForm``): ours, the authors' code's, each alone."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from helpers import toy_trainset
from qmri.errors import QmriError
from qmri.estimators.networks import checkpoint as checkpoint_module
from qmri.estimators.networks import scaling
from qmri.estimators.networks.checkpoint import build_network, load_model, predict
from qmri.estimators.networks.form import OPTIONS, OURS, VARIANTS, NetworkForm, network_form
from qmri.estimators.networks.resnet import ResNet
from qmri.estimators.networks.rim import RIM
from qmri.physics.signal import InversionRecovery, T2Decay
from qmri.simulation.simulate import ADDITIVE_VOXEL_SD, TrainsetSettings, draw_parameters
from qmri.training import TrainSettings, masked_mse, physical_mse, train

TAU = [139.0, 300.0, 520.0, 700.0, 937.0]


def test_a_variant_sets_every_switch_and_single_switches_override_it():
    assert VARIANTS["ours"] == NetworkForm() and VARIANTS["authors"].differences() == {
        k: v[1] for k, v in OPTIONS.items()}
    form = network_form("authors", {"activation": "tanh"})
    assert form.activation == "tanh" and form.batchnorm == "batch"
    assert form.differences(VARIANTS["authors"]) == {"activation": "tanh"}
    with pytest.raises(QmriError, match="^network form: variant must be ours or authors, got 'mine'$"):
        network_form("mine")
    with pytest.raises(QmriError, match="^network form: no switch colour; the switches are activation"):
        network_form("ours", {"colour": "red"})
    with pytest.raises(QmriError, match="^network form: activation must be tanh or relu, got 'gelu'$"):
        TrainSettings(form={"activation": "gelu"})


@pytest.mark.parametrize("model", [InversionRecovery(), T2Decay()], ids=["t1", "t2"])
def test_the_authors_gradient_is_that_of_their_sum_of_squares_in_seconds(model, generator):
    tau = torch.tensor(TAU if model.task == "t1" else [10.0, 40.0, 80.0], dtype=torch.float64)
    truth = torch.tensor([0.8, 1.7, 900.0] if model.task == "t1" else [0.8, 90.0], dtype=torch.float64)
    kappa = truth.view(1, -1, 1, 1).expand(2, -1, 5, 4) * (0.8 + 0.4 * torch.rand(
        (2, model.n_params, 5, 4), generator=generator, dtype=torch.float64))
    signal = model.forward(truth.view(1, -1, 1, 1).expand(2, -1, 5, 4), tau)
    ones = torch.ones(2, 1, 1, 1, dtype=torch.float64)
    rim = RIM(model, form=network_form("ours", {"gradient": "physical", "units": "physical"})).double()
    seconds = scaling.to_units(kappa, model, ones, "physical").requires_grad_(True)
    f = model.forward(scaling.from_units(seconds, model, ones, "physical"), tau)
    (expected,) = torch.autograd.grad(((signal - f) ** 2).sum(), seconds)
    assert torch.allclose(rim.gradient(seconds.detach(), signal, tau), expected)
    # the same gradient whatever units the estimate is held in
    network_held = RIM(model, form=network_form("ours", {"gradient": "physical"})).double()
    assert torch.allclose(network_held.gradient(scaling.to_network(kappa, model, ones), signal, tau), expected)


def test_in_physical_units_a_rim_estimates_the_magnitude_of_its_update(generator):
    model = InversionRecovery()
    rim = RIM(model, steps=2, features=4, form=network_form("ours", {"units": "physical"}))
    torch.nn.init.zeros_(rim.cell.conv_out.weight)
    with torch.no_grad():
        rim.cell.conv_out.bias.copy_(torch.tensor([0.0, 0.0, -1.7]))  # T1 -1.7 s per step from 1 s
    signal = torch.rand((1, len(TAU), 6, 5), generator=generator)
    first, second = rim(signal, torch.tensor(TAU))
    t1 = scaling.from_network(torch.stack([first, second]).flatten(0, 1), model, torch.ones(2, 1, 1, 1))[:, 2]
    # |1 - 1.7| = 0.7 s, then |0.7 - 1.7| = 1.0 s
    assert torch.allclose(t1, torch.tensor([700.0, 1000.0]).view(2, 1, 1).expand(2, 6, 5), rtol=1e-5)


def test_a_relu_cell_loads_the_weights_of_a_tanh_cell_and_answers_otherwise(generator):
    model = InversionRecovery()
    tanh_rim = RIM(model, steps=2, features=6)
    relu_rim = RIM(model, steps=2, features=6, form=network_form("ours", {"activation": "relu"}))
    torch.nn.init.normal_(tanh_rim.cell.conv_out.weight, std=0.1)
    relu_rim.load_state_dict(tanh_rim.state_dict())
    assert any(isinstance(m, torch.nn.ReLU) for m in relu_rim.cell.modules())
    signal = torch.rand((1, len(TAU), 6, 5), generator=generator)
    assert not torch.allclose(tanh_rim(signal, torch.tensor(TAU))[-1], relu_rim(signal, torch.tensor(TAU))[-1])


def test_a_resnet_with_batch_statistics_keeps_none_and_maps_each_image_by_its_own(generator):
    running, batch = ResNet(5, 3, (4, 4)), ResNet(5, 3, (4, 4), form=network_form("ours", {"batchnorm": "batch"}))
    assert any("running_mean" in k for k in running.state_dict())
    assert not any("running_mean" in k for k in batch.state_dict())
    images = torch.rand((2, 5, 7, 6), generator=generator)
    batch.eval()
    with torch.no_grad():
        together, alone = batch(images), batch(images[:1])
    assert not torch.allclose(together[:1], alone)  # batch statistics: the neighbour changes the maps ...
    meta = {"task": "t1", "method": "resnet", "n_images": 5, "protocol": "p"}
    mapped = predict(batch, meta, images, TAU, "t1")
    assert torch.allclose(mapped[:1], predict(batch, meta, images[:1], TAU, "t1"))  # ... so predict maps one at a time


def test_a_resnet_in_physical_units_reads_its_output_through_magnitudes():
    model = InversionRecovery()
    net = ResNet(5, 3, (4,), form=network_form("ours", {"units": "physical"}), model=model)
    torch.nn.init.zeros_(net.head.weight)
    with torch.no_grad():
        net.head.bias.copy_(torch.tensor([-0.5, 1.8, -1.2]))
    out = scaling.from_network(net.eval()(torch.rand(1, 5, 3, 3)), model, torch.ones(1, 1, 1, 1))
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([0.5, 1.8, 1200.0]), rtol=1e-5)
    with pytest.raises(ValueError, match="needs its signal model"):
        ResNet(5, 3, (4,), form=network_form("ours", {"units": "physical"}))


def test_the_authors_normalisation_divides_by_the_series_maximum(generator):
    signal = torch.rand((3, 4, 10, 10), generator=generator) * torch.tensor([1.0, 7.0, 300.0]).view(3, 1, 1, 1)
    assert torch.allclose(scaling.intensity_scale(signal, "max").flatten(), signal.flatten(1).amax(dim=1))
    assert (scaling.intensity_scale(signal) < scaling.intensity_scale(signal, "max")).all()


def test_the_authors_loss_is_the_mse_over_every_pixel_in_seconds():
    model = InversionRecovery()
    ones = torch.ones(1, 1, 1, 1)
    target_phys = torch.tensor([0.8, 1.9, 1400.0]).view(1, 3, 1, 1).expand(1, 3, 2, 2).clone()
    target_phys[..., 0, 0] = torch.tensor([0.0, 1.9, 0.0])  # a background pixel
    estimate_phys = target_phys + torch.tensor([0.1, -0.1, 200.0]).view(1, 3, 1, 1)
    to_net = [scaling.to_network(k, model, ones) for k in (estimate_phys, target_phys)]
    mask = torch.tensor([[[False, True], [True, True]]])
    # per pixel (A, B, T1 in s) errors 0.1, 0.1, 0.2 everywhere: mean of squares 0.02
    assert physical_mse([to_net[0]], to_net[1], mask, model=model).item() == pytest.approx(0.02, rel=1e-4)
    assert masked_mse([to_net[0]], to_net[1], mask).item() != pytest.approx(0.02, rel=0.1)


def test_torch_initialisation_leaves_the_rims_last_convolution_as_torch_made_it():
    model = InversionRecovery()
    ours = build_network("rim", model, 5, 2, 4)
    authors = build_network("rim", model, 5, 2, 4, form=network_form("ours", {"init": "torch"}))
    assert ours.cell.conv_out.weight.abs().sum() == 0 and (ours.cell.conv_in.bias == 0).all()
    assert authors.cell.conv_out.weight.abs().sum() > 0 and (authors.cell.conv_in.bias != 0).any()


@pytest.mark.parametrize("method", ["rim", "resnet"])
def test_the_authors_variant_trains_and_its_checkpoint_maps_as_it_was_trained(method, rng, tmp_path, monkeypatch):
    settings = TrainSettings(iterations=4, batch_size=4, rim_steps=2, rim_features=6, resnet_widths=(6, 6),
                             precision="float32", variant="authors")
    checkpoint = train(method, "p", "t1", TAU, toy_trainset(rng, p=6), settings, 0, tmp_path / "m.pt",
                       tmp_path / "m.csv", progress=False)
    assert checkpoint["form"] == vars(VARIANTS["authors"]) and "series' maximum" in checkpoint["normalisation"]
    net, meta = load_model(tmp_path / "m.pt")
    assert net.form == VARIANTS["authors"]
    images = torch.rand(2, len(TAU), 9, 8) * 100
    out = predict(net, meta, images, TAU, "t1")
    assert out.shape == (2, 3, 9, 8) and torch.isfinite(out).all()
    monkeypatch.setattr(checkpoint_module, "CPU_CHUNK_PIXELS", 1)
    assert torch.allclose(predict(net, meta, images, TAU, "t1"), out, rtol=1e-5, atol=1e-5)


def test_a_checkpoint_without_a_form_is_ours(rng, tmp_path):
    settings = TrainSettings(iterations=1, batch_size=2, rim_steps=1, rim_features=4, precision="float32")
    train("rim", "p", "t1", TAU, toy_trainset(rng, p=2), settings, 0, tmp_path / "m.pt", tmp_path / "m.csv",
          progress=False)
    saved = torch.load(tmp_path / "m.pt", weights_only=True)
    for key in ("variant", "form"):
        del saved["settings"][key]
    torch.save(saved, tmp_path / "old.pt")
    assert load_model(tmp_path / "old.pt")[0].form == OURS


def test_the_authors_voxel_noise_is_additive_smoothed_and_spares_the_test_data(rng):
    labels = np.full((400, 16, 16), 3, np.uint8)  # white matter
    labels[:, :, :2] = 0
    settings = TrainsetSettings(voxel_noise="additive")
    kappa, _ = draw_parameters(labels, settings, np.random.default_rng(1), tissue_draw=False, voxel_noise="additive")
    inner = kappa[:, 2, 2:-2, 4:-2]  # T1, away from the background's edge
    # white noise of SD 100 ms smoothed by a 0.4-pixel Gaussian: SD 100 ms times the kernel's norm
    kernel = np.zeros((9, 9))
    kernel[4, 4] = 1.0
    expected = ADDITIVE_VOXEL_SD["T1"] * np.sqrt((ndimage.gaussian_filter(kernel, 0.4) ** 2).sum())
    assert inner.std() == pytest.approx(expected, rel=0.05)
    assert kappa[:, 2, :, 0].max() < 0.01 and (kappa >= 0).all()  # 2 px from tissue: a 5-SD tail of the kernel
    ours, _ = draw_parameters(labels, settings, np.random.default_rng(1), tissue_draw=False)
    assert ours[:, 2, :, 4:].std() / ours[:, 2, :, 4:].mean() == pytest.approx(settings.voxel_cv, rel=0.05)
    with pytest.raises(QmriError, match="voxel_noise must be multiplicative or additive"):
        draw_parameters(labels[:1], settings, rng, voxel_noise="both")
