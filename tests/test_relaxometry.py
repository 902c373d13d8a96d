"""The Python API: models per sequence, ``fit`` on numpy or torch data of any spatial rank, named maps."""

import json

import numpy as np
import pytest
import torch

from qmri import InversionRecoveryModel, T2DecayModel
from qmri.errors import QmriError

TI_MS = np.array([100.0, 250, 400, 600, 900, 1300, 1800, 2500, 3200])
TE_MS = np.array([10.0, 20, 40, 60, 90, 130, 180])
SIGMA = 0.01


def inversion_recovery(t1_ms: np.ndarray, b: float = 1.9, a: float = 1.0, ti_ms: np.ndarray = TI_MS) -> np.ndarray:
    return np.abs(a * (1.0 - b * np.exp(-ti_ms / t1_ms[..., None])))


def noisy(signal: np.ndarray, seed: int = 0) -> np.ndarray:
    return signal + np.random.default_rng(seed).normal(0.0, SIGMA, signal.shape)


@pytest.fixture(scope="module")
def t1_truth():
    truth = np.full((9, 7), 800.0)
    truth[2:6, 2:5] = 1500.0
    return truth


@pytest.fixture(scope="module")
def t1_fit(t1_truth):
    return InversionRecoveryModel(TI_MS).fit(noisy(inversion_recovery(t1_truth)), mask=np.ones((9, 7), bool),
                                             sigma=SIGMA)


def test_inversion_recovery_fit_recovers_t1_within_its_cramer_rao_bound(t1_fit, t1_truth):
    z = (t1_fit.T1 - t1_truth) / t1_fit.crlb["T1"]
    assert t1_fit.T1.shape == (9, 7)
    assert np.all(np.abs(z) < 5), np.abs(z).max()
    assert abs(np.mean(z)) < 5 / np.sqrt(z.size)  # unbiased at this SNR


def test_the_fit_names_every_parameter_of_the_model(t1_fit):
    assert set(t1_fit.params) == {"A", "B", "T1"} == set(t1_fit.crlb)
    assert t1_fit.B is t1_fit.params["B"] and t1_fit.A is t1_fit.params["A"]
    with pytest.raises(AttributeError, match="parameters: A, B, T1"):
        _ = t1_fit.T2


def test_fit_quality_is_near_one_where_the_model_fits(t1_fit):
    assert np.all(t1_fit.rsquared > 0.99)
    assert 0.5 < np.median(t1_fit.residual_rms) < 1.5


def test_predict_returns_the_fitted_signal_within_the_noise(t1_fit, t1_truth):
    clean = inversion_recovery(t1_truth)
    assert t1_fit.predict().shape == clean.shape
    assert np.sqrt(np.mean((t1_fit.predict() - clean) ** 2)) < SIGMA
    later = np.array([5000.0, 4000.0])  # any times, in the order asked
    assert np.allclose(t1_fit.predict(later), inversion_recovery(t1_truth, ti_ms=later), atol=5 * SIGMA)


def test_tau_in_any_order_gives_the_same_maps(t1_truth):
    order = np.random.default_rng(1).permutation(len(TI_MS))
    data = noisy(inversion_recovery(t1_truth))
    sorted_fit = InversionRecoveryModel(TI_MS).fit(data, sigma=SIGMA)
    shuffled = InversionRecoveryModel(TI_MS[order]).fit(data[..., order], sigma=SIGMA)
    assert np.allclose(shuffled.T1, sorted_fit.T1, equal_nan=True)
    assert np.allclose(shuffled.predict(), sorted_fit.predict()[..., order], equal_nan=True)


@pytest.mark.parametrize("shape", [(), (5,), (5, 4), (5, 4, 3)])
def test_data_of_any_spatial_rank_give_maps_of_that_shape(shape):
    data = noisy(inversion_recovery(np.full(shape, 900.0)))
    fit = InversionRecoveryModel(TI_MS).fit(data, mask=np.ones(shape, bool), sigma=SIGMA)
    assert fit.T1.shape == shape and fit.crlb["T1"].shape == shape and fit.predict().shape == data.shape
    assert np.all(np.abs(fit.T1 - 900.0) < 5 * fit.crlb["T1"])


def test_torch_tensors_give_the_same_fit_as_numpy(t1_truth):
    data = noisy(inversion_recovery(t1_truth))
    from_numpy = InversionRecoveryModel(TI_MS).fit(data, sigma=SIGMA)
    from_torch = InversionRecoveryModel(torch.from_numpy(TI_MS)).fit(torch.from_numpy(data), sigma=SIGMA)
    assert np.array_equal(from_numpy.T1, from_torch.T1, equal_nan=True)


def test_voxels_outside_the_mask_are_nan(t1_truth):
    mask = np.zeros(t1_truth.shape, bool)
    mask[1:8, 1:6] = True
    fit = InversionRecoveryModel(TI_MS).fit(noisy(inversion_recovery(t1_truth)), mask=mask, sigma=SIGMA)
    assert np.isnan(fit.T1[~mask]).all() and np.isfinite(fit.T1[mask]).all()


def test_t2_decay_fit_recovers_t2_and_estimates_sigma():
    truth = np.full((8, 8), 60.0)
    truth[:, 4:] = 120.0
    data = noisy(0.8 * np.exp(-TE_MS / truth[..., None]))
    fit = T2DecayModel(TE_MS).fit(data, mask=np.ones(truth.shape, bool))
    assert set(fit.params) == {"A", "T2"}
    assert np.all(np.abs(fit.T2 - truth) < 5 * fit.crlb["T2"])
    assert abs(fit.sigma / SIGMA - 1) < 0.3  # 64 voxels x 5 degrees of freedom


def test_a_tr_that_varies_selects_the_tr_aware_model_and_predicts_at_its_own_times():
    tr = np.array([1000.0, 1000, 1000, 1200, 1500, 1900, 2400, 3100, 3800])
    model = InversionRecoveryModel(TI_MS, tr_ms=tr)
    assert "TR" in model.signal_model.equation
    t1, b = np.full((6, 6), 900.0), 1.9
    clean = np.abs(1.0 - b * np.exp(-TI_MS / t1[..., None]) + (b - 1) * np.exp(-tr / t1[..., None]))
    fit = model.fit(noisy(clean), mask=np.ones(t1.shape, bool), sigma=SIGMA)
    assert np.all(np.abs(fit.T1 - 900.0) < 5 * fit.crlb["T1"])
    assert np.sqrt(np.mean((fit.predict() - clean) ** 2)) < SIGMA
    with pytest.raises(QmriError, match="its fitted times only"):
        fit.predict([500.0])


def test_save_writes_bids_maps_in_seconds(t1_fit, tmp_path):
    written = t1_fit.save(tmp_path / "sub-01", uncertainty=True)
    names = sorted(p.name for p in written)
    assert "sub-01_T1map.nii.gz" in names and "sub-01_desc-crlb_T1map.nii.gz" in names
    sidecar = json.loads((tmp_path / "sub-01_T1map.json").read_text())
    assert sidecar["Units"] == "s" and sidecar["InversionTime"][0] == pytest.approx(0.1)


@pytest.mark.parametrize(("data", "mask", "message"), [
    (np.ones((4, 4, 5)), None, "5 images along its last axis for 9 tau values"),
    (np.ones((4, 4, 9)), np.ones((4, 5), bool), r"mask shape \(4, 5\) differs"),
    (np.ones((2, 2, 2, 2, 9)), None, "at most 3 spatial axes"),
])
def test_bad_input_is_one_qmri_error(data, mask, message):
    with pytest.raises(QmriError, match=message):
        InversionRecoveryModel(TI_MS).fit(data, mask=mask)


def test_bad_times_are_refused_when_the_model_is_made():
    with pytest.raises(QmriError, match="positive"):
        InversionRecoveryModel([100.0, -5.0, 300.0])
    with pytest.raises(QmriError, match="TR"):
        InversionRecoveryModel(TI_MS, tr_ms=[1000.0, 2000.0])
