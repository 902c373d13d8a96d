import numpy as np
import pytest
import torch
from scipy import ndimage

from qmri.estimators.methods import mle_estimator
from qmri.paper.blurriness import LINE_PX, RING_PX, SEPARATION_PX, STRUCTURES, blurriness, place_structures, regions
from qmri.physics.signal import InversionRecovery
from qmri.simulation import tissues as T
from qmri.simulation.simulate import Truth

TAU = [100.0, 200.0, 350.0, 500.0, 700.0, 900.0, 1200.0, 1600.0]


def two_tissue_labels(shape=(48, 64)) -> np.ndarray:
    """Grey matter on the left, white matter on the right, a rim of muscle around them."""
    labels = np.full(shape, T.MUSCLE, dtype=np.uint8)
    labels[2:-2, 2:shape[1] // 2] = T.GM
    labels[2:-2, shape[1] // 2:-2] = T.WM
    return labels


def test_structures_sit_deep_in_their_tissue_and_apart():
    labels = two_tissue_labels()
    placed = place_structures(labels)
    assert list(placed) == [s.name for s in STRUCTURES]
    for s in STRUCTURES:
        mask = placed[s.name]
        assert mask.sum() == len(s.offsets) and np.all(labels[mask] == s.tissue)
        # the whole ring around it is the same tissue
        assert np.all(labels[regions(mask)["Neighbourhood"]] == s.tissue)
    x, y = np.nonzero(placed["vertical line (WM)"])  # (x, y) maps, shown with y up
    assert len(set(x)) == 1 and np.ptp(y) == LINE_PX - 1
    x, y = np.nonzero(placed["horizontal line (WM)"])
    assert len(set(y)) == 1 and np.ptp(x) == LINE_PX - 1
    masks = list(placed.values())
    for i in range(len(masks)):
        for j in range(i + 1, len(masks)):
            gap = ndimage.distance_transform_edt(~masks[i])[masks[j]].min()
            assert gap > SEPARATION_PX


def test_neighbourhood_is_a_ring_of_the_given_width():
    point = np.zeros((15, 15), dtype=bool)
    point[7, 7] = True
    r = regions(point)
    assert r["Structure"].sum() == 1 and r["Neighbourhood"].sum() == (2 * RING_PX + 1) ** 2 - 1
    assert not (r["Structure"] & r["Neighbourhood"]).any()


def test_no_room_is_a_clear_error():
    labels = np.full((10, 10), T.WM, dtype=np.uint8)
    with pytest.raises(ValueError, match="no room"):
        place_structures(labels)


def test_blurring_estimator_is_caught_and_a_sharp_one_is_not(rng):
    """An MLE keeps the structures (relative bias within noise); the same MLE smoothed 3 x 3 does not."""
    labels = two_tissue_labels()
    t1 = np.where(labels == T.GM, 1350.0, np.where(labels == T.WM, 800.0, 1000.0))
    kappa = np.stack([np.full(labels.shape, 0.8), np.full(labels.shape, 1.95), t1])
    truth = Truth(InversionRecovery(), kappa, labels)
    sharp = mle_estimator("t1", TAU, lambda_b=0.0)

    def blurred(signal, mask, sigma):
        maps = sharp(signal, mask, sigma).numpy()
        return torch.from_numpy(ndimage.uniform_filter(maps, size=(1, 1, 3, 3)))

    table, placed, e2 = blurriness(truth, TAU, snr=200, repetitions=4, estimators={"mle": sharp, "blur": blurred},
                                   seed=0)
    assert e2.kappa[2][placed["hypo-intense point (GM)"]] == 400.0
    rows = table[(table["region"] == "Structure") & (table["scenario"] == "E2")].set_index(["method", "structure"])
    # at SNR 200 the MLE's T1 error is about 1 %; a 3 x 3 mean of one 1200 ms pixel in 800 ms WM is 844 ms (-30 %)
    for s in STRUCTURES:
        assert abs(rows.loc[("mle", s.name), "rb_median"]) < 3.0
    assert rows.loc[("blur", "hyper-intense point (WM)"), "rb_median"] < -20
    assert rows.loc[("blur", "hypo-intense point (GM)"), "rb_median"] > 50  # 400 ms among 1350 ms
    assert rows.loc[("blur", "hyper-intense point (WM)"), "p_rb"] < 1e-3
    assert set(table["scenario"]) == {"E1", "E2"} and len(table) == 2 * 4 * 2 * 2
