import numpy as np
import pytest
import torch

from helpers import small_truth
from qmri.estimators.methods import mle_estimator
from qmri.paper.metrics import box_summary
from qmri.paper.montecarlo import noise_robustness, repeated_estimates, summarise
from qmri.physics.signal import InversionRecovery, T2Decay

TAU_T2 = [10.0, 20.0, 40.0, 80.0, 160.0, 320.0]


def test_box_summary_matches_numpy_and_ignores_nan():
    values = np.array([4.0, 1.0, np.nan, 3.0, 2.0, 10.0])
    s = box_summary(values)
    finite = values[np.isfinite(values)]
    assert s["n"] == 5 and s["min"] == 1.0 and s["max"] == 10.0 and s["median"] == 3.0
    assert s["q1"] == np.percentile(finite, 25) and s["q3"] == np.percentile(finite, 75)
    assert s["mean"] == pytest.approx(4.0)
    assert box_summary(np.array([np.nan]))["n"] == 0


def test_every_method_sees_the_same_noise(rng):
    truth = small_truth(T2Decay(), rng)
    seen = []

    def recorder(signal, mask, sigma):
        seen.append(signal.clone())
        return torch.zeros(signal.shape[0], 2, *signal.shape[2:], dtype=torch.float64)

    out = repeated_estimates(truth, TAU_T2, 0.05, 5, {"a": recorder, "b": recorder}, torch.Generator().manual_seed(0),
                             batch=2)
    assert out["a"].shape == (5, 2, 9, 11)
    assert len(seen) == 6  # 3 batches (2, 2, 1) times 2 methods
    for k in range(0, 6, 2):
        assert torch.equal(seen[k], seen[k + 1])
    noise = torch.cat(seen[::2]) - T2Decay().forward(torch.from_numpy(truth.kappa[None]), torch.tensor(TAU_T2)).float()
    assert noise.std().item() == pytest.approx(0.05, rel=0.1)  # 5 x 6 x 99 draws


def test_metrics_of_a_known_estimator(rng):
    """An estimator with a 2 % bias and 5 % multiplicative scatter: RB ~ 2 %, CV ~ 5 % everywhere."""
    truth = small_truth(InversionRecovery(), rng)
    scatter = np.random.default_rng(5)
    c = 400
    estimates = truth.kappa[None] * 1.02 * (1 + 0.05 * scatter.standard_normal((c, *truth.kappa.shape)))
    rows = summarise({"fake": estimates}, truth, truth.score_mask, snr=10)
    table = {(r["parameter"], r["metric"]): r for r in rows}
    assert len(rows) == 6 and all(r["n"] == truth.score_mask.sum() for r in rows)
    # the SD of a mean of C draws is 5 % / sqrt(C) = 0.25 %; of a sample SD about 5 % / sqrt(2C) = 0.18 %
    for name in ("A", "B", "T1"):
        assert table[name, "rb"]["median"] == pytest.approx(2.0, abs=4 * 0.26)
        assert table[name, "cv"]["median"] == pytest.approx(5.0, abs=4 * 0.18)  # SD / mean: the bias cancels


def test_noise_robustness_mle_precision_follows_the_noise(rng):
    """The MLE's T2 CV falls as SNR rises, roughly in proportion to 1 / SNR."""
    truth = small_truth(T2Decay(), rng)
    table = noise_robustness(truth, TAU_T2, [10, 100], 8, {"mle": mle_estimator("t2", TAU_T2)}, seed=1)
    cv = table[(table["parameter"] == "T2") & (table["metric"] == "cv")].set_index("snr")["median"]
    assert set(table["method"]) == {"mle"} and set(table["snr"]) == {10, 100}
    assert 5 < cv[10] / cv[100] < 20  # ideal 10; C = 8 gives a sample SD good to about 25 %
    rb = table[(table["parameter"] == "T2") & (table["metric"] == "rb")].set_index("snr")["median"]
    assert abs(rb[100]) < 1.0
