import pandas as pd

from helpers import REPO
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


def test_paper_ranking_is_recognised_and_a_broken_one_is_flagged():
    paper_like = fake_montecarlo({"mle": (40, 12, 2), "resnet": (20, 8, 1.8), "rim": (10, 5, 1.5)},
                                 {"mle": 2, "resnet": 4, "rim": 3})
    claims = report.simulation_claims(paper_like, paper_like.replace({"B": "T2"}))
    assert all(c.holds for c in claims), [c for c in claims if not c.holds]
    broken = fake_montecarlo({"mle": (40, 12, 2), "resnet": (20, 4, 1.8), "rim": (10, 5, 1.5)},
                             {"mle": 2, "resnet": 4, "rim": 1})
    verdicts = {c.statement: c.holds for c in report.simulation_claims(broken, broken.replace({"B": "T2"}))}
    assert verdicts["RIM has the lowest median CV of T1 at every SNR"] is False
    assert verdicts["both networks spread the relative bias of T1 wider than the MLE "
                    "(interquartile range over the brain)"] is False


def test_timing_claims_and_rendering_show_disagreements():
    timing = pd.DataFrame({"method": ["mle", "rim", "resnet"], "seconds": [2.0, 0.25, 0.4],
                           "paper_seconds": [575.0, 3.8, 27.0], "matrix": "256x256", "n_images": 31})
    claims = report.timing_claims(timing)
    ratio = next(c for c in claims if "150" in c.statement)
    assert ratio.holds is False and "vectorised" in ratio.note and ratio.ours == "8.0x"
    assert all(c.holds for c in claims if c is not ratio)
    headline = report.headline_table(fake_montecarlo({"mle": (4, 2, 1), "resnet": (3, 2, 1), "rim": (2, 1, 1)},
                                                     {"mle": 1, "resnet": 1, "rim": 1}))
    models = report.training_table([{"method": "rim", "protocol": "t1-31", "iterations": 1000, "train_seconds": 386.2,
                                     "device": "cuda", "autocast": "torch.bfloat16", "hardware": "NVIDIA H100",
                                     "git_revision": "0123456789abcdef"}])
    text = report.render(claims, headline, {"git revision": "abc"}, ["../figures/f.png"], {"seed": 1}, models)
    assert "**DISAGREES**" in text and "1 disagree" in text and "![../figures/f.png]" in text
    assert "- **git revision**: abc" in text and "seed: 1" in text and "RIM CV (%)" in text
    assert "| RIM t1-31 |" in text and "NVIDIA H100" in text and "bfloat16" in text


def test_timing_on_another_matrix_is_not_compared():
    timing = pd.DataFrame({"method": ["mle", "rim"], "seconds": [0.5, 0.1], "paper_seconds": [575.0, 3.8],
                           "matrix": "96x96", "n_images": 31})
    (claim,) = report.timing_claims(timing)
    assert claim.holds is None and "96x96" in claim.ours


def test_phantom_claims_read_the_array_from_the_sphere_names_not_the_dataset_name():
    import numpy as np

    from qmri.paper.phantom.analysis import sphere_table
    from qmri.paper.phantom.reference import nominal

    def table(task, bias):  # estimates (C, Q, 14, K) off the nominal values by a per-method factor
        times = nominal(task)[1][None, None, :, None]
        noise = np.array([0.99, 1.01])[:, None, None, None]
        return sphere_table({m: np.broadcast_to(times * (1 + b) * noise, (2, 1, 14, 3)) for m, b in bias.items()},
                            task, 0, [100, 1000])

    claims = report.phantom_claims({"mine": table("t1", {"mle": 0.02, "rim": 0.01, "resnet": 0.3}),
                                    "hp-t1": table("t2", {"mle": 0.02, "rim": 0.05, "resnet": 0.3})})
    assert [c.section for c in claims] == ["6.2 mine"] * 2 + ["6.2 hp-t1"] * 2
    assert "(HP_T1)" in claims[0].paper and claims[2].paper == "not given (fig. A2)"
    assert claims[0].holds is True and claims[2].holds is False  # |RB| 1 % lowest; 5 % is not
    assert "RIM 1.00%" in claims[0].ours


def test_our_method_never_changes_a_verdict_on_the_paper_and_has_its_own_section():
    """An aRIM better than every paper method at everything: the paper's statements are judged among its three
    methods only, and ours appears in the 'beyond the paper' table."""
    cv = {"mle": (40, 12, 2), "resnet": (20, 8, 1.8), "rim": (10, 5, 1.5)}
    paper_like = fake_montecarlo(cv, {"mle": 2, "resnet": 4, "rim": 3})
    with_ours = fake_montecarlo({**cv, "arim": (1, 1, 1)}, {"mle": 2, "resnet": 4, "rim": 3, "arim": 0.1})
    assert not all(c.holds for c in report.simulation_claims(with_ours, with_ours.replace({"B": "T2"})))
    ours_filtered = report.paper_methods(with_ours)
    verdicts = [c.holds for c in report.simulation_claims(ours_filtered, ours_filtered.replace({"B": "T2"}))]
    assert verdicts == [c.holds for c in report.simulation_claims(paper_like, paper_like.replace({"B": "T2"}))]
    timing = pd.DataFrame({"method": ["mle", "rim", "resnet", "arim"], "seconds": [2.0, 0.25, 0.4, 0.3],
                           "paper_seconds": [575.0, 3.8, 27.0, None], "matrix": "256x256", "n_images": 31})
    table = report.ours_table(with_ours, with_ours.replace({"B": "T2"}), {}, timing)
    assert list(table.columns) == ["MLE", "RIM", "aRIM (ours)"]
    assert table.loc[("Monte Carlo T1, SNR 3", "median CV (%)"), "aRIM (ours)"] == 1
    assert table.loc[("time per slice (256x256 x 31)", "seconds"), "aRIM (ours)"] == 0.3
    budget = pd.read_csv(REPO / "studies" / "rim-budget" / "quality.csv")
    text = report.render([], report.headline_table(with_ours), {}, [], {}, pd.DataFrame(), table, budget)
    assert "Beyond the paper: our any-protocol RIM" in text and "is it the training budget" in text
    assert "RIM mean" in text and "T1 change without gradient" in text
