"""The study as config.yaml defines it: the one source of the science values (protocols, seed, lambda_B,
geometry, training-set distribution, held-out slab) for the workflow scripts and the benchmarks.

``Study(config)`` wraps the config dict (Snakemake's ``config`` or ``Study.load(path)``); nothing here
holds a copy of a value.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import yaml

from qmri.data.io import atomic_path
from qmri.errors import QmriError
from qmri.estimators.methods import Estimator, estimators_for
from qmri.physics.signal import model_for_task
from qmri.pipeline.plan import check_references, training_plan
from qmri.simulation.brains import BrainModel, build_brain_model
from qmri.simulation.simulate import Protocol, TrainsetSettings, Truth, settings_from_config
from qmri.training import TrainSettings


class Study:
    """Science values read from a config dict: config.yaml with any presets applied, or the sections of it that a
    pipeline job depends on (its rule passes them as ``params.study``, so a change to them reruns the job)."""

    def __init__(self, config: dict):
        self.config = config

    @classmethod
    def load(cls, path: str | os.PathLike = "config.yaml") -> Study:
        """Return the study of a whole config file (default: ./config.yaml, the repository's), checked."""
        path = Path(path)
        if not path.is_file():
            raise QmriError(f"no config file {path}: run from the repository root or pass --config")
        config = yaml.safe_load(path.read_text())
        check_references(config)
        return cls(config)

    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    @property
    def lambda_b(self) -> float:
        """The MLE's weight of the Laplacian prior on B (section 4.4.1)."""
        return float(self.config["mle"]["lambda_b"])

    @property
    def geometry(self) -> dict:
        """The simulated slices' ``size`` (px) and ``pixel_mm``."""
        return dict(self.config["simulation"])

    @property
    def trainset(self) -> TrainsetSettings:
        return settings_from_config(self.config["trainset"])

    def protocol(self, name: str) -> Protocol:
        if name not in self.config["protocols"]:
            raise QmriError(f"unknown protocol {name!r}: choose one of {', '.join(self.config['protocols'])}")
        spec = self.config["protocols"][name]
        return Protocol(name, spec["task"], [float(t) for t in spec["tau_ms"]])

    def training(self, method: str, protocol: str) -> tuple[TrainSettings, str | None]:
        """Return the training settings of ``method`` on ``protocol`` and the protocol whose trained model it
        starts from (None: Kaiming weights): ``training.<method>`` with the protocol's entry under ``protocols``
        (its own ``iterations``, a ``start``) over the method's values."""
        settings, start = training_plan(self.config, method, protocol)
        return TrainSettings(**settings), start

    def montecarlo_protocol(self, task: str) -> Protocol:
        """The protocol of the Monte Carlo experiment for ``task`` (the paper's IV_T1 and IV_T2)."""
        return self.protocol(self.config["montecarlo"]["protocols"][task])

    def mni152_brain(self) -> BrainModel:
        """The embedded MNI152 brain model with the configured held-out slab (its test slices never train)."""
        return build_brain_model("mni152", "mni152", **self.config["brains"]["mni152"])

    def held_out_truth(self, brain: BrainModel, task: str, seed: int | None = None) -> Truth:
        """The brain model's unseen test slice for ``task`` at the configured geometry (seed: the study's)."""
        return Truth.held_out_slice(brain, model_for_task(task), self.trainset, self.seed if seed is None else seed,
                                **self.geometry)

    def estimators(self, protocol: Protocol, weights: dict[str, str | os.PathLike], device: str | None = None
                   ) -> dict[str, Estimator]:
        """MLE (with the study's lambda_B) and the networks in ``weights`` for ``protocol``."""
        return estimators_for(protocol.task, protocol.tau_ms, weights, self.lambda_b, device)


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a results table as CSV, atomically (no half-written file if the job dies)."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
