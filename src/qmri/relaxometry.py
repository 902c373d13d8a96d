"""The Python API: one model per sequence whose ``fit`` returns named parameter maps (as DIPY's ``reconst``).

>>> import numpy as np
>>> from qmri import InversionRecoveryModel
>>> tau = np.array([100.0, 300, 600, 1000, 1500, 2200, 3000])             # inversion times, ms
>>> ideal = np.abs(1.0 - 1.9 * np.exp(-tau / 900.0))                       # A = 1, B = 1.9, T1 = 900 ms
>>> fit = InversionRecoveryModel(tau).fit(np.tile(ideal, (4, 4, 1)), sigma=0.01)
>>> fit.T1.shape, bool(np.allclose(fit.T1, 900.0, rtol=1e-3))
((4, 4), True)

Times (tau, T1, T2) are in milliseconds, A in the data's units, B is dimensionless (2 = perfect inversion).
Data are ``(..., N)``: the last axis holds the N images; the leading axes are ``(X,)``, ``(X, Y)`` or
``(X, Y, Z)``. The MLE's smoothness prior on B joins neighbours within an ``(X, Y)`` slice.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from qmri.data.scans import Series, series_from_array
from qmri.errors import QmriError
from qmri.estimators.mapping import Maps, map_series, write_maps
from qmri.estimators.mle import LAMBDA_B
from qmri.physics.signal import SignalModel, model_for_task, varies

ArrayLike = np.ndarray | torch.Tensor


def _as_numpy(values: ArrayLike | list, name: str) -> np.ndarray:
    """Return ``values`` (numpy, torch or a list) as a numpy array; refuse what cannot be one."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    try:
        return np.asarray(values)
    except (TypeError, ValueError) as err:
        raise QmriError(f"{name} must be an array: {err}") from None


class RelaxometryModel:
    """A relaxometry experiment: the signal model of a task at the given preparation times.

    Parameters
    ----------
    tau_ms : array_like, shape (N,)
        Inversion times (T1) or echo / preparation times (T2), ms, in the order of the data's last axis.
    tr_ms : array_like, optional
        Repetition time(s), ms: one for all images or one per image. Only inversion recovery uses it: a TR
        that varies between images selects the TR-aware model ``A (1 - B e^(-TI/T1) + (B - 1) e^(-TR/T1))``.
    """

    task: ClassVar[str]

    def __init__(self, tau_ms: ArrayLike | list[float], tr_ms: ArrayLike | list[float] | float | None = None):
        tau = _as_numpy(tau_ms, "tau_ms").astype(float).ravel()
        # an empty series checks tau and TR as the file loaders do, and sorts TR with tau
        probe = series_from_array(np.zeros((1, 1, 1, len(tau))), np.eye(4), tau, "tau_ms",
                                  None if tr_ms is None else _as_numpy(tr_ms, "tr_ms").astype(float))
        #: the times in the order given, ms
        self.tau_ms = tau
        #: TR per image in the order given (ms), or None
        self.tr_ms = None if probe.tr_ms is None else probe.tr_ms[np.argsort(np.argsort(tau))]
        #: the signal model fitted (``qmri.physics.signal``)
        self.signal_model: SignalModel = model_for_task(self.task, probe.tr_ms)

    @property
    def param_names(self) -> tuple[str, ...]:
        """Return the names of the fitted parameters, e.g. ``("A", "B", "T1")``."""
        return self.signal_model.param_names

    def fit(self, data: ArrayLike, mask: ArrayLike | None = None, method: str = "mle", sigma: float | None = None,
            noise: str = "gaussian", *, weights: str | Path | None = None, signal: str = "auto",
            lambda_b: float = LAMBDA_B, device: str = "cpu", progress: bool = False) -> RelaxometryFit:
        """Return the fit of ``data`` (..., N): parameter maps, their Cramér-Rao SDs and the fit quality.

        Parameters
        ----------
        data : array_like, shape (..., N)
            Images (any intensity scale), numpy or torch; the last axis follows ``tau_ms``.
        mask : array_like of bool, shape (...), optional
            Voxels to fit; default: voxels above 5 % of the bright signal and the noise floor of air.
        method : {"mle", "rim", "resnet", "arim"}
            The regularised MLE, the paper's networks (need ``weights`` from the pipeline) or our
            any-protocol RIM (packaged weights unless ``weights``).
        sigma : float, optional
            Noise SD in the data's units; default estimated (residuals, or the background for Rician noise).
        noise : {"gaussian", "rician"}
            The MLE's likelihood; "rician" models the noise floor of magnitude images.
        weights : path, optional
            Network checkpoint for ``method`` "rim", "resnet" (required) or "arim".
        signal : {"auto", "magnitude", "signed"}
            "auto" fits images that are mostly negative where bright (phase-sensitive IR) without the modulus.
        lambda_b : float
            Weight of the MLE's Laplacian smoothness prior on B (the paper's 500; 0 fits B voxel by voxel).
        device : {"cpu", "cuda"}
        progress : bool
            Show a progress bar over chunks of slices.
        """
        images = _as_numpy(data, "data").astype(np.float64, copy=False)
        if images.ndim < 1 or images.shape[-1] != len(self.tau_ms):
            raise QmriError(f"data has {images.shape[-1] if images.ndim else 0} images along its last axis "
                            f"for {len(self.tau_ms)} tau values")
        shape = images.shape[:-1]
        if len(shape) > 3:
            raise QmriError(f"data must be (..., N) with at most 3 spatial axes, got shape {images.shape}")
        volume = images.reshape(*shape, *([1] * (3 - len(shape))), len(self.tau_ms))
        voxels = None
        if mask is not None:
            voxels = _as_numpy(mask, "mask").astype(bool)
            if voxels.shape != shape:
                raise QmriError(f"mask shape {voxels.shape} differs from the data's spatial shape {shape}")
            voxels = voxels.reshape(volume.shape[:3])
        series = series_from_array(volume, np.eye(4), self.tau_ms, "data", self.tr_ms)
        return self.fit_series(series, voxels, method, sigma, noise, weights=weights, signal=signal,
                               lambda_b=lambda_b, device=device, progress=progress, shape=shape)

    def fit_series(self, series: Series, mask: np.ndarray | None = None, method: str = "mle",
                   sigma: float | None = None, noise: str = "gaussian", *, weights: str | Path | None = None,
                   signal: str = "auto", lambda_b: float = LAMBDA_B, device: str = "cpu", progress: bool = False,
                   shape: tuple[int, ...] | None = None) -> RelaxometryFit:
        """Return the fit of a loaded series (``qmri.data.scans.load_series``); ``fit`` for the arguments.

        ``mask`` is ``(X, Y, Z)``; ``shape`` is the spatial shape the maps are returned in (default the series').
        """
        maps = map_series(series, self.task, method, sigma=sigma, mask=mask, lambda_b=lambda_b, device=device,
                          uncertainty=True, progress=progress, weights=weights, signal=signal, noise=noise)
        return RelaxometryFit(self, maps, series.data.shape[:3] if shape is None else tuple(shape))


class InversionRecoveryModel(RelaxometryModel):
    """T1 mapping from an inversion-recovery series: ``|A (1 - B exp(-TI/T1))|`` (the paper's eq. 9).

    Parameters A (data units), B (2 = perfect inversion) and T1 (ms); see ``RelaxometryModel``.
    """

    task = "t1"


class T2DecayModel(RelaxometryModel):
    """T2 mapping from a multi-echo or T2-prepared series: ``|A exp(-TE/T2)|``.

    Parameters A (data units) and T2 (ms); see ``RelaxometryModel``.
    """

    task = "t2"

    def __init__(self, tau_ms: ArrayLike | list[float]):
        super().__init__(tau_ms)


class RelaxometryFit:
    """The result of ``RelaxometryModel.fit``: named maps with the data's spatial shape, NaN outside the mask.

    Every parameter is an attribute (``fit.T1``, ``fit.A``, ``fit.B``, ``fit.T2``) and an entry of
    ``fit.params``; ``fit.crlb`` holds the Cramér-Rao lower bound on each one's SD (same units).
    """

    def __init__(self, model: RelaxometryModel, maps: Maps, shape: tuple[int, ...]):
        #: the model that was fitted
        self.model = model
        #: the maps as the mapping code returns them, ``(X, Y, Z, Q)``
        self.maps = maps
        #: the spatial shape of the maps
        self.shape = shape
        names = maps.model.param_names
        #: ``{name: map}`` in internal units (ms for times)
        self.params = {name: maps.kappa[..., q].reshape(shape) for q, name in enumerate(names)}
        #: ``{name: Cramér-Rao SD map}`` in the parameter's units
        self.crlb = {name: maps.crlb[..., q].reshape(shape) for q, name in enumerate(names)}
        #: coefficient of determination per voxel, 1 - RSS / TSS
        self.rsquared = maps.quality[..., 0].reshape(shape)
        #: residual RMS over sigma per voxel: about 1 where the model fits
        self.residual_rms = maps.quality[..., 1].reshape(shape)

    def __getattr__(self, name: str) -> np.ndarray:
        params = self.__dict__.get("params", {})
        if name in params:
            return params[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r} (parameters: {', '.join(params)})")

    @property
    def sigma(self) -> float:
        """Return the noise SD the fit used (given or estimated), in the data's units."""
        return self.maps.sigma

    @property
    def warnings(self) -> list[str]:
        """Return warnings about the fit, e.g. a protocol that leaves T1 undetermined in most voxels."""
        return list(self.maps.warnings)

    def predict(self, tau_ms: ArrayLike | list[float] | None = None) -> np.ndarray:
        """Return the fitted model's signal ``(..., N)`` at ``tau_ms`` (ms; default the fitted times).

        Magnitude for a magnitude fit, signed for a signed one. A TR-aware fit predicts at its own times only.
        """
        tau = self.model.tau_ms if tau_ms is None else _as_numpy(tau_ms, "tau_ms").astype(float).ravel()
        kappa = torch.from_numpy(self.maps.kappa.reshape(-1, self.maps.kappa.shape[-1]))  # shape (V, Q)
        model, columns = self.maps.model, slice(None)
        if varies(self.model.tr_ms):  # the TR-aware model holds one TR per image, in the series' sorted order
            if not np.array_equal(tau, self.model.tau_ms):
                raise QmriError("a TR-aware fit predicts at its fitted times only (each image has its own TR)")
            tau, columns = self.maps.tau_ms, np.argsort(np.argsort(self.model.tau_ms))
        times = torch.as_tensor(tau, dtype=kappa.dtype)
        values = model.signed(kappa, times) if self.maps.noise.signed else model.forward(kappa, times)
        values = values.numpy()[:, columns]  # shape (V, N), in the order asked for
        return values.reshape(*self.shape, len(tau))

    def save(self, prefix: str | Path, source: str = "data", uncertainty: bool = False) -> list[Path]:
        """Write the maps as BIDS-style NIfTI files with JSON sidecars; return the NIfTI paths written.

        ``uncertainty`` also writes the Cramér-Rao SD maps (``desc-crlb``). Files are written atomically.
        """
        maps = self.maps if uncertainty else dataclasses.replace(self.maps, crlb=None)
        return write_maps(maps, prefix, source)
