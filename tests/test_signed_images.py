"""Signed (real-valued) series: detection from DICOM headers and values, the override, phase images refused."""

import numpy as np
import torch

from helpers import TI_NIST, run_qmri
from qmri.bench.protocols import sphere_slice
from qmri.data.scans import Series, load_series, looks_signed
from qmri.estimators.mapping import map_series
from qmri.physics.signal import InversionRecovery


def signed_ir(generator, sigma=0.02):
    """A phantom-like object in fluid (T1 2800 ms) with discs of 50-2000 ms, real-valued IR images."""
    kappa, obj = sphere_slice(np.geomspace(50, 2000, 9), size=48, radius=4, b=1.95)
    yy, xx = np.mgrid[0:48, 0:48]
    body = (yy - 24) ** 2 + (xx - 24) ** 2 < 22**2
    kappa[0, 0] = torch.from_numpy(body.astype(float))
    kappa[0, 2][torch.from_numpy(body & ~obj)] = 2800.0
    clean = InversionRecovery().signed(kappa, torch.from_numpy(TI_NIST))
    return clean + sigma * torch.randn(clean.shape, generator=generator, dtype=torch.float64), kappa, body


def test_signed_dicom_series_is_detected_and_mapped(tmp_path, dicom_writer, generator):
    """Real (phase-sensitive) IR images stored with slope 2 and intercept -4096: >= 99 % of the object mapped."""
    images, kappa, body = signed_ir(generator)
    data = images[0].numpy().transpose(1, 2, 0)[:, :, None, :] * 1500
    assert data.min() < -1000
    dicom_writer(tmp_path, data, TI_NIST, image_type=("ORIGINAL", "PRIMARY", "R", "IR"), slope=2.0, intercept=-4096.0)
    series = load_series(tmp_path, "t1")
    assert series.signed
    maps = map_series(series, "t1", progress=False)
    t1 = maps.kappa[:, :, 0, 2]
    assert np.isfinite(t1[body]).mean() >= 0.99
    truth = kappa[0, 2].numpy()
    # SNR 50 per image with 10 TIs: a few % per voxel
    assert np.median(np.abs(t1[body] / truth[body] - 1)) < 0.05
    assert maps.settings["SignalRepresentation"].startswith("signed")


def test_signed_detection_from_values_and_the_override(generator):
    images, kappa, body = signed_ir(generator)
    data = images[0].numpy().transpose(1, 2, 0)[:, :, None, :]
    assert looks_signed(data) and not looks_signed(np.abs(data))
    # magnitude images with Gaussian noise have faint negative values near the null: still magnitude
    noisy_magnitude = np.abs(data) + 0.05 * np.random.default_rng(0).standard_normal(data.shape)
    assert (noisy_magnitude < 0).any() and not looks_signed(noisy_magnitude)
    series = Series(data, np.eye(4), TI_NIST, "test", None, True)
    as_magnitude = map_series(series, "t1", signal="magnitude", progress=False)
    assert as_magnitude.settings["SignalRepresentation"] == "magnitude (modulus of signed images)"
    assert np.isfinite(as_magnitude.kappa[:, :, 0, 2][body]).mean() >= 0.99


def test_phase_images_are_refused(tmp_path, dicom_writer):
    dicom_writer(tmp_path, np.full((4, 4, 1, 4), 100.0), TI_NIST[:4], image_type=("ORIGINAL", "PRIMARY", "P"))
    result = run_qmri("fit", tmp_path, "--task", "t1", "-o", tmp_path / "out")
    assert result.returncode == 1 and "phase images cannot be mapped" in result.stderr
    assert "Traceback" not in result.stderr
