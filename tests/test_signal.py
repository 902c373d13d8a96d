import pytest
import torch

from helpers import TAU_T1, TAU_T2, random_kappa
from qmri.errors import QmriError
from qmri.physics.signal import InversionRecovery, T2Decay, model_for_task


def test_inversion_recovery_matches_closed_form():
    kappa = torch.tensor([0.8, 1.9, 1000.0], dtype=torch.float64).view(1, 3, 1, 1)
    expected = (0.8 * (1 - 1.9 * torch.exp(-TAU_T1 / 1000.0))).abs()
    assert torch.allclose(InversionRecovery().forward(kappa, TAU_T1)[0, :, 0, 0], expected)


def test_t2_decay_matches_closed_form():
    kappa = torch.tensor([0.7, 80.0], dtype=torch.float64).view(1, 2, 1)
    expected = 0.7 * torch.exp(-TAU_T2 / 80.0)
    assert torch.allclose(T2Decay().forward(kappa, TAU_T2)[0, :, 0], expected)


@pytest.mark.parametrize("model,tau", [(InversionRecovery(), TAU_T1), (T2Decay(), TAU_T2)])
def test_jacobian_matches_autograd(model, tau, generator):
    kappa = random_kappa(model, generator, shape=(2, 5, 3))
    jac = model.jacobian(kappa, tau)  # (B, Q, N, H, W)
    assert jac.shape == (2, model.n_params, len(tau), 5, 3)
    for n in range(len(tau)):
        k = kappa.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(model.forward(k, tau)[:, n].sum(), k)
        assert torch.allclose(jac[:, :, n], grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("model,tau", [(InversionRecovery(), TAU_T1), (T2Decay(), TAU_T2)])
def test_forward_is_batched_over_any_spatial_shape(model, tau, generator):
    kappa = random_kappa(model, generator)
    out = model.forward(kappa, tau)
    assert out.shape == (3, len(tau), 37, 31)
    single = model.forward(kappa[1:2, :, 4:5, 7:8], tau)
    assert torch.allclose(out[1:2, :, 4:5, 7:8], single)


def test_initial_guess_follows_section_4_4_4(generator):
    signal = torch.rand((2, 6, 37, 31), generator=generator)
    t1 = InversionRecovery().initial_guess(signal)
    assert torch.equal(t1[:, 0], signal.amax(dim=1))
    assert torch.all(t1[:, 1] == 2.0) and torch.all(t1[:, 2] == 1000.0)
    t2 = T2Decay().initial_guess(signal)
    assert torch.equal(t2[:, 0], signal.amax(dim=1)) and torch.all(t2[:, 1] == 100.0)


def test_model_interface_names_and_units():
    t1 = model_for_task("t1")
    assert (t1.n_params, t1.param_names, t1.units[2]) == (3, ("A", "B", "T1"), "ms")
    assert model_for_task("t2").param_names == ("A", "T2")
    with pytest.raises(QmriError, match="unknown task"):
        model_for_task("t3")


@pytest.mark.parametrize("model,tau", [(InversionRecovery(), TAU_T1), (T2Decay(), TAU_T2)])
def test_closed_form_pullback_matches_autograd(model, tau, generator):
    """The closed-form ``J^T w`` with ``w`` the magnitude misfit, including voxels where some images sit on
    the far side of the modulus' sign change."""
    kappa = random_kappa(model, generator, shape=(2, 5, 3))
    signal = model.forward(random_kappa(model, generator, shape=(2, 5, 3)), tau)
    k = kappa.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad((0.5 * (signal - model.forward(k, tau)) ** 2).sum(), k)
    misfit = lambda g: g - signal * torch.sign(g)  # d/dg of 0.5 (|g| - S)^2
    closed = model.pullback(kappa, tau, misfit)
    assert torch.allclose(closed, expected, rtol=1e-10, atol=1e-12)
    generic = super(type(model), model).pullback(kappa, tau, misfit)  # the Jacobian-based default
    assert torch.allclose(closed, generic, rtol=1e-10, atol=1e-12)
