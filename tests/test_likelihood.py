import math

import pytest
import torch

from qmri.likelihood import GaussianLikelihood
from qmri.signal import InversionRecovery, T2Decay

from test_signal import TAU_T1, TAU_T2, random_kappa


def autograd_gradient(lik, kappa, signal, tau, sigma):
    k = kappa.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(lik.nll(k, signal, tau, sigma).sum(), k)
    return grad


@pytest.mark.parametrize("model,tau", [(InversionRecovery(), TAU_T1), (T2Decay(), TAU_T2)])
def test_gradient_matches_autograd(model, tau, generator):
    lik = GaussianLikelihood(model)
    truth = random_kappa(model, generator)
    sigma = torch.tensor([0.01, 0.05, 0.2], dtype=torch.float64)  # one per batch item
    signal = model.forward(truth, tau) + 0.05 * torch.randn((3, len(tau), 37, 31), generator=generator,
                                                            dtype=torch.float64)
    estimate = random_kappa(model, generator)
    analytic = lik.gradient(estimate, signal, tau, sigma)
    assert analytic.shape == estimate.shape
    assert torch.allclose(analytic, autograd_gradient(lik, estimate, signal, tau, sigma), rtol=1e-9, atol=1e-9)


def test_gradient_matches_autograd_near_the_sign_change(generator):
    """The modulus flips sign where tau = T1 ln B; check voxels on both sides of it."""
    model = InversionRecovery()
    lik = GaussianLikelihood(model)
    tau = TAU_T1
    b = 1.9
    t1_zero = tau[1].item() / math.log(b)  # g = 0 exactly at tau[1]
    t1 = t1_zero * (1 + torch.tensor([-1e-6, -1e-9, 1e-9, 1e-6], dtype=torch.float64))
    kappa = torch.stack([torch.full_like(t1, 0.8), torch.full_like(t1, b), t1]).unsqueeze(0).unsqueeze(-1)
    signal = torch.rand((1, len(tau), 4, 1), generator=generator, dtype=torch.float64)
    analytic = lik.gradient(kappa, signal, tau, 0.05)
    assert torch.allclose(analytic, autograd_gradient(lik, kappa, signal, tau, 0.05), rtol=1e-9, atol=1e-9)
    # d|g|/dT1 = sign(g) dg/dT1 changes sign across the zero crossing (dg/dT1 < 0 throughout)
    jac_t1 = model.jacobian(kappa, tau)[0, 2, 1, :, 0]
    assert jac_t1[0] * jac_t1[-1] < 0


def test_nll_is_minimal_and_gradient_zero_at_truth_without_noise(generator):
    model = InversionRecovery()
    lik = GaussianLikelihood(model)
    truth = random_kappa(model, generator, shape=(1, 4, 4))
    signal = model.forward(truth, TAU_T1)
    assert torch.all(lik.nll(truth, signal, TAU_T1, 0.1) == 0)
    assert torch.allclose(lik.gradient(truth, signal, TAU_T1, 0.1), torch.zeros_like(truth))
    assert torch.all(lik.nll(truth * 1.01, signal, TAU_T1, 0.1) > 0)
