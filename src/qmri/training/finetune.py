"""Fine-tuning: a network starts from another protocol's trained model."""

from __future__ import annotations

import os

import torch

from qmri.errors import QmriError
from qmri.estimators.networks.checkpoint import (
    load_model,
)
from qmri.estimators.networks.resnet import ResNet, resampled_stem


def start_from(net: torch.nn.Module, method: str, task: str, start: str | os.PathLike, tau_ms: list[float]) -> str:
    """Load the weights of the trained checkpoint ``start`` into ``net`` (fine-tuning to ``tau_ms``); return its
    protocol.

    Its method and task must be ``net``'s. A RIM reads no image count, so all of it carries over. A ResNet's
    stem convolution reads the N images: trained on other times, it starts resampled to ``tau_ms``
    (``resampled_stem``: each trained time's weight spread over its neighbours in the new protocol), so the
    fine-tuning starts from the features the trained model computed instead of from fresh Kaiming weights.
    """
    trained, meta = load_model(start)
    if (meta["method"], meta["task"]) != (method, task):
        raise QmriError(f"cannot fine-tune a {method} for {task} from {start}: a {meta['method']} for {meta['task']}")
    state = trained.state_dict()
    if isinstance(net, ResNet) and list(meta["tau_ms"]) != list(tau_ms):
        state["stem.0.weight"] = resampled_stem(state["stem.0.weight"], meta["tau_ms"], tau_ms)
    net.load_state_dict(state)
    return meta["protocol"]
