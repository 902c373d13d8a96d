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
