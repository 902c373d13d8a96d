"""Fit quality: voxels the model does not fit, the maps' sidecars, T1 the protocol cannot determine."""

import json

import nibabel as nib
import numpy as np
import torch

from helpers import ECHOES, TI_NIST, run_qmri
from qmri.bench.protocols import sphere_slice
from qmri.estimators import mle
from qmri.estimators.fitquality import determinable_range, fit_quality, undetermined_warning
from qmri.physics.likelihood import Gaussian
from qmri.physics.signal import InversionRecovery, T2Decay


def test_fit_quality_flags_voxels_the_model_does_not_fit(generator):
    model, tau = T2Decay(), torch.from_numpy(ECHOES)
    kappa = torch.zeros((1, 2, 12, 12), dtype=torch.float64)
    kappa[0, 0], kappa[0, 1] = 1.0, 80.0
    signal = model.forward(kappa, tau) + 0.01 * torch.randn((1, 8, 12, 12), generator=generator, dtype=torch.float64)
    signal[0, :, :6, :] += 0.3 * torch.exp(-tau / 800.0).view(-1, 1, 1)  # a slow second component (e.g. CSF)
    fitted = mle.fit(model, signal, tau, sigma=0.01).kappa
    r2, rms = fit_quality(model, Gaussian(), fitted, signal, tau, 0.01)
    # chi-square with N - Q = 6 degrees of freedom: the RMS ratio of a good fit is 1 +- 0.3
    assert 0.7 < torch.median(rms[0, 6:]) < 1.3 and torch.median(r2[0, 6:]) > 0.999
    assert torch.all(rms[0, :6] > 3.0)


def test_fit_quality_maps_are_written_with_sidecars(tmp_path, generator):
    kappa, obj = sphere_slice([300.0, 900.0], size=16, radius=5)
    images = InversionRecovery().forward(kappa, torch.from_numpy(TI_NIST)) * 1000 + 1.0
    path = tmp_path / "ir.nii.gz"
    nib.save(nib.Nifti1Image(images[0].numpy().transpose(1, 2, 0)[:, :, None, :].astype(np.float32), np.eye(4)), path)
    result = run_qmri("fit", path, "--task", "t1", "--tau", ",".join(f"{t:g}" for t in TI_NIST), "--sigma", 2.0,
                      "-o", tmp_path / "q")
    assert result.returncode == 0, result.stderr
    for label in ("rsquared", "residualrms"):
        image = nib.load(tmp_path / f"q_desc-{label}_T1map.nii.gz").get_fdata()[:, :, 0]
        assert np.isfinite(image[obj]).all()
        assert json.loads((tmp_path / f"q_desc-{label}_T1map.json").read_text())["Units"] == "1"
    assert "median R^2" in result.stdout


def test_undetermined_t1_warns_with_the_range_the_protocol_determines():
    """Three inversion times under 60 ms cannot see T1 of 1-3 s; they do see T1 of tens of ms."""
    model, noise, tau = InversionRecovery(), Gaussian(), np.array([20.0, 40.0, 60.0, 80.0])
    low, high = determinable_range(model, noise, tau, 0.01, np.array([1.0, 1.9, 1000.0]))
    assert 5 <= low < 40 and 40 < high < 500
    kappa = np.stack([np.ones(50), np.full(50, 1.9), np.linspace(1000, 3000, 50)], axis=-1)
    crlb = mle.crlb_sd(model, torch.from_numpy(kappa.T[None, :, :, None].copy()), tau, 0.01)[0, :, :, 0].numpy().T
    warning = undetermined_warning(model, noise, kappa, crlb, tau, 0.01)
    assert warning is not None and "T1 is poorly determined" in warning and f"{high:.0f} ms" in warning
    good_tau = TI_NIST
    crlb = mle.crlb_sd(model, torch.from_numpy(kappa.T[None, :, :, None].copy()), good_tau, 0.01)[0, :, :, 0].numpy().T
    assert undetermined_warning(model, noise, kappa, crlb, good_tau, 0.01) is None
