"""GM/WM boundary sharpness: line placement, sigmoid fits and the slope of a known blur."""

import numpy as np
import pytest
from scipy import ndimage

from qmri.paper.sharpness import boundary_lines, fit_sigmoid, paired_tests, sigmoid, slopes
from qmri.simulation import tissues as T


def disc_labels(size: int = 128, wm_radius: float = 30, gm_radius: float = 40) -> np.ndarray:
    r = np.hypot(*np.mgrid[:size, :size] - (size - 1) / 2)
    return np.select([r <= wm_radius, r <= gm_radius], [T.WM, T.GM], 0).astype(np.uint8)


def test_fit_sigmoid_recovers_the_parameters_of_a_noiseless_profile():
    x = np.linspace(0, 6, 41)
    truth = (-800.0, 2.5, 3.2, 1200.0)
    assert fit_sigmoid(x, sigmoid(x, *truth)) == pytest.approx(truth, rel=1e-4)


def test_lines_cross_from_grey_to_white_matter_along_the_normal():
    labels = disc_labels()
    lines = boundary_lines(labels, count=20, half_length_mm=3.0, pixel_mm=0.5)
    assert lines.shape == (20, 2, 2)
    centre = (np.array(labels.shape) - 1) / 2
    radius = np.linalg.norm(lines - centre, axis=2)  # (lines, 2): start in GM, end in WM
    assert np.all(radius[:, 0] > 30) and np.all(radius[:, 1] < 30)
    direction = (lines[:, 1] - lines[:, 0]) / np.linalg.norm(lines[:, 1] - lines[:, 0], axis=1, keepdims=True)
    inward = (centre - lines.mean(axis=1)) / np.linalg.norm(centre - lines.mean(axis=1), axis=1, keepdims=True)
    assert np.all(np.sum(direction * inward, axis=1) > 0.98)  # radial, i.e. perpendicular to the interface
    angles = np.sort(np.arctan2(*(lines.mean(axis=1) - centre).T))
    assert np.diff(angles).min() > 0.5 * 2 * np.pi / 20  # spread around the interface


def test_slope_of_a_gaussian_blurred_step_matches_the_logistic_approximation():
    """A step blurred by a Gaussian of SD s is a normal CDF, close to a logistic with nu = 1.702 / s."""
    labels = disc_labels(wm_radius=30.3)
    pixel_mm, blur_mm = 0.25, 1.0
    step = np.where(labels == T.WM, 800.0, 1300.0)
    maps = {"sharp": step, "blurred": ndimage.gaussian_filter(step, blur_mm / pixel_mm)}
    lines = boundary_lines(labels, count=20, half_length_mm=2.5, pixel_mm=pixel_mm)
    table = slopes(maps, lines, pixel_mm)
    blurred = table.loc[table["method"] == "blurred", "abs_nu"]
    assert blurred.median() == pytest.approx(1.702 / blur_mm, rel=0.1)
    assert (table.loc[table["method"] == "sharp", "abs_nu"].values > 2 * blurred.values).all()
    tests = paired_tests(table)
    assert len(tests) == 1 and tests["p"].iloc[0] < 1e-6 and tests["lines"].iloc[0] == 20
