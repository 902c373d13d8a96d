"""What the audit judges: the experiment tables and arrays of one run, restricted to the paper's three methods.

The paper's statements are judged among its own methods (MLE, RIM, ResNet); our methods have their
own section of the report. A missing experiment makes its claims "not checked", never skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from qmri.paper.plan import PAPER_METHODS

#: the paper's datasets (section 4.3) and the names this pipeline gives them (config.yaml)
DATASETS = {"IV_T1": "iv-t1", "IV_T1 noisy": "iv-t1-noisy", "IV_T2": "iv-t2", "HP_T1": "hp-t1", "HP_T2": "hp-t2"}


class NotChecked(Exception):
    """Raised by a judge when this run holds nothing that answers the claim; the message says what is missing."""


@dataclass
class Evidence:
    """The tables and arrays of one run (every field optional; see ``need``)."""

    #: task ("t1", "t2") -> Monte Carlo table (``qmri.paper.montecarlo``)
    montecarlo: dict[str, pd.DataFrame] = field(default_factory=dict)
    blurriness: pd.DataFrame | None = None
    timing: pd.DataFrame | None = None
    #: phantom dataset -> sphere table (``qmri.paper.phantom.analysis.sphere_table``)
    phantoms: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: per method and line, the fitted sigmoid (``qmri.paper.sharpness.slopes``)
    sharpness: pd.DataFrame | None = None
    #: in-vivo dataset -> arrays (``qmri.paper.invivo.test_retest_arrays``: labels, truth, method maps)
    invivo: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    generalisation: pd.DataFrame | None = None

    def need(self, name: str, key: str | None = None):
        """Return field ``name`` (or its entry ``key``), raising ``NotChecked`` when this run has none."""
        value = getattr(self, name)
        if key is not None:
            value = value.get(key) if value else None
        if value is None or (isinstance(value, dict) and not value):
            what = f"{name} {key}" if key else name
            raise NotChecked(f"this run has no {what} results")
        return value

    def paper_dataset(self, name: str, kind: str) -> str:
        """Return this run's name of the paper's dataset ``name`` (``DATASETS``) held in field ``kind``."""
        dataset = DATASETS[name]
        if dataset not in getattr(self, kind):
            raise NotChecked(f"this run has no {name} dataset ({dataset})")
        return dataset


def _paper_rows(table: pd.DataFrame, column: str = "method") -> pd.DataFrame:
    """Return the rows of the paper's methods."""
    return table[table[column].isin(PAPER_METHODS)].reset_index(drop=True)


def _paper_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Return an in-vivo arrays file without our methods' maps."""
    with np.load(path) as arrays:
        return {k: arrays[k] for k in arrays.files if k in PAPER_METHODS or k in ("labels", "truth", "param_names")}


def load(montecarlo: dict[str, str], blurriness: str, timing: str, phantoms: list[str], sharpness: str,
         invivo: list[str], generalisation: str) -> Evidence:
    """Return the evidence of a run from its files (paths as the pipeline writes them)."""
    general = pd.read_csv(generalisation)
    keep = general["model"].isin(PAPER_METHODS) | general["model"].str.startswith("rim ")
    return Evidence(
        montecarlo={task: _paper_rows(pd.read_csv(path)) for task, path in montecarlo.items()},
        blurriness=_paper_rows(pd.read_csv(blurriness)),
        timing=_paper_rows(pd.read_csv(timing)),
        phantoms={Path(p).stem: _paper_rows(pd.read_csv(p)) for p in phantoms},
        sharpness=_paper_rows(pd.read_csv(sharpness)),
        invivo={Path(p).stem: _paper_arrays(p) for p in invivo},
        generalisation=general[keep].reset_index(drop=True),
    )
