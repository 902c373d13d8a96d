"""The claims register: criteria against scipy, every judge on paper-like evidence and on evidence built to
contradict it, and the register's coverage of the paper's statements."""

import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from qmri.paper import tissues as T
from qmri.paper.audit import criteria as C
from qmri.paper.audit.evidence import Evidence
from qmri.paper.audit.register import CLAIMS, judge_all
from qmri.paper.phantom.analysis import sphere_table
from qmri.paper.phantom.reference import nominal

STRUCTURES = ("hypo-intense point (GM)", "hyper-intense point (WM)", "vertical line (WM)", "horizontal line (WM)")
SNRS = (3, 10, 30)


# ------------------------------------------------------------------ criteria against scipy's tests on samples

def test_criteria_match_scipy_on_samples(rng):
    x, y = rng.normal(1.0, 2.0, 40), rng.normal(0.4, 1.0, 60)
    summary = (x.mean(), x.std(ddof=1), x.size, y.mean(), y.std(ddof=1), y.size)
    welch = dict(equal_var=False)
    assert C.greater(*summary) == pytest.approx(stats.ttest_ind(x, y, alternative="greater", **welch).pvalue)
    margin = 0.8
    reference = max(stats.ttest_ind(x, y - margin, alternative="greater", **welch).pvalue,
                    stats.ttest_ind(x, y + margin, alternative="less", **welch).pvalue)
    assert C.equivalent(*summary, margin) == pytest.approx(reference)
    d = x[:40] - y[:40]
    paired = max(stats.ttest_1samp(d, -margin, alternative="greater").pvalue,
                 stats.ttest_1samp(d, margin, alternative="less").pvalue)
    assert C.equivalent_paired(d, margin) == pytest.approx(paired)
    assert C.greater_paired(d, 0.1) == pytest.approx(stats.ttest_1samp(d, 0.1, alternative="greater").pvalue)


def test_equivalence_needs_evidence_not_a_large_p_value(rng):
    """Two samples of 5 with equal means: a t-test finds no difference, but equivalence is not shown."""
    x, y = rng.normal(0, 3, 5), rng.normal(0, 3, 5)
    y += x.mean() - y.mean()
    assert stats.ttest_ind(x, y).pvalue > 0.9
    assert C.equivalent(x.mean(), x.std(ddof=1), 5, y.mean(), y.std(ddof=1), 5, 1.0) > C.ALPHA
    big = rng.normal(0, 3, 5000)
    assert C.equivalent(big.mean(), big.std(ddof=1), 5000, big.mean() + 0.1, 3, 5000, 1.0) < C.ALPHA


def test_bands_and_rankings():
    assert C.in_band(1.9, 1.34) and not C.in_band(2.1, 1.34) and C.in_band(-3.0, -2.5)
    assert C.in_band(160, 151, 0.2) and not C.in_band(75, 151, 0.2)
    assert C.ranked({"rim": 1, "resnet": 2, "mle": 3}, ("rim", "resnet", "mle"))
    assert not C.ranked({"rim": 1, "resnet": 1, "mle": 3}, ("rim", "resnet", "mle"))


# ------------------------------------------------------------------ evidence that reads as the paper does

def _montecarlo(params, cv, rb_median, width):
    rows = []
    for method in ("mle", "rim", "resnet"):
        for k, snr in enumerate(SNRS):
            for p in params:
                c = cv[method][k]
                rows.append({"snr": snr, "method": method, "parameter": p, "metric": "cv", "median": c, "mean": c,
                             "sd": 1.0, "n": 2000, "q1": c - 0.5, "q3": c + 0.5, "min": 0.0, "max": 2 * c})
                m = rb_median[method]
                rows.append({"snr": snr, "method": method, "parameter": p, "metric": "rb", "median": m, "mean": m,
                             "sd": 1.0, "n": 2000, "q1": m - 1, "q3": m + 1, "min": m - width[method],
                             "max": m + width[method]})
    return pd.DataFrame(rows)


def _blurriness(rim_hypo=(0.68, 3.43), mle_shift=0.0, rim_error=None):
    rows = []
    for method in ("mle", "rim", "resnet"):
        for s in STRUCTURES:
            for region in ("Structure", "Neighbourhood"):
                for scenario in ("E1", "E2"):
                    if region == "Structure":
                        rb = {"mle": (0.2, 0.2 + mle_shift), "resnet": (1.0, 10.0),
                              "rim": rim_hypo if s == STRUCTURES[0] else (0.5, 1.0)}[method][scenario == "E2"]
                        cv = {"mle": 6.0, "resnet": 3.5, "rim": 2.0 if scenario == "E1" else 3.0}[method]
                        width = 1.0
                    else:
                        rb = {"mle": 0.1, "rim": 0.5, "resnet": 1.0}[method] + (mle_shift if scenario == "E2" else 0)
                        cv, width = 2.0, {"mle": 1.0, "rim": 3.0, "resnet": 3.0}[method]
                    error = rb if rim_error is None or method != "rim" or scenario == "E1" else rim_error
                    p = 0.001 if (method == "mle" and s.startswith("horizontal")) else 0.5
                    rows.append({"method": method, "structure": s, "region": region, "scenario": scenario,
                                 "pixels": 1, "rb_median": rb, "rb_sd": 0.5, "rb_min": rb - width / 2,
                                 "rb_max": rb + width / 2, "cv_median": cv, "cv_sd": 0.5, "error_mean": error,
                                 "error_sd": 1.0, "error_n": 10000, "p_rb": p if scenario == "E2" else np.nan,
                                 "p_cv": np.nan})
    return pd.DataFrame(rows)


def _phantom(task, bias, noise):
    times = nominal(task)[1][None, None, :, None]
    estimates = {m: np.stack([times * (1 + b) * (1 - noise[m]), times * (1 + b) * (1 + noise[m])])[:, 0]
                 for m, b in bias.items()}
    return sphere_table({m: np.broadcast_to(e, (2, 1, 14, 3)) for m, e in estimates.items()}, task, 0, [1, 1e5])


def _labels(size=40, csf=8):
    labels = np.full((size, size), T.WM)
    labels[: size // 2] = T.GM
    labels.flat[:csf] = T.CSF
    return labels


def _invivo_t1(noise, outliers_every, resnet_bias=0.0, size=40):
    labels = _labels(size)
    truth = np.stack([np.ones(labels.shape), np.full(labels.shape, 1.9), np.where(labels == T.GM, 1400.0, 780.0)])
    maps = {}
    for method, a in noise.items():
        scans = np.stack([truth * (1 - a), truth * (1 + a)]) * (1 + (resnet_bias if method == "resnet" else 0))
        if outliers_every[method]:
            scans[:, 2].flat[::outliers_every[method]] *= 3
        maps[method] = scans[None]
    return {"labels": labels[None], "truth": truth[None], "param_names": np.array(["A", "B", "T1"]), **maps}


def _invivo_t2(rim_offset=5.4, resnet_offset=35.4, csf=(2600.0, 2000.0)):
    """T2 volunteer: CSF at ``csf[0]`` mapped by both networks to ``csf[1]``; GM and WM off by the offsets (ms)."""
    labels = _labels()
    t2 = np.select([labels == T.CSF, labels == T.GM], [csf[0], 200.0], 150.0)
    truth = np.stack([np.ones(labels.shape), t2])
    tissue = labels != T.CSF
    wiggle = 1 + 0.001 * np.sin(np.arange(labels.size)).reshape(labels.shape)
    rim = np.where(tissue, (t2 + rim_offset) * wiggle, csf[1] * wiggle)
    resnet = np.where(tissue, (t2 + resnet_offset) * wiggle, csf[1] * wiggle)
    maps = {m: np.stack([np.stack([truth[0], v])] * 2)[None] for m, v in (("mle", t2), ("rim", rim), ("resnet", resnet))}
    return {"labels": labels[None], "truth": truth[None], "param_names": np.array(["A", "T2"]), **maps}


def _generalisation(other_rim_shift=0.1):
    rows = []
    for dataset, protocol, subject in (("iv-t1", "t1-31", "volunteer 1"), ("iv-t1-noisy", "t1-25", "volunteer 1"),
                                       ("hp-t1", "t1-23", "phantom")):
        cvs = {"mle": 10.0, "resnet": 8.0, **{f"rim {p}": 5.0 for p in ("t1-23", "t1-25", "t1-31")}}
        cvs[f"rim {protocol}"] = 4.9
        for model, cv in cvs.items():
            own = model == f"rim {protocol}"
            rows.append({"dataset": dataset, "protocol": protocol, "n_tau": int(protocol[3:]), "subject": subject,
                         "model": model, "median_cv_t1": cv, "cv_minus_own_mean": 0.0 if own else other_rim_shift,
                         "cv_minus_own_sd": 1.0, "pixels": 2000})
    return pd.DataFrame(rows)


def _sharpness(rim_factor=1.0):
    nu = 2 + 0.1 * np.sin(np.arange(20))
    return pd.DataFrame([{"method": m, "line": k, "abs_nu": v * (rim_factor if m == "rim" else 1) + 0.001 * j}
                         for j, m in enumerate(("mle", "rim", "resnet")) for k, v in enumerate(nu)])


def paper_like() -> Evidence:
    """Evidence in which every statement of the paper holds."""
    cv = {"mle": (30, 12, 4), "resnet": (15, 8, 3), "rim": (10, 5, 2)}
    width = {"mle": 10, "rim": 20, "resnet": 20}
    rb = {"mle": 0.5, "rim": 0.6, "resnet": 0.7}
    timing = pd.DataFrame({"method": ["rim", "resnet", "mle"], "seconds": [3.8, 27.0, 575.0], "matrix": "256x256",
                           "n_images": 31, "device": "cpu", "hardware": "test CPU"})
    return Evidence(
        montecarlo={"t1": _montecarlo(("A", "B", "T1"), cv, rb, width), "t2": _montecarlo(("A", "T2"), cv, rb, width)},
        blurriness=_blurriness(), timing=timing,
        phantoms={"hp-t1": _phantom("t1", {"rim": 0.0134, "mle": 0.0171, "resnet": 0.3106},
                                    {"rim": 0.0227, "mle": 0.0535, "resnet": 0.053}),
                  "hp-t2": _phantom("t2", {"rim": 0.02, "mle": 0.03, "resnet": 0.4},
                                    {"rim": 0.02, "mle": 0.05, "resnet": 0.05})},
        sharpness=_sharpness(),
        invivo={"iv-t1": _invivo_t1({"mle": 0.01, "rim": 0.005, "resnet": 0.01}, {"mle": 97, "rim": 0, "resnet": 89},
                                    resnet_bias=0.1),
                "iv-t1-noisy": _invivo_t1({"mle": 0.121, "rim": 0.045, "resnet": 0.078},
                                          {"mle": 20, "rim": 0, "resnet": 50}),
                "iv-t2": _invivo_t2()},
        generalisation=_generalisation())


def exchanged(evidence: Evidence, a: str = "rim", b: str = "resnet") -> Evidence:
    """The same evidence with the results of methods ``a`` and ``b`` exchanged (the RIM's with the ResNet's: the
    paper's RIM behaves as its ResNet)."""
    names = {a: b, b: a}
    models = {("rim t1-31" if m == "rim" else m): ("rim t1-31" if n == "rim" else n) for m, n in names.items()}

    def table(t):
        return t.assign(method=t["method"].replace(names)) if t is not None else None

    return Evidence({k: table(v) for k, v in evidence.montecarlo.items()}, table(evidence.blurriness),
                    table(evidence.timing), {k: table(v) for k, v in evidence.phantoms.items()},
                    table(evidence.sharpness),
                    {d: {names.get(k, k): v for k, v in arrays.items()} for d, arrays in evidence.invivo.items()},
                    evidence.generalisation.assign(model=evidence.generalisation["model"].replace(models)))


def perturbed(evidence: Evidence) -> Evidence:
    """Evidence against the statements of sameness: methods, scenarios and models made to differ."""
    rb = evidence.montecarlo["t1"].copy()
    rb.loc[(rb["metric"] == "rb") & (rb["method"] == "rim"), "median"] = 6.0
    return replace(evidence, montecarlo={**evidence.montecarlo, "t1": rb, "t2": rb.replace({"B": "T2"})},
                   blurriness=_blurriness((3.0, 3.2), mle_shift=4.0, rim_error=9.0), sharpness=_sharpness(1.5),
                   phantoms={**evidence.phantoms, "hp-t2": _phantom("t2", dict.fromkeys(("rim", "mle", "resnet"), 0.001),
                                                                    dict.fromkeys(("rim", "mle", "resnet"), 0.02))},
                   generalisation=_generalisation(3.0),
                   timing=evidence.timing.assign(seconds=[0.25, 0.4, 2.0]),
                   invivo={**evidence.invivo, "iv-t2": _invivo_t2(rim_offset=60.0, resnet_offset=-5.0, csf=(3500.0, 3500.0))})


def test_every_statement_agrees_on_paper_like_evidence():
    verdicts = judge_all(paper_like())
    judged = [c.key for c in CLAIMS if not c.unchecked]
    assert {k: verdicts[k].ours for k in judged if verdicts[k].holds is not True} == {}


@pytest.mark.parametrize("claim", [c for c in CLAIMS if c.judge is not None], ids=lambda c: c.key)
def test_every_criterion_fails_on_evidence_built_to_contradict_it(claim):
    evidence = paper_like()
    assert claim.judge(evidence).holds is True
    contradictions = (exchanged(evidence), exchanged(evidence, "mle", "rim"), perturbed(evidence))
    assert False in [claim.judge(e).holds for e in contradictions]


def test_repeated_statements_follow_their_rows_and_missing_results_are_not_checked():
    evidence = replace(paper_like(), timing=None)
    verdicts = judge_all(evidence)
    assert verdicts["abs-speed"].holds is None and "no timing" in verdicts["abs-speed"].reason
    assert verdicts["concl-speed"].holds is None and verdicts["disc-training-time"].holds is None
    broken = judge_all(exchanged(paper_like()))
    assert broken["abs-quality"].holds is False and "DISAGREES" in broken["abs-quality"].ours


def test_timing_off_the_paper_setting_is_not_checked():
    evidence = paper_like()
    small = judge_all(replace(evidence, timing=evidence.timing.assign(matrix="96x96")))
    assert small["time-rim"].holds is None and "96x96" in small["time-rim"].reason
    gpu = judge_all(replace(evidence, timing=evidence.timing.assign(device="cuda")))
    assert gpu["abs-speed"].holds is None and "cuda" in gpu["abs-speed"].reason


# ------------------------------------------------------------------ the register covers the paper

#: the paper's quantitative or comparative statements (abstract, sections 6-8, captions), each a phrase that some
#: register row must quote
PAPER_STATEMENTS = (
    "the RIM improves the quality of estimates compared to the other techniques",
    "150 times faster than the MLE",
    "robustness to (slight) variations of scanning parameters",
    "comparable median Relative Bias",
    "larger range of values than the MLE",
    "lower CV than the other methods for all SNRs",
    "significantly higher CV compared to RIM and ResNet, accentuated in low SNR",
    "simulated T_2w data were similar",
    "both neural networks presented increased Relative Bias",
    "the highest increase occurred for",
    "from 0.68% to 3.43%",
    "11ms over the ground-truth",
    "considerably higher bias than RIM",
    "is not significant (with exception for",
    "increased CV for all structures",
    "lower than the MLE's and comparable to the ResNet's",
    "higher Relative Bias for RIM and ResNet than the MLE, with a wider range",
    "no significant differences between $E1$ and $E2$",
    "3.8s for the RIM",
    "lower error (1.34%)",
    "3.21% for RIM",
    "larger Relative Bias for all methods",
    "produced a clean T_1 map",
    "nearly unbiased",
    "clearly outperforming these methods in terms of outliers",
    "equal to 6.4%",
    "no significant differences between methods",
    "overestimated the T_2 values for most of the brain regions",
    "32.2ms",
    "2.36ms",
    "above 750 ms",
    "lower variance than the MLE and ResNet, regardless",
    "performs slightly better than the other RIM models",
    "no significant differences in repeatability",
    "reduces the variance of estimates without compromising accuracy",
    "for low SNR, the RIM had lower variance than the ResNet",
    "7 to 11 h of training",
    "approximately 110 h",
    "the lowest Relative Bias among the evaluated methods",
    "significantly higher error",
    "similar to those from the MLE, with higher robustness to noise",
    "often overestimated compared to the MLE",
    "high number of outliers",
    "strong agreement with the MLE",
    "narrow distribution around 2000ms",
    "does not represent a significant change",
    "similar transition pattern to the MLE",
    "outperforming a state-of-the-art",
    "higher precision than, and similar accuracy levels as",
    "higher precision and higher accuracy than an implementation of the ResNet",
    "generalize well to unseen data",
    "150-fold",
)


def test_register_covers_every_statement_of_the_paper():
    quoted = " || ".join(c.words for c in CLAIMS)
    assert [s for s in PAPER_STATEMENTS if s not in quoted] == []
    assert len({c.key for c in CLAIMS}) == len(CLAIMS)
    assert all(c.unchecked or c.judge or c.same_as for c in CLAIMS)


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_register_quotes_the_paper_verbatim(shared):
    paper = _normalised((shared / "paper" / "sabidussi2021-rim-relaxometry.txt").read_text())
    assert [c.key for c in CLAIMS if _normalised(c.words) not in paper] == []
