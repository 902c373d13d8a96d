"""The pipeline's fit stage: each experiment's scans, read from the study, and each estimator by name.

A fit job maps one dataset of one experiment with one estimator and writes the maps
(``results/fits/<experiment>/<dataset>/<estimator>.npz``); the metric, figure and report jobs read
them. Estimators are named ``mle``, ``rim-<protocol>`` or ``resnet-<protocol>`` (the protocol a network
was trained on), so a network applied to another protocol's data (section 5.4) is a fit like any other.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from qmri.errors import QmriError
from qmri.estimators.methods import Estimator, default_device, mle_estimator, network_estimator
from qmri.paper import blurriness, invivo, montecarlo
from qmri.paper.acquisitions import Acquisitions, load_fit
from qmri.paper.naming import OUR_METHODS, is_method, replicate_of
from qmri.paper.phantom.acquisitions import Scans, digital_scans, real_scans
from qmri.physics.signal import model_for_task
from qmri.pipeline.plan import SIMULATED, dataset_protocol_name, split_estimator
from qmri.pipeline.study import Study
from qmri.simulation.brains import BrainModel
from qmri.simulation.simulate import Protocol, Truth


def dataset_protocol(study: Study, experiment: str, dataset: str) -> Protocol:
    """Return the protocol a dataset of an experiment was acquired with."""
    return study.protocol(dataset_protocol_name(study.config, experiment, dataset))


def estimator(study: Study, experiment: str, dataset: str, name: str, weights: str | os.PathLike | None = None,
              device: str | None = None) -> Estimator:
    """Return estimator ``name`` set up for a dataset's protocol (the MLE with the study's lambda_B, or the
    phantom dataset's own)."""
    protocol, device = dataset_protocol(study, experiment, dataset), device or default_device()
    method = replicate_of(split_estimator(name)[0])[0]
    if method == "mle":
        lambda_b = study.config["phantom"]["datasets"][dataset].get("lambda_b", study.lambda_b) \
            if experiment == "phantom" else study.lambda_b
        return mle_estimator(protocol.task, protocol.tau_ms, lambda_b, device)
    if weights is None and method not in OUR_METHODS:  # ours defaults to its packaged weights
        raise QmriError(f"estimator {name} needs its weights file")
    return network_estimator(weights, method, protocol.task, protocol.tau_ms, device)


def montecarlo_truth(study: Study, brain: BrainModel, dataset: str) -> Truth:
    return study.held_out_truth(brain, study.protocol(dataset).task)


def volunteers(study: Study, brain: BrainModel, task: str) -> list[Truth]:
    """Return the simulated volunteers (the same people in every dataset and rule)."""
    spec = study.config["invivo"]
    return invivo.volunteers(brain, model_for_task(task), study.trainset, study.seed, spec["volunteers"],
                             **study.geometry, tissues=spec.get("tissues", "means"))


def phantom_scans(study: Study, dataset: str) -> Scans:
    """Return a phantom dataset's repeated scans: the digital phantom's, or the real sessions'."""
    spec, protocol = study.config["phantom"]["datasets"][dataset], dataset_protocol(study, "phantom", dataset)
    if "digital" in spec:
        return digital_scans(protocol.task, protocol.tau_ms, spec["digital"]["snr"], spec["digital"]["scans"],
                             study.seed, **study.geometry)
    return real_scans(spec["sessions"], protocol.task, protocol.tau_ms)


def real_invivo_scans(study: Study, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Return a real in-vivo dataset's slices ``(V, C, N, H, W)`` and masks ``(V, H, W)``."""
    spec, protocol = study.config["invivo"]["real"][dataset], dataset_protocol(study, "invivo_real", dataset)
    return invivo.real_scans(spec["volunteers"], protocol.task, protocol.tau_ms, spec.get("slice"))


def acquisitions(study: Study, experiment: str, dataset: str, brain: BrainModel | None = None) -> Acquisitions:
    """Return the scans of one dataset of an experiment (the simulated ones need the test ``brain``)."""
    protocol = dataset_protocol(study, experiment, dataset)
    if experiment in SIMULATED and brain is None:
        raise QmriError(f"the {experiment} scans are simulated from a brain model: give one")
    if experiment == "montecarlo":
        mc = study.config["montecarlo"]
        return montecarlo.acquisitions(montecarlo_truth(study, brain, dataset), protocol.tau_ms, mc["snr"],
                                       mc["repetitions"], study.seed)
    if experiment == "blurriness":
        spec = study.config["blurriness"]
        return blurriness.acquisitions(montecarlo_truth(study, brain, dataset), protocol.tau_ms, spec["snr"],
                                       spec["repetitions"], study.seed)
    if experiment == "invivo":
        spec = study.config["invivo"]["datasets"][dataset]
        return invivo.acquisitions(volunteers(study, brain, protocol.task), dataset, protocol.tau_ms, spec["snr"],
                                   study.config["invivo"]["scans"], study.seed)
    if experiment == "phantom":
        return phantom_scans(study, dataset).acquisitions(dataset)
    return invivo.real_acquisitions(*real_invivo_scans(study, dataset), dataset)


def load_fits(paths: dict[str, str | os.PathLike]) -> dict[str, np.ndarray]:
    """Return ``{label: maps}`` of fit files given as ``{label: path}``."""
    return {label: load_fit(Path(path)) for label, path in paths.items()}


def paper_fits(inputs) -> dict[str, np.ndarray]:
    """Return ``{method: maps}`` of the paper's three methods, ours and the networks' replicates where the rule has
    them, from a rule's inputs named by method."""
    return load_fits({method: inputs[method] for method in inputs.keys() if is_method(method)})
