"""Magnitude noise: sigma from a Rayleigh background, the automatic mask at low SNR, the Rician fit."""

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from helpers import ECHOES, TI_NIST, run_qmri
from qmri.bench.protocols import rician, sphere_slice
from qmri.data.masks import auto_mask, background_sigma, noise_floor
from qmri.estimators import mle
from qmri.physics.likelihood import Gaussian, Rician
from qmri.physics.signal import InversionRecovery, T2Decay


def rician_t2(generator, snr=8.0, size=40):
    """Uniform WM-like T2 tissue (A 0.65, T2 80 ms) at SNR 8 with a Rician background around it."""
    kappa = torch.zeros((1, 2, size, size), dtype=torch.float64)
    kappa[0, 1] = 80.0
    inner = torch.zeros((size, size), dtype=torch.bool)
    inner[8:-8, 8:-8] = True
    kappa[0, 0][inner] = 0.65
    clean = T2Decay().forward(kappa, torch.from_numpy(ECHOES))
    sigma = 0.65 / snr
    return rician(clean, sigma, generator), inner, sigma


def test_background_sigma_of_a_rayleigh_background(generator):
    images, inner, sigma = rician_t2(generator)
    data = images[0].numpy().transpose(1, 2, 0)[:, :, None, :]
    found = background_sigma(data, inner.numpy()[:, :, None])
    # 6656 background values: the median's relative SE is about 1.3 %
    assert found == pytest.approx(sigma, rel=0.05)
    assert background_sigma(np.zeros_like(data), inner.numpy()[:, :, None]) is None  # zero-filled


def test_auto_mask_keeps_noise_only_air_out_at_low_snr(generator):
    """At SNR 8 the noise maxima of air pass 5 % of the bright signal; the Rayleigh noise floor does not."""
    images, inner, sigma = rician_t2(generator)
    data = images[0].numpy().transpose(1, 2, 0)[:, :, None, :]
    floor = noise_floor(data)
    # max of 8 Rayleigh(sigma) under 4.24 sigma with probability 0.999; sigma from 20 % of 1600 voxels
    assert floor == pytest.approx(4.24 * sigma, rel=0.08)
    mask = auto_mask(data)[:, :, 0]
    assert mask[inner.numpy()].all() and mask[~inner.numpy()].mean() < 0.01
    assert noise_floor(np.abs(data) + 10.0) == 0.0  # no Rayleigh-like dark voxels: the 5 % rule alone
    flat_but_not_rayleigh = np.random.default_rng(0).uniform(100, 1000, (20, 18, 2, 31))
    assert noise_floor(flat_but_not_rayleigh) == 0.0
    # tissue filling the field of view: its darkest voxels relax over the series, they are not noise
    kappa, _ = sphere_slice(np.geomspace(100, 2500, 9))
    kappa[0, 0] = 1.0
    tissue = InversionRecovery().forward(kappa, torch.from_numpy(TI_NIST)) + 0.02 * torch.randn(
        (1, len(TI_NIST), 64, 64), generator=generator, dtype=torch.float64)
    assert noise_floor(tissue[0].abs().numpy().transpose(1, 2, 0)[:, :, None, :]) == 0.0


def test_rician_fit_removes_the_noise_floor_bias(generator):
    """SNR 8, echoes to 320 ms: the Gaussian fit reads the noise floor as slow decay; the Rician does not.

    Medians over 576 voxels of one realisation: their SD is about 1.25 x 20 % / 24 = 1 %.
    """
    images, inner, sigma = rician_t2(generator)
    mask = inner[None]
    estimates = {}
    for noise in (Gaussian(), Rician()):
        t2 = mle.fit(T2Decay(), images, ECHOES, sigma=sigma, mask=mask, noise=noise).kappa[0, 1][inner]
        estimates[noise.name] = float(torch.median(t2 / 80.0 - 1))
    assert estimates["gaussian"] > 0.15
    assert abs(estimates["rician"]) < 0.05
    assert abs(estimates["rician"]) < 0.5 * abs(estimates["gaussian"])


def test_cli_rician_estimates_sigma_from_the_background(tmp_path, generator):
    """No mask given: the automatic mask leaves the air, where sigma is measured."""
    images, inner, sigma = rician_t2(generator)
    data = images[0].numpy().transpose(1, 2, 0)[:, :, None, :] * 1000
    path = tmp_path / "t2.nii.gz"
    nib.save(nib.Nifti1Image(data.astype(np.float32), np.eye(4)), path)
    result = run_qmri("fit", path, "--task", "t2", "--tau", ",".join(f"{t:g}" for t in ECHOES), "--noise", "rician",
                      "--uncertainty", "-o", tmp_path / "out/t2")
    assert result.returncode == 0, result.stderr
    meta = json.loads((tmp_path / "out/t2_T2map.json").read_text())
    assert meta["NoiseSigma"] == pytest.approx(sigma * 1000, rel=0.05)
    assert "background" in meta["NoiseSigmaMethod"] and "rician" in meta["EstimationMethod"]
    crlb = nib.load(tmp_path / "out/t2_desc-crlb_T2map.nii.gz").get_fdata()[:, :, 0][inner.numpy()]
    assert np.all(np.isfinite(crlb)) and np.median(crlb) > 0
