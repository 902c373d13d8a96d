"""The NIST phantom experiment: sphere finding, identification, per-sphere metrics, real sessions."""

import numpy as np
import pytest

from qmri.estimators.methods import mle_estimator
from qmri.paper.phantom import analysis
from qmri.paper.phantom.acquisitions import DigitalPhantom, digital_scans, real_scans
from qmri.paper.phantom.analysis import restricted_averages
from qmri.paper.phantom.reference import nominal
from qmri.paper.phantom.spheres import disc_offsets, find_spheres, identify, sphere_samples

T1_TAU = [35, 75, 100, 125, 150, 250, 1000, 1500, 2000, 3000]
T2_TAU = list(range(10, 330, 10))


def test_nominal_values_are_the_20C_reference_in_sphere_order():
    names, t1 = nominal("t1")
    assert names[0] == "T1-1" and t1[0] == pytest.approx(1883.97) and t1[-1] == pytest.approx(21.44)
    assert np.all(np.diff(t1) < 0)  # the array is numbered from the longest time down
    names, t2 = nominal("t2")
    assert names[-1] == "T2-14" and t2[-1] == pytest.approx(5.1) and np.all(np.diff(t2) < 0)


@pytest.mark.parametrize("task, tau", [("t1", T1_TAU), ("t2", T2_TAU)])
def test_find_spheres_locates_the_digital_spheres_within_a_pixel(task, tau):
    scans = digital_scans(task, tau, snr=20, scans=2, seed=3, size=160, pixel_mm=1.2)
    centres, radius = find_spheres(scans.images[0], pixel_mm=1.2)
    truth = scans.centres[0]
    distance = np.hypot(*(centres[:, None] - truth[None]).transpose(2, 0, 1))  # (found, true)
    assert np.all(distance.min(axis=1) <= 1.0) and len(set(distance.argmin(axis=1))) == 14
    layout = DigitalPhantom()
    assert layout.sphere_radius_mm / 1.2 <= radius <= (layout.sphere_radius_mm + 2 * layout.wall_mm) / 1.2


def test_identify_inverts_a_shuffle_by_rank(rng):
    _, times = nominal("t1")
    shuffle = rng.permutation(14)
    measured = times[shuffle] * rng.uniform(0.9, 1.1, 14)  # a 10 % error keeps the ranks of a x1.4 ladder
    assert np.array_equal(identify(measured, "t1"), shuffle)


def test_sphere_samples_takes_the_same_offsets_around_each_scans_centre():
    maps = np.arange(2 * 1 * 20 * 20, dtype=float).reshape(2, 1, 20, 20)
    centres = np.array([[[5.2, 6.9]], [[10.0, 3.4]]])  # (C, S, 2), rounded to (5, 7) and (10, 3)
    offsets = disc_offsets(1.0)
    samples = sphere_samples(maps, centres, offsets)
    assert samples.shape == (2, 1, 1, 5)
    assert samples[0, 0, 0].tolist() == sorted(maps[0, 0, 5 + offsets[:, 0], 7 + offsets[:, 1]].tolist())
    assert samples[1, 0, 0, 2] == maps[1, 0, 10, 3]  # the centre offset (0, 0) is in the middle


def test_mle_on_the_digital_phantom_is_unbiased_where_the_times_are_in_range():
    tau = [172, 204, 237, 270, 303, 335, 368, 401, 434, 467, 499, 532, 565, 598, 630, 663, 696, 729, 761, 794,
           827, 860, 893]
    snr = 200
    scans = digital_scans("t1", tau, snr=snr, scans=3, seed=1, size=128, pixel_mm=1.6)
    table, arrays = analysis.repeatability(scans, {"mle": mle_estimator("t1", tau, lambda_b=500, device="cpu")}, "t1", tau)
    averages = restricted_averages(table)
    # in-range spheres (172-893 ms: T1-4 to T1-8) at SNR 200: per-voxel T1 CRLB is a few %, so the
    # mean |RB| over C = 3 scans and the CV stay at that level; a wrong sphere would be off by >= 40 %
    assert set(table.loc[table["in_range"], "sphere"]) == {"T1-4", "T1-5", "T1-6", "T1-7", "T1-8"}
    assert averages.loc["mle", "rb"] < 3 and averages.loc["mle", "cv"] < 5
    assert arrays["mle"].shape == (3, 128, 128) and arrays["centres"].shape == (3, 14, 2)


def test_real_sessions_find_and_identify_every_sphere(shared):
    root = shared / "data/nist-phantom-mrbias"
    for task, series, tau, lambda_b in (("t1", "t1-vir", T1_TAU, 0.0), ("t2", "t2-mse", T2_TAU, 500.0)):
        scans = real_scans([root / "ses-20190914" / series, root / "ses-20200706" / series], task, tau)
        assert scans.images.shape[:2] == (2, len(tau)) and scans.centres.shape == (2, 14, 2)
        # the phantom was set up again between sessions: the spheres moved by several pixels
        assert np.abs(scans.centres[0] - scans.centres[1]).max() > 3
        if task == "t1":
            table, _ = analysis.repeatability(scans, {"mle": mle_estimator(task, tau, lambda_b, "cpu")}, task, tau)
            medians = table[(table["metric"] == "rb") & table["in_range"]]["median"]
            # neighbouring spheres differ by a factor >= 1.4: a mislabelled sphere would be 30 % off or more
            assert medians.abs().max() < 15
