"""The mapping methods behind one call: images in, parameter maps out.

An estimator takes noisy images ``(batch, N, H, W)`` (any intensity scale), a mask ``(batch, H, W)``
and the noise SD (or None), and returns maps ``(batch, Q, H, W)`` in physical units (float64, NaN
outside the mask). The experiments and ``qmri fit`` both use them, so every method is run the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from qmri.errors import QmriError
from qmri.estimators.mle import LAMBDA_B, MLESettings, fit
from qmri.estimators.networks.checkpoint import load_model, predict, shipped_weights
from qmri.physics.signal import model_for_task

Estimator = Callable[[torch.Tensor, torch.Tensor, "float | None"], torch.Tensor]


#: the label of our RIM's start alone (its cell off) where benchmarks score it beside the RIM: what the cell adds
START_ONLY = "arim_start"


def resolve_weights(method: str, task: str, weights: str | os.PathLike | None) -> str | os.PathLike:
    """Return the checkpoint a network method runs: ``weights`` if given, else our RIM's packaged one."""
    if weights is not None:
        return weights
    if method == "arim":
        return shipped_weights(task)
    raise QmriError(f"--method {method} needs --weights (a checkpoint from the pipeline's train rule)")


def load_network(weights: str | os.PathLike | None, method: str, task: str, device: str = "cpu"
                 ) -> tuple[nn.Module, dict]:
    """Return ``(network, checkpoint metadata)``, checking that it is a ``method`` for ``task``.

    ``weights`` None is our RIM's packaged checkpoint (``resolve_weights``).
    """
    weights = resolve_weights(method, task, weights)
    net, meta = load_model(weights, device)
    if meta["method"] != method:
        raise QmriError(f"{weights} holds a {meta['method']}, not a {method}")
    if meta["task"] != task:
        raise QmriError(f"{weights} is for the {meta['task']} task, not {task}")
    return net, meta


def predict_masked(net: nn.Module, meta: dict, signal: torch.Tensor, mask: torch.Tensor, tau_ms: list[float],
                   task: str) -> torch.Tensor:
    """Return a network's maps ``(batch, Q, H, W)`` in physical units, float64, NaN outside ``mask`` (batch, H, W)."""
    maps = predict(net, meta, signal, tau_ms, task, mask=mask).to(torch.float64)
    mask = mask.to(maps.device, torch.bool)[:, None]
    return torch.where(mask, maps, torch.full_like(maps, float("nan")))


def default_device() -> str:
    """Return "cuda" when torch sees a GPU (e.g. a cluster job given one), else "cpu"."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def mle_estimator(task: str, tau_ms: list[float], lambda_b: float = LAMBDA_B, device: str | None = None) -> Estimator:
    """Return the regularised MLE (``qmri.estimators.mle.fit``) as an estimator, run on ``device`` (default: a GPU if any)."""
    model, settings, device = model_for_task(task), MLESettings(lambda_b=lambda_b), device or default_device()

    def estimate(signal: torch.Tensor, mask: torch.Tensor, sigma: float | None) -> torch.Tensor:
        return fit(model, signal.to(device), tau_ms, sigma=sigma, mask=mask.to(device), settings=settings).kappa

    return estimate


def network_estimator(weights: str | os.PathLike | None, method: str, task: str, tau_ms: list[float],
                      device: str | None = None, cell: bool = True, steps: int | None = None) -> Estimator:
    """Return a trained network (``rim``, ``resnet``, ``arim``) as an estimator on ``device`` (default: a GPU if any);
    it needs no sigma. ``weights`` None is our RIM's packaged checkpoint; ``cell`` False: a RIM's start alone
    (``RIM.use_cell``); ``steps``: a RIM run for that many steps instead of its checkpoint's."""
    net, meta = load_network(weights, method, task, device or default_device())
    if not cell:
        net.use_cell = False
    if steps is not None:
        net.steps = steps

    def estimate(signal: torch.Tensor, mask: torch.Tensor, sigma: float | None) -> torch.Tensor:
        return predict_masked(net, meta, signal, mask, tau_ms, task)

    return estimate


def map_all(estimators: dict[str, Estimator], signal: torch.Tensor, mask: torch.Tensor, sigma: float | None
            ) -> dict[str, np.ndarray]:
    """Return ``{method: maps (batch, Q, H, W)}`` on the CPU: every method on the same images, mask and sigma."""
    return {name: estimate(signal, mask, sigma).cpu().numpy() for name, estimate in estimators.items()}


def estimators_for(task: str, tau_ms: list[float], weights: dict[str, str | os.PathLike],
                   lambda_b: float = LAMBDA_B, device: str | None = None) -> dict[str, Estimator]:
    """Return ``{"mle": ..., "rim": ..., "resnet": ...}`` for the methods given (networks need ``weights``)."""
    found = {"mle": mle_estimator(task, tau_ms, lambda_b, device)}
    for method, path in weights.items():
        found[method] = network_estimator(path, method, task, tau_ms, device)
    return found
