"""Real repeated volunteer scans: loading one slice of each scan, masks, mapping and clear errors."""


import numpy as np
import pytest

from helpers import T2_PREP, phantom_t2, write_scan
from qmri.errors import QmriError
from qmri.estimators.methods import mle_estimator
from qmri.paper.invivo import map_real, median_cv, real_scans

TAU = T2_PREP


def test_real_scans_map_and_give_the_cv_the_noise_predicts(tmp_path, rng):
    t2, sigma = phantom_t2(), 2.0
    scans = [[write_scan(tmp_path / f"v1-scan{c}.nii.gz", t2, sigma, rng) for c in (1, 2, 3)]]
    images, masks = real_scans(scans, "t2", TAU)
    assert images.shape == (1, 3, 6, 24, 20) and masks.shape == (1, 24, 20)
    assert np.array_equal(masks[0], t2[:, :, 1] > 0)  # the middle slice; air is masked out
    maps = map_real(images, masks, {"mle": mle_estimator("t2", TAU, device="cpu")})
    assert maps["mle"].shape == (1, 3, 2, 24, 20) and np.isnan(maps["mle"][0, 0, 1][~masks[0]]).all()
    # per-pixel T2 CRLB at A = 100, sigma = 2 is about 1.5-2 % for T2 60-100 ms: the median CV must be there
    cv = median_cv(maps["mle"][0], masks[0], 1)
    assert 0.7 < cv < 4


def test_real_scans_refuse_other_times_and_mismatched_scans(tmp_path, rng):
    t2 = phantom_t2()
    good = write_scan(tmp_path / "a.nii.gz", t2, 1.0, rng)
    other_tau = write_scan(tmp_path / "b.nii.gz", t2, 1.0, rng, tau=[t + 1 for t in TAU])
    with pytest.raises(QmriError, match="differs from the protocol"):
        real_scans([[good, other_tau]], "t2", TAU)
    smaller = write_scan(tmp_path / "c.nii.gz", t2[:20], 1.0, rng)
    with pytest.raises(QmriError, match="differ in shape"):
        real_scans([[good, smaller]], "t2", TAU)
    with pytest.raises(QmriError, match="outside the 3 slices"):
        real_scans([[good, good]], "t2", TAU, slice_index=3)


def test_simulated_volunteers_have_peoples_tissue_contrast_unless_drawn():
    """'means': every volunteer's GM and WM at Table 1's means with the voxel-wise spread; 'drawn': a draw per
    person, which for some seeds puts GM T1 below WM T1."""
    from qmri.paper.invivo import volunteers
    from qmri.physics.signal import model_for_task
    from qmri.simulation import tissues as T
    from qmri.simulation.brains import BrainModel
    from qmri.simulation.simulate import TrainsetSettings

    labels = np.full((24, 24, 5), T.WM, np.uint8)
    labels[:12] = T.GM
    brain = BrainModel("toy", labels, np.eye(4), train_slices=(0, 1), test_slices=(2, 3, 4))
    settings = TrainsetSettings(n_patches=1, patch_size=8, pixel_mm=1.0, voxel_cv=0.05, b_half_normal_sd=0.2,
                                sigma_min=0.01, sigma_max=0.1, max_rotation_deg=0, scale_range=(1.0, 1.0), flip=False)
    model = model_for_task("t1")

    def tissue_means(tissues, seed):
        (person,) = volunteers(brain, model, settings, seed, 1, size=24, pixel_mm=1.0, tissues=tissues)
        t1 = person.kappa[model.index("T1")]
        return t1[person.labels == T.GM].mean(), t1[person.labels == T.WM].mean(), t1[person.labels == T.GM].std()

    for seed in range(5):
        gm, wm, spread = tissue_means("means", seed)
        # 144+ pixels at 5 % voxel CV: the mean is within 4 standard errors of Table 1's
        assert gm == pytest.approx(1400, abs=4 * 0.05 * 1400 / 12) and wm == pytest.approx(780, abs=4 * 0.05 * 780 / 12)
        assert spread == pytest.approx(0.05 * 1400, rel=0.3)
    drawn = [tissue_means("drawn", seed)[:2] for seed in range(40)]
    assert len({round(gm) for gm, _ in drawn}) > 30  # a new person every seed
    assert any(gm < wm for gm, wm in drawn)
    with pytest.raises(ValueError, match="means, drawn"):
        volunteers(brain, model, settings, 0, 1, size=24, pixel_mm=1.0, tissues="typical")
