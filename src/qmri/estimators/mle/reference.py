"""The slow, obvious reference of the MLE: one scipy trust-region fit per voxel."""

from __future__ import annotations

import numpy as np
import torch

from qmri.physics.signal import SignalModel


def reference_fit(model: SignalModel, signal: np.ndarray, tau_ms: np.ndarray, start: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(kappa, cost)`` of a slow per-voxel ``scipy.optimize.least_squares`` fit (lambda_B = 0).

    The obvious reference for ``fit``: one trust-region reflective solve per voxel of ``signal``
    (M, N), started at ``start`` (M, Q), with the same bounds and analytic Jacobian.
    ``cost`` is ``0.5 * RSS`` per voxel, in the data's units.
    """
    from scipy.optimize import least_squares

    tau = torch.as_tensor(np.asarray(tau_ms, dtype=np.float64))
    lower, upper = np.array([p.bounds for p in model.parameters]).T
    upper[0] *= max(float(np.max(signal)), 1e-12)  # A's bound is relative to the data

    def residual(x: np.ndarray, s: np.ndarray) -> np.ndarray:
        return model.forward(torch.from_numpy(x)[None], tau)[0].numpy() - s

    def jacobian(x: np.ndarray, s: np.ndarray) -> np.ndarray:
        return model.jacobian(torch.from_numpy(x)[None], tau)[0].numpy().T  # shape (N, Q)

    kappa = np.empty_like(start, dtype=np.float64)
    cost = np.empty(len(signal))
    for m in range(len(signal)):  # deliberately one voxel at a time: this is the slow reference
        x0 = np.clip(start[m], lower, upper)
        result = least_squares(residual, x0, jac=jacobian, bounds=(lower, upper), method="trf",
                               x_scale="jac", ftol=1e-12, xtol=1e-12, gtol=1e-12, args=(signal[m],))
        kappa[m], cost[m] = result.x, result.cost
    return kappa, cost
