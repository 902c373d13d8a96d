"""Regularised maximum likelihood estimation (sections 2.2.1 and 4.4.1 of the paper), by idea: the solver
(``solver``: grid-search start, Levenberg-Marquardt with the B prior), the prior operator (``prior``), the
noise level (``noise``), the Cramér-Rao bound (``crlb``) and a slow per-voxel scipy reference (``reference``).
"""

from qmri.estimators.mle.crlb import crlb_sd
from qmri.estimators.mle.noise import estimate_sigma
from qmri.estimators.mle.prior import VoxelGraph
from qmri.estimators.mle.reference import reference_fit
from qmri.estimators.mle.solver import LAMBDA_B, MLEResult, MLESettings, fit, grid_search

__all__ = ["LAMBDA_B", "MLEResult", "MLESettings", "VoxelGraph", "crlb_sd", "estimate_sigma", "fit", "grid_search",
           "reference_fit"]
