import numpy as np
import pandas as pd
import pytest

from qmri.paper import report

SNRS = (3, 10, 100)


def fake_montecarlo(cv: dict[str, tuple[float, ...]], rb_iqr: dict[str, float], parameters=("A", "B", "T1")):
    """Rows as qmri.paper.montecarlo.noise_robustness writes them, with chosen medians and spreads."""
    rows = []
    for method, values in cv.items():
        for snr, v in zip(SNRS, values):
            for p in parameters:
                rows.append({"snr": snr, "method": method, "parameter": p, "metric": "cv", "median": v,
                             "q1": v - 1, "q3": v + 1, "min": 0, "max": 2 * v})
                rows.append({"snr": snr, "method": method, "parameter": p, "metric": "rb", "median": 0.5,
                             "q1": -rb_iqr[method] / 2, "q3": rb_iqr[method] / 2, "min": -50, "max": 50})
    return pd.DataFrame(rows)


def test_report_opens_with_the_summary_and_lists_every_register_row_with_its_verdict():
    from dataclasses import replace

    from qmri.paper.audit.register import CLAIMS, distinct_statements, judge_all
    from test_audit import exchanged, paper_like

    budget = pd.DataFrame({"arm": ["1000 iterations", "3000 iterations"], "method": "rim",
                           "hp_t1_abs_rb_pct": [14.6, 16.2]})
    verdicts = judge_all(replace(exchanged(paper_like()), budget=budget))  # the run has the budget study
    headline = report.headline_table(fake_montecarlo({"mle": (4, 2, 1), "resnet": (3, 2, 1), "rim": (2, 1, 1)},
                                                     {"mle": 1, "resnet": 1, "rim": 1}))
    models = report.training_table([{"method": "rim", "protocol": "t1-31", "iterations": 1000, "train_seconds": 386.2,
                                     "device": "cuda", "autocast": "torch.bfloat16", "hardware": "NVIDIA H100",
                                     "git_revision": "0123456789abcdef"},
                                    {"method": "rim", "protocol": "t1-23", "iterations": 150, "train_seconds": 60.0,
                                     "device": "cpu", "autocast": "torch.float32", "hardware": "AMD EPYC",
                                     "git_revision": "0123456789abcdef", "started_from": "t1-31"}])
    assert models["started from"].tolist() == ["", "t1-31"]
    text = report.render(CLAIMS, verdicts, headline, {"git revision": "abc"}, ["../figures/fig3_blurriness.png"],
                         {"seed": 1}, models, tables={"Volunteers": pd.DataFrame({"CV": [1.0]})})
    independent = [verdicts[c.key].kind for c in CLAIMS if not c.is_repeat]
    header = (f"**{len(distinct_statements())} distinct statements, {len(CLAIMS)} rows.** Independent rows "
              f"({len(independent)}): {independent.count('agrees')} agree, {independent.count('DISAGREES')} DISAGREE, "
              f"{independent.count('inconclusive')} inconclusive, {independent.count('not comparable')} not comparable, "
              f"{independent.count('not checked')} not checked.")
    assert text.split("\n")[2].startswith(header) and text.index("## Summary") < text.index("## The register")
    summary = text[text.index("## Summary"):text.index("## How this was produced")]
    assert summary.count("\n| ") == 1 + 7
    # the RIM worse than the others: the budget study's measure applies (and only there)
    assert "- phantom-t1-rb-lowest, phantom-t1-rb-values, disc-phantom-lowest, abs-quality: the paper-form RIM" in summary
    method = text[text.index("## How the audit judges"):text.index("## The register")]
    assert "| \"nearly unbiased\", \"strong agreement\" with the MLE |" in method and "+-2 %" in method
    for claim in CLAIMS:
        assert f"| {claim.key} | {claim.section} |" in text
    assert "[fig3_blurriness](../figures/fig3_blurriness.png)" in text and "**DISAGREES**" in text
    assert "not checked | the paper's training effort" in text and "## Volunteers" in text
    assert "simulated volunteers, MNI152 anatomy (stand-in for the paper's in-vivo scans)" in text
    assert "- **git revision**: abc" in text and "seed: 1" in text and "RIM CV (%)" in text
    assert "| RIM t1-31 |" in text and "NVIDIA H100" in text and "bfloat16" in text
    # a revision of digits only stays a revision, not a number
    digits = report.training_table([{"method": "rim", "protocol": "t1-31", "iterations": 1, "train_seconds": 1.0,
                                     "device": "cpu", "autocast": "torch.float32", "git_revision": "635585012345+dirty"}])
    rendered = report.render(CLAIMS, verdicts, headline, {}, [], {}, digits)
    assert "| 635585012345 " in rendered and "6.35585e+11" not in rendered


def test_evidence_holds_the_paper_methods_only(tmp_path):
    from qmri.paper.audit import evidence

    table = fake_montecarlo({"mle": (4, 2, 1), "rim": (2, 1, 1), "arim": (1, 1, 1)}, {"mle": 1, "rim": 1, "arim": 1})
    table.to_csv(tmp_path / "mc.csv", index=False)
    arrays = {"labels": np.zeros((1, 4, 4)), "mle": np.ones((1, 2, 2, 4, 4)), "arim": np.ones((1, 2, 2, 4, 4))}
    np.savez(tmp_path / "iv-t1.npz", **arrays, param_names=np.array(["A", "T1"]))
    pd.DataFrame({"model": ["mle", "rim t1-31", "arim"], "median_cv_t1": [1, 2, 3]}).to_csv(tmp_path / "g.csv")
    found = evidence.load({"t1": tmp_path / "mc.csv"}, tmp_path / "mc.csv", tmp_path / "mc.csv", [tmp_path / "mc.csv"],
                          tmp_path / "mc.csv", [tmp_path / "iv-t1.npz"], tmp_path / "g.csv")
    assert set(found.montecarlo["t1"]["method"]) == {"mle", "rim"} and set(found.phantoms["mc"]["method"]) == {"mle", "rim"}
    assert set(found.invivo["iv-t1"]) == {"labels", "mle", "param_names"}
    assert list(found.generalisation["model"]) == ["mle", "rim t1-31"]


def test_the_evidence_of_each_seed_holds_that_seeds_networks_under_the_papers_names(tmp_path):
    from qmri.paper.audit import evidence

    cv = {"mle": (4, 2, 1), "rim": (2, 1, 1), "resnet": (3, 2, 1), "rim@seed2": (9, 9, 9), "resnet@seed2": (8, 8, 8)}
    fake_montecarlo(cv, {m: 1 for m in cv}).to_csv(tmp_path / "mc.csv", index=False)
    pd.DataFrame({"method": ["mle", "mle-voxelwise", "rim", "resnet"], "seconds": [1.5, 234, 0.3, 0.3]}).to_csv(
        tmp_path / "timing.csv", index=False)
    maps = {m: np.full((1, 2, 2, 4, 4), v[0], float) for m, v in cv.items()}
    np.savez(tmp_path / "iv-t1.npz", labels=np.zeros((1, 4, 4)), **maps, param_names=np.array(["A", "T1"]))
    pd.DataFrame({"model": ["mle", "resnet", "rim t1-31", "resnet@seed2", "rim t1-31@seed2"],
                  "median_cv_t1": [1, 2, 3, 4, 5]}).to_csv(tmp_path / "g.csv")
    mc = tmp_path / "mc.csv"
    found = [evidence.load({"t1": mc}, mc, tmp_path / "timing.csv", [mc], mc, [tmp_path / "iv-t1.npz"],
                           tmp_path / "g.csv", seed=k) for k in (1, 2)]
    for k, seen in enumerate(found, 1):
        own = {"rim": "rim@seed2", "resnet": "resnet@seed2"} if k == 2 else {"rim": "rim", "resnet": "resnet"}
        table = seen.montecarlo["t1"]
        assert set(table["method"]) == {"mle", "rim", "resnet"}
        assert table[(table["method"] == "rim") & (table["metric"] == "cv")]["median"].tolist() == \
            [v for v in cv[own["rim"]] for _ in range(3)]
        assert set(seen.invivo["iv-t1"]) == {"labels", "mle", "rim", "resnet", "param_names"}
        assert seen.invivo["iv-t1"]["resnet"][0, 0, 0, 0, 0] == cv[own["resnet"]][0]
        assert seen.generalisation["model"].tolist() == ["mle", "resnet", "rim t1-31"]
        assert seen.generalisation["median_cv_t1"].tolist() == ([1, 2, 3] if k == 1 else [1, 4, 5])
        assert seen.timing["method"].tolist() == ["mle", "mle-voxelwise", "rim", "resnet"]  # the run's own


def test_a_verdict_that_changes_with_the_seed_is_marked_unstable():
    from qmri.paper.audit.register import CLAIMS, judge_all, unstable
    from test_audit import exchanged, paper_like

    first, second = judge_all(paper_like()), judge_all(exchanged(paper_like()))
    moved = unstable([first, first, second])
    assert moved and all(kinds[0] == kinds[1] != kinds[2] for kinds in moved.values())
    assert set(moved) == {k for k in first if first[k].kind != second[k].kind}
    assert unstable([first, first]) == {}
    key = next(iter(moved))
    assert report.verdict_cell(first[key], moved[key]).endswith(f"unstable (seeds 1-3: {', '.join(moved[key])})")
    line = report.header(CLAIMS, first, 3, moved)
    assert f"judged again on each of 3 seeds, {len(moved)} rows are unstable ({key}," in line
    assert "verdict stability not measured" in report.header(CLAIMS, first)


def test_volunteer_and_generalisation_tables():
    labels = np.full((1, 6, 6), 3)
    truth = np.full((1, 2, 6, 6), 800.0)
    scans = np.stack([truth * 0.9, truth * 1.1], axis=1)  # shape (V, C, Q, H, W)
    bad = scans.copy()
    bad[0, 0, 1, 0, :2] = 5000.0
    table = report.volunteer_table({"iv-t1": {"labels": labels, "truth": truth, "mle": bad, "rim": scans,
                                               "param_names": np.array(["A", "T1"])},
                                    "mine": {"mask": np.ones((1, 6, 6), bool), "rim": scans,
                                             "param_names": np.array(["A", "T1"])}})
    cv = 0.2 / np.sqrt(2) * 100  # two scans at 0.9 and 1.1: SD 0.2 / sqrt(2), mean 1
    assert table.loc[("iv-t1", "simulated", "T1", "RIM"), "median CV (%)"] == pytest.approx(cv)
    assert table.loc[("iv-t1", "simulated", "T1", "MLE"), "outliers (volunteer 1, scan 1)"] == 2
    assert table.loc[("mine", "real", "T1", "RIM"), "mean CV (%)"] == pytest.approx(cv)
    general = pd.DataFrame({"dataset": ["hp-t1"] * 2, "n_tau": 23, "subject": "phantom", "model": ["mle", "rim t1-23"],
                            "median_cv_t1": [4.0, 2.0]})
    wide = report.generalisation_summary(general)
    assert list(wide.columns) == ["MLE", "RIM t1-23"] and wide.iloc[0]["RIM t1-23"] == 2.0


def test_our_method_has_its_own_section():
    """Ours beside the paper's RIM and the MLE in its own 'beyond the paper' table (the register never sees it:
    test_evidence_holds_the_paper_methods_only)."""
    cv = {"mle": (40, 12, 2), "resnet": (20, 8, 1.8), "rim": (10, 5, 1.5)}
    with_ours = fake_montecarlo({**cv, "arim": (1, 1, 1)}, {"mle": 2, "resnet": 4, "rim": 3, "arim": 0.1})
    timing = pd.DataFrame({"method": ["mle", "rim", "resnet", "arim"], "seconds": [2.0, 0.25, 0.4, 0.3],
                           "paper_seconds": [575.0, 3.8, 27.0, None], "matrix": "256x256", "n_images": 31})
    table = report.ours_table(with_ours, with_ours.replace({"B": "T2"}), {}, timing)
    assert list(table.columns) == ["MLE", "RIM", "aRIM (ours)"]
    assert table.loc[("Monte Carlo T1, SNR 3", "median CV (%)"), "aRIM (ours)"] == 1
    assert table.loc[("time per slice (256x256 x 31)", "seconds"), "aRIM (ours)"] == 0.3
    text = report.render((), {}, report.headline_table(with_ours), {}, [], {}, pd.DataFrame(), table)
    assert "Beyond the paper: our any-protocol RIM" in text


def test_the_fidelity_table_names_every_difference_and_its_measured_effect():
    from qmri.estimators.networks.form import OPTIONS
    from qmri.paper import fidelity
    from qmri.pipeline.plan import form_arms

    assert {d.arm for d in fidelity.FIDELITY} == set(form_arms()) - {"ours", "authors"} == set(OPTIONS) | {
        "voxel_noise", "float32"}
    unmeasured = fidelity.fidelity_table()
    assert len(unmeasured) == len(fidelity.FIDELITY)
    assert set(unmeasured["measured effect (arm against ours)"]) == {"not measured in this run"}
    assert "tanh (section 4.4.4)" in unmeasured["the paper's words"].tolist()
    row = {"mean_abs_rb_pct": 10.0, "mean_cv_pct": 3.0, "b_slope": 0.1, "slice_rb_snr100_pct": 66.7}
    scores = pd.DataFrame([{"arm": "ours", "method": "resnet", **row},
                           {"arm": "batchnorm", "method": "resnet", **row, "mean_abs_rb_pct": 4.0,
                            "slice_rb_snr100_pct": 16.7, "b_slope": 0.6},
                           {"arm": "units", "method": "resnet", **row, "b_slope": 1.8},
                           {"arm": "mle", "method": "mle", **row}])
    table = fidelity.fidelity_table(scores)
    assert table.loc["ResNet BatchNorm at inference", "measured effect (arm against ours)"] == (
        "ResNet: |RB| 10.0 -> 4.0 %, slice RB SNR 100 +66.7 -> +16.7 %, B slope 0.10 -> 0.60")
    assert table.loc["RIM cell activation", "measured effect (arm against ours)"] == "not measured in this run"
    shown = fidelity.study_table(scores)
    assert shown.loc[("batchnorm", "resnet"), "mean |RB| (%)"] == 4.0 and "HP_T1 |RB| (%)" not in shown
    assert shown["B from the data (slope 0.5 to 1.5)"].to_dict() == {("ours", "resnet"): "recalls it",
                                                                    ("batchnorm", "resnet"): "reads it",
                                                                    ("units", "resnet"): "overshoots it",
                                                                    ("mle", "mle"): "recalls it"}


def test_the_studys_findings_say_which_arm_meets_the_target_and_why_a_network_recalls_b():
    from qmri.paper import fidelity

    def row(arm, method, rb10, rb100, slope, ablation_b=None):
        return {"arm": arm, "method": method, "mean_abs_rb_pct": 5.0, "b_slope": slope, "slice_rb_snr10_pct": rb10,
                "slice_rb_snr100_pct": rb100, "ablation_b_pct": ablation_b, "ablation_t1_pct": ablation_b and 50.0}

    scores = pd.DataFrame([row("mle", "mle", 0.5, 0.2, 0.99),
                           row("ours", "rim", 4.5, -5.0, 0.06, 0.2), row("units", "rim", 1.5, 1.9, 0.14, 0.6),
                           row("ours", "resnet", 90.0, 80.0, 0.02), row("batchnorm", "resnet", 9.0, -8.0, 0.6)])
    rim, resnet = fidelity.findings(scores)
    # 1.9 % meets the RIM's RB target but its B is recalled (slope 0.14 < 0.5): no arm meets the target
    assert rim.startswith("- RIM: no arm meets the target") and "closest is units (1.9 %)" in rim
    assert "recalls B: B slope 0.06 to 0.14 over the arms against the MLE's 0.99" in rim
    assert "B moves by 0.4 % (median over the arms; T1 by 50.0 %): its B does not answer to the data term" in rim
    assert resnet == "- ResNet: the target (slice |RB| <= 10 % at every SNR) is met by batchnorm."
    reads = scores.assign(b_slope=scores["b_slope"].where(scores["arm"] != "units", 0.7))
    assert fidelity.findings(reads)[0] == ("- RIM: the target (slice |RB| <= 2 % at every SNR, B slope 0.5 to 1.5) "
                                           "is met by units.")
    # a slope far above the MLE's is no reading of B either, and no recall
    overshoots = scores.assign(b_slope=scores["b_slope"].where(scores["arm"] != "units", 1.8))
    line = fidelity.findings(overshoots)[0]
    assert line.startswith("- RIM: no arm meets the target") and "recalls B" not in line
    assert "0 of 2 arms read B (B slope 0.06 to 1.80 over the arms, the MLE's 0.99), none with its T1 on target" in line
    text = report.render((), {}, pd.DataFrame(), {}, [], {}, pd.DataFrame(), None,
                         {"the study": fidelity.study_table(scores)})
    assert rim in text.split("## the study")[1]
