import numpy as np

from qmri.paper.metrics import coefficient_of_variation, relative_bias


def test_relative_bias_and_cv_match_a_slow_reference(rng):
    c, h, w = 5, 7, 3
    truth = rng.uniform(500, 2000, (h, w))
    estimates = truth * (1 + rng.normal(0.02, 0.1, (c, h, w)))
    rb_ref = np.empty((h, w))
    cv_ref = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            values = [estimates[k, i, j] for k in range(c)]
            mean = sum(values) / c
            rb_ref[i, j] = sum((v - truth[i, j]) / truth[i, j] for v in values) / c * 100
            sd = (sum((v - mean) ** 2 for v in values) / (c - 1)) ** 0.5
            cv_ref[i, j] = sd / mean * 100
    assert np.allclose(relative_bias(estimates, truth), rb_ref)
    assert np.allclose(coefficient_of_variation(estimates), cv_ref)


def test_known_values():
    estimates = np.array([[90.0], [110.0]])
    assert np.allclose(relative_bias(estimates, np.array([100.0])), 0.0)
    assert np.allclose(relative_bias(estimates * 1.1, np.array([100.0])), 10.0)
    # sample SD of (90, 110) is 14.142; mean 100
    assert np.allclose(coefficient_of_variation(estimates), 100 * np.sqrt(200) / 100)
