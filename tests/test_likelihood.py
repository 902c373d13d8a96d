import math

import numpy as np
import pytest
import torch

from helpers import TAU_T1, TAU_T2, random_kappa
from qmri.errors import QmriError
from qmri.physics.likelihood import Gaussian, Likelihood, Rician, noise_model
from qmri.physics.signal import InversionRecovery, T2Decay

NOISES = [Gaussian(), Gaussian(signed=True), Rician()]


def autograd_gradient(lik, kappa, signal, tau, sigma):
    k = kappa.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(lik.nll(k, signal, tau, sigma).sum(), k)
    return grad


@pytest.mark.parametrize("noise", NOISES, ids=lambda n: n.name)
@pytest.mark.parametrize("model,tau", [(InversionRecovery(), TAU_T1), (T2Decay(), TAU_T2)])
def test_gradient_matches_autograd(model, tau, noise, generator):
    lik = Likelihood(model, noise)
    truth = random_kappa(model, generator)
    sigma = torch.tensor([0.01, 0.05, 0.2], dtype=torch.float64)  # one per batch item
    signal = model.forward(truth, tau) + 0.05 * torch.randn((3, len(tau), 37, 31), generator=generator,
                                                            dtype=torch.float64)
    if not noise.signed:
        signal = signal.abs()
    estimate = random_kappa(model, generator)
    analytic = lik.gradient(estimate, signal, tau, sigma)
    assert analytic.shape == estimate.shape
    assert torch.allclose(analytic, autograd_gradient(lik, estimate, signal, tau, sigma), rtol=1e-9, atol=1e-9)


def test_gradient_matches_autograd_near_the_sign_change(generator):
    """The modulus flips sign where tau = T1 ln B; check voxels on both sides of it."""
    model = InversionRecovery()
    lik = Likelihood(model, Gaussian())
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
    lik = Likelihood(model)
    truth = random_kappa(model, generator, shape=(1, 4, 4))
    signal = model.forward(truth, TAU_T1)
    assert torch.all(lik.nll(truth, signal, TAU_T1, 0.1) == 0)
    assert torch.allclose(lik.gradient(truth, signal, TAU_T1, 0.1), torch.zeros_like(truth))
    assert torch.all(lik.nll(truth * 1.01, signal, TAU_T1, 0.1) > 0)


def rician_samples(amplitude, sigma, n, rng):
    noise = sigma * (rng.standard_normal((n, amplitude.size)) + 1j * rng.standard_normal((n, amplitude.size)))
    return np.abs(amplitude[None] + noise)


def test_rician_nll_is_the_exact_density_up_to_a_constant_in_s(rng):
    """exp(-nll) times S / sigma^2 exp(-S^2 / 2 sigma^2) ... integrates to one: compare with scipy's rice."""
    from scipy import stats

    sigma, f = 0.3, torch.tensor([0.0, 0.2, 0.9, 3.0], dtype=torch.float64)
    s = torch.linspace(0.01, 5.0, 7, dtype=torch.float64)[:, None]
    ours = Rician().nll(f[None], s, sigma)
    exact = -stats.rice.logpdf(s.numpy(), f.numpy()[None] / sigma, scale=sigma)
    # the difference may depend on S only (here: -log(S / sigma^2) + the f-free part of the density)
    diff = exact - ours.numpy()
    assert np.allclose(diff - diff[:, :1], 0.0, atol=1e-9)


@pytest.mark.parametrize("snr", [0.0, 0.5, 1.0, 2.0, 5.0, 50.0])
def test_rician_mean_and_fisher_information_match_monte_carlo(snr, rng):
    """E[S] and the Fisher information (variance of the score) at SNR a = |g| / sigma, 200k draws."""
    sigma, n = 0.2, 200_000
    g = torch.tensor([snr * sigma], dtype=torch.float64)
    s = torch.from_numpy(rician_samples(g.numpy(), sigma, n, rng))  # shape (n, 1)
    noise = Rician()
    mean = noise.expected(g, sigma).item()
    assert mean == pytest.approx(s.mean().item(), abs=4 * s.std().item() / math.sqrt(n))
    score = noise.score(g.expand(n, 1), s, sigma)
    assert score.mean().item() == pytest.approx(0.0, abs=5 * score.std().item() / math.sqrt(n) + 1e-12)
    info = noise.fisher(g, sigma).item()
    # the variance of a variance estimate: relative SD about sqrt(2 / n) (0.3 %) for near-Gaussian scores
    assert info == pytest.approx(score.var().item(), rel=0.03, abs=1e-9)
    if snr >= 50:
        assert info == pytest.approx(1 / sigma**2, rel=1e-3)  # Gaussian limit


def test_fisher_information_of_a_gaussian_is_jtj_over_sigma_squared(generator):
    model = T2Decay()
    kappa = random_kappa(model, generator, shape=(2, 3, 4))
    info = Likelihood(model).fisher_information(kappa, TAU_T2, 0.1)
    jac = model.jacobian(kappa, TAU_T2)
    expected = torch.einsum("bqnhw,bpnhw->bhwqp", jac, jac) / 0.01
    assert torch.allclose(info, expected)


def test_rician_is_refused_for_signed_images():
    with pytest.raises(QmriError, match="magnitude"):
        noise_model("rician", signed=True)
    with pytest.raises(QmriError, match="unknown noise"):
        noise_model("laplace", signed=False)
