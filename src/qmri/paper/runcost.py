"""The run's cost, read from the timing tables Snakemake writes for each job (``benchmark:`` of every rule).

A table lies at ``benchmarks/<rule>/<job>.tsv`` (or ``benchmarks/<rule>.tsv`` for a rule with one job); its
first row holds the job's wall seconds ``s``, peak resident memory ``max_rss`` (MB) and ``cpu_time`` (s).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: what kind of work each rule is; a rule not named here is an experiment's metrics
KINDS = {"brains": "brain models and training sets", "trainset": "brain models and training sets",
         "train": "training", "fit": "fits (every estimator on every dataset)"}
FIGURES = "figures"
EXPERIMENTS = "experiments' metrics"


def kind_of(rule: str) -> str:
    """Return the kind of work of ``rule``: training, fits, figures, ..."""
    if rule in KINDS:
        return KINDS[rule]
    if rule.endswith("_figure") or rule in ("loss_curve", "trainset_examples"):
        return FIGURES
    return EXPERIMENTS


def read_benchmarks(folder: str | Path) -> pd.DataFrame:
    """Return one row per job table under ``folder``: rule, job, kind, seconds, cpu_seconds, max_rss_mb."""
    folder = Path(folder)
    rows = []
    for path in sorted(folder.rglob("*.tsv")):
        parts = path.relative_to(folder).with_suffix("").parts
        first = pd.read_csv(path, sep="\t").iloc[0]
        rss = pd.to_numeric(first.get("max_rss"), errors="coerce")
        rows.append({"rule": parts[0], "job": "/".join(parts[1:]) or parts[0], "kind": kind_of(parts[0]),
                     "seconds": float(first["s"]), "cpu_seconds": float(pd.to_numeric(first.get("cpu_time"),
                                                                                      errors="coerce")),
                     "max_rss_mb": float(rss)})
    return pd.DataFrame(rows, columns=["rule", "job", "kind", "seconds", "cpu_seconds", "max_rss_mb"])


def _summary(jobs: pd.DataFrame, by: str) -> pd.DataFrame:
    table = jobs.groupby(by).agg(jobs=("seconds", "size"), seconds=("seconds", "sum"),
                                 longest_job_s=("seconds", "max"), cpu_seconds=("cpu_seconds", "sum"),
                                 peak_rss_mb=("max_rss_mb", "max"))
    table = table.sort_values("seconds", ascending=False)
    table.loc["all jobs"] = [table["jobs"].sum(), table["seconds"].sum(), table["longest_job_s"].max(),
                             table["cpu_seconds"].sum(), table["peak_rss_mb"].max()]
    table["jobs"] = table["jobs"].astype(int)
    return table.rename(columns={"seconds": "job-seconds", "longest_job_s": "longest job (s)",
                                 "cpu_seconds": "CPU seconds", "peak_rss_mb": "peak memory (MB)"})


def by_kind(jobs: pd.DataFrame) -> pd.DataFrame:
    """Return job count, summed and longest seconds, CPU seconds and peak memory per kind of work, and in all."""
    return _summary(jobs, "kind")


def by_rule(jobs: pd.DataFrame) -> pd.DataFrame:
    """Return the same per rule."""
    return _summary(jobs, "rule")
