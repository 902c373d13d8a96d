"""The qmri command line on files the tests make, and on the real phantom DICOMs in shared/."""

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from helpers import IV_T1, T2_PREP, run_qmri
from qmri.physics.signal import InversionRecovery, T2Decay


def synthetic_t1(rng, shape=(16, 14, 2), scale=1000.0, sigma=0.01):
    """A T1 series (x, y, z, N) in scanner-like units: two tissues, one smooth B."""
    x, y, z = shape
    gm = np.zeros(shape, bool)
    gm[: x // 2] = True
    a = np.where(gm, 0.85, 0.65)
    t1 = np.where(gm, 1400.0, 780.0) * (1 + 0.03 * rng.standard_normal(shape))
    b = np.full(shape, 1.9)
    kappa = torch.from_numpy(np.stack([a, b, t1])[None].reshape(1, 3, x, y * z))
    clean = InversionRecovery().forward(kappa, torch.tensor(IV_T1, dtype=torch.float64))[0].numpy()
    clean = clean.reshape(len(IV_T1), x, y, z).transpose(1, 2, 3, 0)
    return scale * (clean + sigma * rng.standard_normal(clean.shape)), t1


def write_series(folder, data, sidecar=None, name="series"):
    path = folder / f"{name}.nii.gz"
    nib.save(nib.Nifti1Image(data.astype(np.float32), np.diag([0.8, 0.8, 3.0, 1.0])), path)
    if sidecar is not None:
        (folder / f"{name}.json").write_text(json.dumps(sidecar))
    return path


def assert_one_line_error(result, pattern):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and pattern in lines[0], result.stderr


def test_fit_nifti_with_bids_sidecar_writes_maps_in_seconds(tmp_path, rng):
    data, t1 = synthetic_t1(rng)
    series = write_series(tmp_path, data, {"InversionTime": [t / 1000 for t in IV_T1]})
    result = run_qmri("fit", series, "--task", "t1", "-o", tmp_path / "out/sub-01", "--sigma", 10.0,
                      "--uncertainty")
    assert result.returncode == 0, result.stderr
    t1_map = nib.load(tmp_path / "out/sub-01_T1map.nii.gz")
    assert t1_map.shape == data.shape[:3] and np.allclose(t1_map.affine, np.diag([0.8, 0.8, 3.0, 1.0]))
    # SNR 65-85 on 31 TIs: per-voxel CRLB about 5 %; the median over 224 voxels is far tighter
    assert np.median(np.abs(t1_map.get_fdata() * 1000 / t1 - 1)) < 0.05
    meta = json.loads((tmp_path / "out/sub-01_T1map.json").read_text())
    assert meta["Units"] == "s" and meta["NoiseSigma"] == 10.0 and meta["InversionTime"][0] == 0.139
    assert meta["SoftwareName"] == "qmri-rim" and meta["LambdaB"] == 500.0
    for suffix in ("M0map", "Bmap", "desc-crlb_T1map", "desc-crlb_M0map", "desc-crlb_Bmap"):
        assert (tmp_path / f"out/sub-01_{suffix}.nii.gz").exists()
        assert (tmp_path / f"out/sub-01_{suffix}.json").exists()
    crlb = nib.load(tmp_path / "out/sub-01_desc-crlb_T1map.nii.gz").get_fdata()
    assert np.all((crlb > 0) & (crlb < 0.5))
    m0 = nib.load(tmp_path / "out/sub-01_M0map.nii.gz").get_fdata()
    assert np.median(m0) == pytest.approx(750.0, rel=0.05)  # A rescaled back to scanner units


def test_intensity_scale_and_estimated_sigma(tmp_path, rng):
    data, _ = synthetic_t1(rng, scale=1.0)
    tau = ",".join(str(t) for t in IV_T1)
    maps = {}
    for scale in (1.0, 5000.0):
        path = write_series(tmp_path, data * scale, name=f"s{scale:g}")
        result = run_qmri("fit", path, "--task", "t1", "--tau", tau, "-o", tmp_path / f"s{scale:g}")
        assert result.returncode == 0, result.stderr
        assert "estimated from the residuals" in result.stdout
        maps[scale] = nib.load(tmp_path / f"s{scale:g}_T1map.nii.gz").get_fdata()
        sigma = json.loads((tmp_path / f"s{scale:g}_T1map.json").read_text())["NoiseSigma"]
        # true sigma 0.01 * scale; 448 voxels x 28 dof: the median estimate is within a few %
        assert sigma == pytest.approx(0.01 * scale, rel=0.1)
    # each fit stops within 1 % of the CRLB SD (about 4 % of T1 here) of its optimum
    assert np.allclose(maps[1.0], maps[5000.0], rtol=2e-3, equal_nan=True)


def test_t2_fit_from_echo_time_sidecar(tmp_path, rng):
    shape = (9, 8, 1)
    t2 = rng.uniform(40, 200, shape)
    kappa = torch.from_numpy(np.stack([np.full(shape, 0.9), t2])[None].reshape(1, 2, 9, 8))
    clean = T2Decay().forward(kappa, torch.tensor(T2_PREP, dtype=torch.float64))[0].numpy()
    data = clean.transpose(1, 2, 0)[:, :, None, :] * 100 + 0.01 * rng.standard_normal((9, 8, 1, 6))
    path = write_series(tmp_path, data, {"EchoTime": [t / 1000 for t in T2_PREP]})
    result = run_qmri("fit", path, "--task", "t2", "-o", tmp_path / "t2")
    assert result.returncode == 0, result.stderr
    fitted = nib.load(tmp_path / "t2_T2map.nii.gz").get_fdata() * 1000
    assert np.allclose(fitted, t2, rtol=0.01)
    assert not (tmp_path / "t2_Bmap.nii.gz").exists()


def test_nonfinite_voxels_become_nan_not_a_crash(tmp_path, rng):
    data, _ = synthetic_t1(rng)
    data[3, 4, 0, 7] = np.nan
    path = write_series(tmp_path, data, {"InversionTime": [t / 1000 for t in IV_T1]})
    result = run_qmri("fit", path, "--task", "t1", "--sigma", 10, "-o", tmp_path / "nan")
    assert result.returncode == 0, result.stderr
    t1 = nib.load(tmp_path / "nan_T1map.nii.gz").get_fdata()
    assert np.isnan(t1[3, 4, 0]) and np.isfinite(t1).sum() == t1.size - 1


@pytest.mark.parametrize("case,pattern", [
    ("tau_count", "30 tau values for 31 volumes"),
    ("no_tau", "no tau for"),
    ("missing", "missing input"),
    ("corrupt", "cannot read NIfTI"),
    ("bad_sidecar", "corrupt JSON"),
    ("rim", "needs --weights"),
    ("unknown_method", "invalid choice: 'magic'"),
    ("unknown_task", "invalid choice: 't3'"),
    ("bad_tau", "--tau wants numbers"),
])
def test_bad_input_is_a_one_line_error_with_no_outputs(tmp_path, rng, case, pattern):
    data, _ = synthetic_t1(rng, shape=(4, 4, 1))
    series = write_series(tmp_path, data)
    args = ["fit", series, "--task", "t1", "-o", tmp_path / "out/x"]
    tau = ",".join(str(t) for t in IV_T1)
    if case == "tau_count":
        args += ["--tau", ",".join(str(t) for t in IV_T1[:30])]
    elif case == "missing":
        args[1] = tmp_path / "nothing.nii.gz"
    elif case == "corrupt":
        (tmp_path / "bad.nii.gz").write_bytes(b"\x1f\x8b\x08 definitely not a nifti")
        args[1] = tmp_path / "bad.nii.gz"
        args += ["--tau", tau]
    elif case == "bad_sidecar":
        (tmp_path / "series.json").write_text("{InversionTime: [")
    elif case == "rim":
        args += ["--tau", tau, "--method", "rim"]
    elif case == "unknown_method":
        args += ["--method", "magic"]
    elif case == "unknown_task":
        args[3] = "t3"
    elif case == "bad_tau":
        args += ["--tau", "139,abc"]
    result = run_qmri(*args)
    assert_one_line_error(result, pattern)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_synthetic_multislice_dicom_folder(tmp_path, rng, dicom_writer):
    data, t1 = synthetic_t1(rng, shape=(12, 10, 3), scale=2000.0)
    dicom_writer(tmp_path, data, IV_T1, slope=0.5, rng=rng)
    result = run_qmri("fit", tmp_path, "--task", "t1", "--sigma", 20, "-o", tmp_path / "out/dcm")
    assert result.returncode == 0, result.stderr
    image = nib.load(tmp_path / "out/dcm_T1map.nii.gz")
    assert image.shape == (12, 10, 3)
    assert np.median(np.abs(image.get_fdata() * 1000 / t1 - 1)) < 0.05
    # LPS -> RAS: x and y flip sign; columns 0.9 mm? no: PixelSpacing is (row, column) = (0.8, 0.9)
    assert np.allclose(image.affine[:3, :3], np.diag([-0.9, -0.8, 3.0]))
    assert np.allclose(image.affine[:3, 3], [50.0, 40.0, 10.0])


@pytest.mark.slow
def test_real_phantom_dicom_sessions(shared, tmp_path):
    folder = shared / "data/nist-phantom-mrbias/ses-20190914/t1-vir"
    result = run_qmri("fit", folder, "--task", "t1", "-o", tmp_path / "ph")
    assert result.returncode == 0, result.stderr
    meta = json.loads((tmp_path / "ph_T1map.json").read_text())
    assert meta["InversionTime"] == [0.035, 0.075, 0.1, 0.125, 0.15, 0.25, 1.0, 1.5, 2.0, 3.0]
    t1 = nib.load(tmp_path / "ph_T1map.nii.gz").get_fdata()[:, :, 0] * 1000
    # the phantom's spheres span about 20 to 1900 ms and its water fill is near 3 s
    values = t1[np.isfinite(t1)]
    assert (values < 300).sum() > 1000 and (values > 2500).sum() > 10000
    result = run_qmri("fit", folder.parent / "t2-mse", "--task", "t2", "-o", tmp_path / "ph")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "ph_T2map.json").read_text())["EchoTime"][:2] == [0.01, 0.02]
