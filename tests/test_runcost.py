"""The report's run cost: Snakemake's per-job timing tables summed by rule and by kind of work."""

import pandas as pd
import pytest

from qmri.paper import runcost

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write_table(path, seconds, rss="512.5", cpu="7.0"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t50\t{cpu}\n")


@pytest.fixture
def benchmarks(tmp_path):
    folder = tmp_path / "benchmarks"
    write_table(folder / "train/rim/t1-31.tsv", 700.0, rss="2100.0", cpu="690")
    write_table(folder / "train/resnet/t1-31.tsv", 450.0)
    write_table(folder / "fit/montecarlo/t1-31/mle.tsv", 180.0)
    write_table(folder / "montecarlo_figure/fig2_montecarlo_t1.tsv", 4.0)
    write_table(folder / "timing.tsv", 60.0, rss="-")  # a job too short for a memory sample
    return folder


def test_every_job_table_is_read_with_its_rule_and_kind(benchmarks):
    jobs = runcost.read_benchmarks(benchmarks).set_index("job")
    assert len(jobs) == 5
    assert jobs.loc["rim/t1-31", ["rule", "kind", "seconds", "cpu_seconds", "max_rss_mb"]].tolist() == [
        "train", "training", 700.0, 690.0, 2100.0]
    assert jobs.loc["timing", "rule"] == "timing" and pd.isna(jobs.loc["timing", "max_rss_mb"])
    assert jobs.loc["fig2_montecarlo_t1", "kind"] == runcost.FIGURES


def test_sums_by_kind_and_rule_add_up_to_all_jobs(benchmarks):
    jobs = runcost.read_benchmarks(benchmarks)
    kinds, rules = runcost.by_kind(jobs), runcost.by_rule(jobs)
    assert kinds.loc["training", "job-seconds"] == 1150.0 and kinds.loc["training", "jobs"] == 2
    assert kinds.loc["training", "longest job (s)"] == 700.0
    for table in (kinds, rules):
        assert table.loc["all jobs", "job-seconds"] == 1394.0 == table.drop("all jobs")["job-seconds"].sum()
        assert table.loc["all jobs", "jobs"] == 5 and table.loc["all jobs", "peak memory (MB)"] == 2100.0
    assert list(kinds.index[:2]) == ["training", "fits (every estimator on every dataset)"]  # costliest first


@pytest.mark.parametrize(("rule", "kind"), [("brains", "brain models and training sets"), ("fit", "fits (every "
                                            "estimator on every dataset)"), ("loss_curve", "figures"),
                                            ("phantom_figure", "figures"), ("sharpness", "experiments' metrics")])
def test_each_rule_has_its_kind_of_work(rule, kind):
    assert runcost.kind_of(rule) == kind
