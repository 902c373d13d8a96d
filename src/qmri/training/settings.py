"""The settings of a training run: the paper's optimisation, the network's form, the budget."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from qmri.errors import QmriError
from qmri.estimators.networks.form import NetworkForm, network_form
from qmri.estimators.networks.resnet import BLOCK_WIDTHS
from qmri.estimators.networks.rim import DATA_TERMS
from qmri.estimators.networks.start import START_POOLS

#: learning-rate schedules of a training run (``TrainSettings.rate``)
LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings; the paper's are the defaults except the iteration budget."""

    iterations: int = 3000
    batch_size: int = 24
    learning_rate: float = 1e-3
    rim_steps: int = 6
    rim_features: int = 36
    checkpoint_every: int = 100
    #: "auto": bfloat16 autocast where the hardware has it (AVX512-BF16 or AMX CPUs, CUDA), else float32
    precision: str = "auto"
    #: the ResNet's block widths (default the paper's; the RIM ignores them)
    resnet_widths: tuple[int, ...] = BLOCK_WIDTHS
    #: compile a RIM's recurrent cell and likelihood gradient with ``torch.compile``: True, False or "auto"
    #: (``compiles_rim``)
    compile: bool | str = "auto"
    #: the paper-form network's variant, "ours" or "authors" (``qmri.estimators.networks.form.VARIANTS``)
    variant: str = "ours"
    #: single switches of ``NetworkForm`` set otherwise than the variant's
    form: dict = field(default_factory=dict)
    #: what our RIM's cell reads of the data (``qmri.estimators.networks.rim.DATA_TERMS``); the paper's nets ignore it
    data_term: str = "gradient"
    #: the learning rate over the run: "constant" (the paper's Adam) or "cosine" (from ``learning_rate`` to 0 at the
    #: last iteration, so that the final weights are not one noisy step of a constant-rate walk)
    lr_schedule: str = "constant"
    #: how our RIM's start pools B (``qmri.estimators.networks.start.START_POOLS``); the paper's nets ignore it
    start_pool: str = "window"
    #: the SD (network units) by which our RIM's training starts are moved off (``AnyProtocolRIM.jitter``); 0: never
    start_jitter: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "resnet_widths", tuple(self.resnet_widths))
        object.__setattr__(self, "form", dict(self.form or {}))
        if self.compile not in (True, False, "auto"):
            raise QmriError(f"training: compile must be true, false or auto, got {self.compile!r}")
        if self.data_term not in DATA_TERMS:
            raise QmriError(f"training: data_term must be {' or '.join(DATA_TERMS)}, got {self.data_term!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise QmriError(f"training: lr_schedule must be {' or '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.start_pool not in START_POOLS:
            raise QmriError(f"training: start_pool must be {' or '.join(START_POOLS)}, got {self.start_pool!r}")
        if self.start_jitter < 0:
            raise QmriError(f"training: start_jitter must be >= 0, got {self.start_jitter!r}")
        self.network_form()  # a one-line error for an unknown variant, switch or option

    def rate(self, iteration: int) -> float:
        """Return the learning rate of step ``iteration`` (0-based) under ``lr_schedule``."""
        if self.lr_schedule == "constant":
            return self.learning_rate
        return self.learning_rate * 0.5 * (1 + math.cos(math.pi * iteration / self.iterations))

    def network_form(self) -> NetworkForm:
        """Return the resolved form of the network these settings train."""
        return network_form(self.variant, self.form)
