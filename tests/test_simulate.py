import numpy as np
import torch
from scipy import stats

from qmri.physics.signal import InversionRecovery
from qmri.simulation import tissues as T
from qmri.simulation.brains import BrainModel
from qmri.simulation.simulate import (
    TrainsetSettings,
    draw_parameters,
    draw_patch_centres,
    sample_patch_labels,
    simulate_trainset,
    synthesise,
    task_kappa,
)


def toy_model() -> BrainModel:
    """A 30x28x6 head: fat everywhere, a WM block (100 voxels/slice) and a GM block (300)."""
    labels = np.full((30, 28, 6), T.FAT, np.uint8)
    labels[2:12, 2:12, :] = T.WM
    labels[14:29, 2:22, :] = T.GM
    return BrainModel("toy", labels, np.diag([1.0, 1.0, 1.0, 1.0]), train_slices=(1, 2, 4), test_slices=(3,))


def test_patch_centres_are_uniform_inside_the_training_brain_mask(rng):
    model = toy_model()
    centres = draw_patch_centres(model, 8000, rng)
    voxel = np.round(centres).astype(int)
    assert np.all(np.isin(model.labels[tuple(voxel.T)], T.BRAIN_LABELS))
    assert set(np.unique(voxel[:, 2])) <= set(model.train_slices)
    in_wm = (model.labels[tuple(voxel.T)] == T.WM).mean()
    # uniform over voxels: P(WM) = 100 / 400; binomial SD sqrt(p(1-p)/n) ~ 0.0048
    assert abs(in_wm - 0.25) < 4 * np.sqrt(0.25 * 0.75 / 8000)


def test_patches_without_augmentation_are_crops_of_the_anatomy():
    model = toy_model()
    settings = TrainsetSettings(n_patches=50, patch_size=8, max_rotation_deg=0, scale_range=(1, 1), flip=False)
    patches = sample_patch_labels(model, settings, np.random.default_rng(5))
    centres = draw_patch_centres(model, 50, np.random.default_rng(5))  # the same draws
    assert patches.shape == (50, 8, 8) and patches.dtype == np.uint8
    padded = np.pad(model.labels, ((8, 8), (8, 8), (0, 0)))  # map_coordinates fills 0 outside
    offsets = np.arange(8) - 3.5
    for patch, (cx, cy, cz) in zip(patches, centres):
        xs = np.round(cx + offsets).astype(int) + 8
        ys = np.round(cy + offsets).astype(int) + 8
        expected = padded[np.ix_(xs, ys, [int(round(cz))])][:, :, 0].T  # rows run along y
        assert np.array_equal(patch, expected)


def test_table1_sampling_statistics(rng):
    p, cv = 20000, 0.05
    labels = np.broadcast_to(np.arange(12, dtype=np.uint8), (p, 1, 12)).copy()
    kappa, _ = draw_parameters(labels, TrainsetSettings(voxel_cv=cv), rng)
    table = T.table_arrays()
    z_var = stats.truncnorm.var(-3, 3)
    for channel, name in ((0, "A"), (2, "T1"), (3, "T2")):
        for label in T.LABEL_TO_TISSUE:
            mu, sd = table[f"{name}_mean"][label], table[f"{name}_sd"][label]
            lower = max(mu - 3 * sd, mu / 20)
            x = stats.truncnorm((lower - mu) / sd, 3, loc=mu, scale=sd)
            # value = X (1 + cv Z), X and Z independent
            mean = x.mean()
            var = (x.var() + mean**2) * (1 + cv**2 * z_var) - mean**2
            values = kappa[:, channel, 0, label]
            se_mean = np.sqrt(var / p)
            se_sd = np.sqrt(var / (2 * p)) * 1.5  # slack for the non-normal product
            assert abs(values.mean() - mean) < 4 * se_mean, (name, label)
            assert abs(values.std() - np.sqrt(var)) < 4 * se_sd, (name, label)
            assert values.min() > 0
    assert np.all(kappa[:, [0, 2, 3], 0, 0] == 0)  # background


def test_b_is_two_minus_half_normal_per_patch(rng):
    labels = np.full((4000, 5, 5), T.GM, np.uint8)
    kappa, _ = draw_parameters(labels, TrainsetSettings(), rng)
    b = kappa[:, 1]
    assert np.all(b == b[:, :1, :1])  # one value per patch, no voxel noise
    result = stats.kstest(2.0 - b[:, 0, 0], stats.halfnorm(scale=0.2).cdf)
    assert result.pvalue > 1e-3


def test_noise_sd_is_log_uniform(rng):
    labels = np.full((4000, 2, 2), T.WM, np.uint8)
    _, sigma = draw_parameters(labels, TrainsetSettings(), rng)
    assert sigma.min() >= 0.0065 * (1 - 1e-6) and sigma.max() <= 0.255 * (1 + 1e-6)
    lo, hi = np.log(0.0065), np.log(0.255)
    assert stats.kstest(np.log(sigma), stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3


def test_trainset_is_deterministic_per_seed():
    model = toy_model()
    settings = TrainsetSettings(n_patches=10, patch_size=8)
    a, b, c = (simulate_trainset(model, settings, seed) for seed in (7, 7, 8))
    for key in a:
        assert np.array_equal(a[key], b[key])
    assert not np.array_equal(a["kappa"], c["kappa"])
    assert a["kappa"].shape == (10, 4, 8, 8) and a["kappa"].dtype == np.float32


def test_synthesised_noise_has_the_patch_sd(generator):
    model = InversionRecovery()
    kappa_all = torch.zeros((2, 4, 64, 64))
    kappa_all[:, 0], kappa_all[:, 1], kappa_all[:, 2] = 0.8, 1.9, 900.0
    sigma = torch.tensor([0.01, 0.2])
    tau = torch.tensor([100.0, 500.0, 900.0])
    kappa = task_kappa(kappa_all, model)
    images = synthesise(kappa, sigma, tau, model, generator)
    residual = images - model.forward(kappa, tau)
    n = residual[0].numel()
    for i in range(2):
        sd = residual[i].std().item()
        assert abs(sd / sigma[i].item() - 1) < 4 / np.sqrt(2 * n)


def test_background_gives_zero_signal_not_nan():
    model = InversionRecovery()
    images = synthesise(torch.zeros((1, 3, 4, 4)), 0.0, torch.tensor([100.0, 900.0]), model)
    assert torch.all(images == 0)
