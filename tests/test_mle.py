import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from helpers import IV_T1, T2_PREP
from qmri.errors import QmriError
from qmri.estimators import mle
from qmri.physics.signal import InversionRecovery, T2Decay

TAU_T1 = torch.tensor(IV_T1, dtype=torch.float64)
TAU_T2 = torch.tensor(T2_PREP, dtype=torch.float64)


def smooth_t1_phantom(generator, h=37, w=31, batch=1):
    """Two tissues (GM-like, WM-like) with voxel noise, B a smooth ramp (as B1 inhomogeneity)."""
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    gm = ((xx // 8) % 2 == 0).to(torch.float64)
    noise = lambda: 1 + 0.05 * torch.randn((batch, h, w), generator=generator, dtype=torch.float64)  # noqa: E731
    a = (0.85 * gm + 0.65 * (1 - gm)) * noise()
    t1 = (1400 * gm + 780 * (1 - gm)) * noise()
    b = (1.75 + 0.15 * torch.sin(yy / h * math.pi) * torch.cos(xx / w * math.pi)).expand(batch, h, w)
    return torch.stack([a, b.to(torch.float64), t1], dim=1)


def noisy(model, kappa, tau, sigma, generator):
    clean = model.forward(kappa, tau)
    return clean + sigma * torch.randn(clean.shape, generator=generator, dtype=clean.dtype)


def test_graph_laplacian_matches_a_dense_reference(generator):
    valid = torch.rand((2, 7, 6), generator=generator) > 0.3
    graph = mle.VoxelGraph(valid)
    m = len(graph.index)
    dense = np.zeros((m, m))
    coords = [tuple(c) for c in valid.nonzero().tolist()]
    where = {c: i for i, c in enumerate(coords)}
    for i, (b, y, x) in enumerate(coords):
        for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            j = where.get((b, y + dy, x + dx))
            if j is not None:
                dense[i, i] += 1
                dense[i, j] -= 1
    x = torch.randn(m, generator=generator, dtype=torch.float64)
    assert np.allclose(graph.laplacian(x).numpy(), dense @ x.numpy())
    assert math.isclose(graph.prior_share(x, 3.0).sum().item(), 1.5 * x.numpy() @ dense @ x.numpy())
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(graph.prior_share(xg, 3.0).sum(), xg)
    assert torch.allclose(grad, 3.0 * graph.laplacian(x))
    diag = torch.rand(m, generator=generator, dtype=torch.float64) + 0.1
    rhs = torch.randn(m, generator=generator, dtype=torch.float64)
    solved = mle.prior.conjugate_gradient(diag, 3.0, rhs, graph, max_iter=500, tol=1e-12)
    assert np.allclose(solved.numpy(), np.linalg.solve(np.diag(diag.numpy()) + 3.0 * dense, rhs.numpy()))


def test_slice_reductions_match_per_slice_references(generator):
    valid = torch.rand((4, 7, 6), generator=generator) > 0.3
    valid[2] = False  # a slice without voxels
    graph = mle.VoxelGraph(valid)
    x = torch.randn(len(graph.index), generator=generator, dtype=torch.float64)
    for i in range(4):
        own = x[graph.slice == i]
        if i == 2:
            assert torch.isnan(graph.slice_median(x)[i]) and graph.slice_sum(x)[i] == 0
            continue
        assert graph.slice_median(x)[i] == own.median()
        assert torch.isclose(graph.slice_sum(x)[i], own.sum()) and graph.slice_max(x)[i] == own.max()
    sizes = torch.bincount(graph.slice, minlength=4)
    groups = graph.slice_groups(int(sizes[0] + sizes[1]))
    assert [g.nonzero()[:, 0].tolist() for g in groups] == [[0, 1], [3]]
    assert [g.nonzero()[:, 0].tolist() for g in graph.slice_groups(1)] == [[0], [1], [3]]


def test_each_slice_is_fitted_as_if_alone(generator):
    """A slice's maps do not depend on the slices fitted beside it, in one group or one by one."""
    model = InversionRecovery()
    truth = smooth_t1_phantom(generator, h=20, w=18, batch=3)
    truth[1, 1] += 0.1  # the slices' B differ: each starts from its own median
    sigma = 0.65 / 10
    signal = noisy(model, truth, TAU_T1, sigma, generator)
    fits = {voxels: mle.fit(model, signal, TAU_T1, sigma=sigma, settings=mle.MLESettings(group_voxels=voxels))
            for voxels in (1, 10**6)}
    alone = torch.cat([mle.fit(model, signal[i:i + 1], TAU_T1, sigma=sigma).kappa for i in range(3)])
    crlb = mle.crlb_sd(model, truth, TAU_T1, sigma)
    for result in fits.values():
        assert result.converged and np.all(np.diff(result.objective) <= 0)
        # only rounding differs (the intensity scale is the batch's), so the fits stop within the convergence
        # tolerance of each other (a fit of the three together, sharing their B start and convergence: 0.18)
        assert ((result.kappa - alone).abs() / crlb).amax() < mle.MLESettings().tol


def test_grid_search_finds_grid_points_exactly():
    model = InversionRecovery()
    t1_grid = torch.logspace(math.log10(30), math.log10(6000), 64, dtype=torch.float64)
    kappa = torch.stack([torch.tensor([0.7, 1.2, 0.3], dtype=torch.float64), torch.tensor([1.9, 1.5, 1.0],
                         dtype=torch.float64), t1_grid[[20, 40, 55]]], dim=1)  # B on the grid too
    found = mle.grid_search(model, model.forward(kappa, TAU_T1), TAU_T1)
    assert torch.allclose(found, kappa)


def test_voxelwise_fit_matches_scipy_least_squares(generator):
    """lambda_B = 0: same or lower cost everywhere than the per-voxel scipy reference."""
    model = InversionRecovery()
    truth = smooth_t1_phantom(generator, h=20, w=15)  # 300 voxels
    sigma = 0.65 / 30
    signal = noisy(model, truth, TAU_T1, sigma, generator)
    result = mle.fit(model, signal, TAU_T1, sigma=sigma, settings=mle.MLESettings(lambda_b=0.0))
    flat = signal.permute(0, 2, 3, 1).reshape(-1, len(TAU_T1)).numpy()
    start = mle.grid_search(model, torch.from_numpy(flat), TAU_T1).numpy()
    ref_kappa, ref_cost = mle.reference_fit(model, flat, TAU_T1.numpy(), start)
    ours = result.kappa.permute(0, 2, 3, 1).reshape(-1, 3)
    our_cost = 0.5 * ((torch.from_numpy(flat) - model.forward(ours, TAU_T1)) ** 2).sum(dim=1).numpy()
    # The cost's noise SD per voxel is sqrt((N - Q) / 2) sigma^2 = 3.7 sigma^2. Where a TI sits at
    # the signal null, |g| has a kink that splits the minimum into two basins; either solver may
    # end in either, with costs within 0.1 sigma^2. Everywhere else the costs are equal.
    assert np.all(our_cost <= ref_cost + 0.1 * sigma**2)
    same = np.abs(our_cost - ref_cost) < 1e-4 * sigma**2
    assert same.mean() > 0.9
    assert (our_cost < ref_cost - 1e-4 * sigma**2).sum() >= (our_cost > ref_cost + 1e-4 * sigma**2).sum()
    # at the same minimum the parameters agree far inside the noise (CRLB)
    crlb = mle.crlb_sd(model, torch.from_numpy(ref_kappa).T[None, :, :, None], TAU_T1, sigma)[0, :, :, 0].T
    assert np.all(np.abs(ours.numpy() - ref_kappa)[same] < 0.05 * crlb.numpy()[same])


def test_objective_never_increases_and_converges(generator):
    model = InversionRecovery()
    truth = smooth_t1_phantom(generator)
    signal = noisy(model, truth, TAU_T1, 0.65 / 10, generator)
    result = mle.fit(model, signal, TAU_T1, sigma=0.65 / 10, settings=mle.MLESettings(lambda_b=500.0))
    assert np.all(np.diff(result.objective) <= 0)
    assert result.converged


def test_large_lambda_gives_a_nearly_constant_b(generator):
    model = InversionRecovery()
    truth = smooth_t1_phantom(generator)
    signal = noisy(model, truth, TAU_T1, 0.65 / 30, generator)
    b = mle.fit(model, signal, TAU_T1, sigma=0.65 / 30, settings=mle.MLESettings(lambda_b=1e7)).kappa[:, 1]
    free = mle.fit(model, signal, TAU_T1, sigma=0.65 / 30, settings=mle.MLESettings(lambda_b=0.0)).kappa[:, 1]
    assert b.std() < 1e-3 < 0.01 < free.std()


def test_regularised_fit_beats_voxelwise_fit_plus_smoothing(generator):
    """The coupled solve reaches a lower F than smoothing the B map of a lambda_B = 0 fit."""
    model = InversionRecovery()
    truth = smooth_t1_phantom(generator)
    sigma = 0.65 / 10
    signal = noisy(model, truth, TAU_T1, sigma, generator)
    valid = torch.ones(signal[:, 0].shape, dtype=torch.bool)
    graph = mle.VoxelGraph(valid)
    data = signal.permute(0, 2, 3, 1).reshape(-1, len(TAU_T1))
    scale = data.amax(dim=1).quantile(0.99).item()
    problem = mle.solver._Problem(model, data / scale, TAU_T1, sigma / scale, graph, 500.0)

    def objective(kappa_maps):
        flat = kappa_maps.permute(0, 2, 3, 1).reshape(-1, 3).clone()
        flat[:, 0] /= scale
        return problem.local(flat).sum().item()

    ours = mle.fit(model, signal, TAU_T1, sigma=sigma, settings=mle.MLESettings(lambda_b=500.0)).kappa
    voxelwise = mle.fit(model, signal, TAU_T1, sigma=sigma, settings=mle.MLESettings(lambda_b=0.0)).kappa
    for width in (1.0, 2.0, 4.0):
        smoothed = voxelwise.clone()
        smoothed[0, 1] = torch.from_numpy(ndimage.gaussian_filter(voxelwise[0, 1].numpy(), width))
        assert objective(ours) < objective(smoothed)
    assert objective(ours) < objective(voxelwise)


def test_converges_on_nearly_noise_free_data(generator):
    model = InversionRecovery()
    truth = smooth_t1_phantom(generator)
    sigma = 0.65 / 20000
    signal = noisy(model, truth, TAU_T1, sigma, generator)
    result = mle.fit(model, signal, TAU_T1, sigma=sigma)
    rel = ((result.kappa[:, 2] - truth[:, 2]) / truth[:, 2]).abs()
    assert rel.median() < 0.005


def test_any_intensity_scale_gives_the_same_maps(generator):
    model = InversionRecovery()
    truth = smooth_t1_phantom(generator, h=12, w=10)
    signal = noisy(model, truth, TAU_T1, 0.65 / 30, generator)
    base = mle.fit(model, signal, TAU_T1, sigma=0.65 / 30).kappa
    scaled = mle.fit(model, signal * 3000.0, TAU_T1, sigma=0.65 / 30 * 3000.0).kappa
    assert torch.allclose(scaled[:, 1:], base[:, 1:], rtol=1e-6)
    assert torch.allclose(scaled[:, 0], base[:, 0] * 3000.0, rtol=1e-6)


def test_sigma_is_estimated_from_residuals(generator):
    model = InversionRecovery()
    truth = smooth_t1_phantom(generator, h=40, w=40)
    sigma = 0.65 / 20
    signal = noisy(model, truth, TAU_T1, sigma, generator)
    estimate = mle.fit(model, signal, TAU_T1).sigma
    # median of 1600 chi2_28 values: relative SE about sqrt(pi/2) * sqrt(2/28) / sqrt(1600) / 2
    assert abs(estimate / sigma - 1) < 4 * math.sqrt(math.pi / 2) * math.sqrt(2 / 28) / 40 / 2 + 0.01


def test_masked_and_nonfinite_voxels_come_back_nan(generator):
    model = InversionRecovery()
    truth = smooth_t1_phantom(generator, h=10, w=9)
    signal = noisy(model, truth, TAU_T1, 0.02, generator)
    signal[0, 3, 2, 2] = float("nan")
    mask = torch.ones((1, 10, 9), dtype=torch.bool)
    mask[0, 0, :] = False
    kappa = mle.fit(model, signal, TAU_T1, sigma=0.02, mask=mask).kappa
    assert torch.isnan(kappa[0, :, 2, 2]).all() and torch.isnan(kappa[0, :, 0, :]).all()
    assert torch.isfinite(kappa[0, :, 1:, :]).sum() == 3 * (9 * 9 - 1)


def test_t2_fit_recovers_the_truth(generator):
    model = T2Decay()
    a = 0.5 + torch.rand((1, 15, 12), generator=generator, dtype=torch.float64)
    t2 = 40 + 200 * torch.rand((1, 15, 12), generator=generator, dtype=torch.float64)
    truth = torch.stack([a, t2], dim=1)
    signal = noisy(model, truth, TAU_T2, 1e-5, generator)
    kappa = mle.fit(model, signal, TAU_T2, sigma=1e-5).kappa
    assert torch.allclose(kappa, truth, rtol=1e-3)


def test_crlb_matches_a_slow_reference_and_monte_carlo(generator):
    model = T2Decay()
    truth = torch.tensor([0.8, 90.0], dtype=torch.float64).view(1, 2, 1, 1)
    sigma = 0.02
    sd = mle.crlb_sd(model, truth, TAU_T2, sigma)[0, :, 0, 0]
    jac = model.jacobian(truth, TAU_T2)[0, :, :, 0, 0].numpy()  # (Q, N)
    ref = np.sqrt(np.diag(np.linalg.inv(jac @ jac.T / sigma**2)))
    assert np.allclose(sd.numpy(), ref)
    reps = 400
    signal = noisy(model, truth.expand(reps, 2, 1, 1).contiguous(), TAU_T2, sigma, generator)
    fits = mle.fit(model, signal.permute(1, 0, 2, 3).reshape(1, 6, reps, 1), TAU_T2, sigma=sigma).kappa
    mc_sd = fits[0, :, :, 0].std(dim=1).numpy()
    # at SNR 40 the MLE is near-efficient: its SD matches the bound within the MC error (~3.5 %)
    assert np.allclose(mc_sd, ref, rtol=0.15)


def test_bad_arguments_are_one_line_errors(generator):
    model = InversionRecovery()
    signal = torch.rand((1, 5, 4, 4), generator=generator)
    with pytest.raises(QmriError, match="5 images"):
        mle.fit(model, signal, TAU_T1[:4])
    with pytest.raises(QmriError, match="sigma must be positive"):
        mle.fit(model, signal, TAU_T1[:5], sigma=-1.0)
    with pytest.raises(QmriError, match="no voxel with signal"):
        mle.fit(model, torch.zeros((1, 5, 4, 4)), TAU_T1[:5])


def test_estimated_sigma_gives_the_maps_of_the_true_sigma(generator):
    """What most users run (no sigma) must not be worse than the true sigma: SNR 10, a smooth B.

    Four noise realisations of one truth, fitted as four slices. The estimate of sigma is within a
    few % of the truth, which moves the optimum by a small fraction of the CRLB; a start from the
    voxel-wise fit (its noisy B) did not reach that optimum in the iteration budget.
    """
    model = InversionRecovery()
    truth = smooth_t1_phantom(generator).repeat(4, 1, 1, 1)
    sigma = 0.65 / 10
    signal = noisy(model, truth, TAU_T1, sigma, generator)
    given = mle.fit(model, signal, TAU_T1, sigma=sigma).kappa[:, 2]
    estimated = mle.fit(model, signal, TAU_T1)
    assert estimated.sigma == pytest.approx(sigma, rel=0.05)
    crlb = mle.crlb_sd(model, truth, TAU_T1, sigma)[:, 2] / truth[:, 2]
    assert ((estimated.kappa[:, 2] - given).abs() / given).median() < 0.1 * crlb.median()

    def bias_and_cv(t1):
        return ((t1.mean(dim=0) / truth[0, 2] - 1).abs().median(), (t1.std(dim=0) / t1.mean(dim=0)).median())

    (rb, cv), (rb_given, cv_given) = bias_and_cv(estimated.kappa[:, 2]), bias_and_cv(given)
    assert rb <= 1.2 * rb_given and cv <= 1.2 * cv_given
