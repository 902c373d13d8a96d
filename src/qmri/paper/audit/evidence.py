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

from qmri.paper.naming import NETWORKS, PAPER_METHODS, replicate_of

#: the paper's datasets (section 4.3) and the names this pipeline gives them (config.yaml)
DATASETS = {"IV_T1": "iv-t1", "IV_T1 noisy": "iv-t1-noisy", "IV_T2": "iv-t2", "HP_T1": "hp-t1", "HP_T2": "hp-t2"}


class NotChecked(Exception):
    """Raised by a judge when this run holds nothing that answers the claim; the message says what is missing."""


class NotComparable(Exception):
    """Raised by a judge when this run's stand-in data or implementation cannot answer the claim's words; the
    message says why."""


#: the paper's training anatomy, against which ours is named
PAPER_ANATOMY = "BrainWeb"


@dataclass(frozen=True)
class RunData:
    """What this run's data are, against the paper's: the stand-in every register row is judged on."""

    #: brain models of training and tests: "mni152" or "brainweb"
    anatomy: str = "mni152"
    #: phantom dataset -> "digital" or "real"
    phantoms: dict[str, str] = field(default_factory=dict)
    #: phantom dataset -> task ("t1", "t2")
    phantom_tasks: dict[str, str] = field(default_factory=dict)
    #: T1 RIM protocol -> the protocol it was fine-tuned from (None: trained from scratch)
    rim_starts: dict[str, str | None] = field(default_factory=dict)

    def finetuned(self) -> dict[str, str]:
        """Return ``{protocol: start}`` of the T1 RIMs fine-tuned from another protocol's RIM."""
        return {p: s for p, s in self.rim_starts.items() if s}

    def real_phantom(self, task: str) -> str | None:
        """Return this run's real phantom dataset of ``task``, if any."""
        return next((d for d, kind in self.phantoms.items() if kind == "real" and self.phantom_tasks.get(d) == task),
                    None)

    def describe(self, data: str) -> str:
        """Return the words naming the data a row of kind ``data`` is judged on."""
        anatomy = {"mni152": "MNI152 anatomy", "brainweb": "BrainWeb anatomy"}.get(self.anatomy, self.anatomy)
        simulated = f"simulated test slice, {anatomy}" + ("" if self.anatomy == "brainweb" else
                                                          f" (paper: {PAPER_ANATOMY})")
        hp = self.phantoms.get(DATASETS["HP_T1"], "digital")
        phantom = ("real NIST phantom scans" if hp == "real" else
                   "digital NIST phantom (stand-in for the paper's scans)")
        finetuned = self.finetuned()
        rims = ("RIMs " + ", ".join(f"{p} fine-tuned from {s}" for p, s in sorted(finetuned.items()))
                + " (paper: trained independently)") if finetuned else "RIMs trained independently"
        return {"montecarlo": simulated, "blurriness": simulated,
                "timing": "the test slice on this run's hardware",
                "phantom": phantom,
                "volunteers": f"simulated volunteers, {anatomy} (stand-in for the paper's in-vivo scans)",
                "generalisation": f"{phantom}; simulated volunteers; {rims}",
                "training": "the paper's own training"}.get(data, data)


def run_data(config: dict) -> RunData:
    """Return what the run of ``config`` (the merged config.yaml) uses as data."""
    protocols = config.get("protocols", {})
    datasets = config.get("phantom", {}).get("datasets", {})
    rim = config.get("training", {}).get("rim", {}).get("protocols", {}) or {}
    return RunData(anatomy=config.get("brains", {}).get("source", "mni152"),
                   phantoms={name: "real" if "sessions" in spec else "digital" for name, spec in datasets.items()},
                   phantom_tasks={name: protocols.get(spec["protocol"], {}).get("task", "") for name, spec in
                                  datasets.items()},
                   rim_starts={name: (rim.get(name) or {}).get("start") for name, spec in protocols.items()
                               if spec.get("task") == "t1"})


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
    #: in-vivo dataset -> arrays (``qmri.paper.invivo.repeatability_arrays``: labels, truth, method maps)
    invivo: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    generalisation: pd.DataFrame | None = None
    #: what the run's data are (stand-ins, fine-tuned models)
    run: RunData = field(default_factory=RunData)
    #: the budget study's scores (``qmri.bench.forms.score``, one row per arm and network), where the run has it
    budget: pd.DataFrame | None = None

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


#: the paper's kind of MLE, timed beside ours: a per-voxel trust-region fit (``qmri.paper.timing``)
VOXELWISE_MLE = "mle-voxelwise"


def _seed_names(names: list[str], seed: int) -> dict[str, str]:
    """Return ``{name: the paper's name}`` of the names the audit of seed ``seed`` reads: the MLEs' and the paper
    networks' models trained with that seed (``rim``, ``rim t1-23``, ``resnet`` or their ``@seed<k>`` replicates)."""
    kept = {}
    for name in names:
        base, k = replicate_of(name)
        network = base in NETWORKS or base.startswith("rim ")
        if (network and k == seed) or (not network and k == 1 and base in (*PAPER_METHODS, VOXELWISE_MLE)):
            kept[name] = base
    return kept


def _paper_rows(table: pd.DataFrame, seed: int = 1, column: str = "method") -> pd.DataFrame:
    """Return the rows of the paper's methods (and of the paper's kind of MLE, where timed), its networks those
    trained with seed ``seed``, named as the paper names them."""
    names = _seed_names(list(dict.fromkeys(table[column])), seed)
    kept = table[table[column].isin(names)].copy()
    kept[column] = kept[column].map(names)
    return kept.reset_index(drop=True)


def _paper_arrays(path: str | os.PathLike, seed: int = 1) -> dict[str, np.ndarray]:
    """Return an in-vivo arrays file's data and the paper's methods' maps (networks: those of seed ``seed``)."""
    with np.load(path) as arrays:
        names = _seed_names(arrays.files, seed)
        return {names.get(k, k): arrays[k] for k in arrays.files if k in names or k in ("labels", "truth", "param_names")}


def load(montecarlo: dict[str, str], blurriness: str, timing: str, phantoms: list[str], sharpness: str,
         invivo: list[str], generalisation: str, run: RunData | None = None, seed: int = 1,
         budget: str | None = None) -> Evidence:
    """Return the evidence of a run from its files (paths as the pipeline writes them) and what its data are; the
    paper's networks are those trained with seed ``seed`` (1: the run's own; k: the ``@seed<k>`` replicates);
    ``budget``: the budget study's table, where the run has it.
    Timing is the run's own: a network's seconds do not depend on its weights."""
    return Evidence(
        montecarlo={task: _paper_rows(pd.read_csv(path), seed) for task, path in montecarlo.items()},
        blurriness=_paper_rows(pd.read_csv(blurriness), seed),
        timing=_paper_rows(pd.read_csv(timing)),
        phantoms={Path(p).stem: _paper_rows(pd.read_csv(p), seed) for p in phantoms},
        sharpness=_paper_rows(pd.read_csv(sharpness), seed),
        invivo={Path(p).stem: _paper_arrays(p, seed) for p in invivo},
        generalisation=_paper_rows(pd.read_csv(generalisation), seed, "model"),
        budget=pd.read_csv(budget) if budget else None,
        run=run or RunData(),
    )
