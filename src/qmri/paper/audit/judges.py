"""One judge per kind of statement: read the evidence, apply the claim's fixed criterion, return a ``Verdict``.

Margins and units of analysis are constants here, fixed before any result was read; every register row
(``qmri.paper.audit.register``) states them in its criterion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from qmri.paper import tissues as T
from qmri.paper.audit import criteria as C
from qmri.paper.audit.evidence import Evidence, NotChecked
from qmri.paper.metrics import coefficient_of_variation, outliers
from qmri.paper.naming import METHOD_NAMES
from qmri.paper.phantom.analysis import restricted_averages

NETWORKS = ("rim", "resnet")
#: "comparable" relative bias: within 2 percentage points
RB_MARGIN = 2.0
#: "comparable" CV: within 2 percentage points
CV_MARGIN = 2.0
#: "no significant difference" of |nu| between methods: within 20 % of the mean |nu| of all lines
SHARPNESS_MARGIN = 0.2
#: "no significant differences in repeatability" between RIMs: per-pixel CV within 1 percentage point
REPEATABILITY_MARGIN = 1.0
#: "nearly unbiased" / "strong agreement" against the MLE: mean relative difference within 2 % / 5 %
UNBIASED_MARGIN = 2.0
AGREEMENT_MARGIN = 5.0
#: "does not represent a significant change" of a structure's T1: relative error within 5 %
RETAINED_MARGIN = 5.0
#: "correctly estimate": within 20 % of the truth
CORRECT_TOLERANCE = 0.2
#: "narrow distribution": interquartile range below 20 % of the median
NARROW = 0.2
#: "about 150 times": within 20 % of the paper's ratio
RATIO_BAND = 0.2


@dataclass(frozen=True)
class Verdict:
    """Whether ours agrees with a statement (None: not checked), what we measured, and why."""

    holds: bool | None
    ours: str
    reason: str = ""

    def __post_init__(self):
        if self.holds is not None:  # numpy booleans from the tables become Python's
            object.__setattr__(self, "holds", bool(self.holds))


def _names(values: dict[str, float], fmt: str = "{:.2f}", unit: str = "%") -> str:
    """Return "MLE 1.00%, RIM 2.00%" for ``{method: value}``."""
    return ", ".join(f"{METHOD_NAMES.get(m, m)} {fmt.format(v)}{unit}" for m, v in values.items())


# ---------------------------------------------------------------- Monte Carlo (section 6.1, fig. 2 and A1)

def _montecarlo(ev: Evidence, task: str, metric: str, parameters: tuple[str, ...]) -> pd.DataFrame:
    """Return the Monte Carlo rows of ``metric`` for ``parameters``, indexed by (parameter, snr, method)."""
    table = ev.need("montecarlo", task)
    rows = table[(table["metric"] == metric) & table["parameter"].isin(parameters)]
    return rows.set_index(["parameter", "snr", "method"]).sort_index()


def rb_comparable(ev: Evidence, task: str, parameters: tuple[str, ...]) -> Verdict:
    """"For most cases where SNR > 3, all methods produced comparable median Relative Bias": per parameter and
    SNR > 3, each network's median against the MLE's, TOST at ``RB_MARGIN``; most = more than half the cases."""
    rb = _montecarlo(ev, task, "rb", parameters)
    cases, worst = [], 0.0
    for (parameter, snr), part in rb.groupby(level=["parameter", "snr"]):
        if snr <= 3:
            continue
        mle = part.loc[(parameter, snr, "mle")]
        for net in NETWORKS:
            r = part.loc[(parameter, snr, net)]
            p = C.medians_equivalent(r["median"], r["sd"], r["n"], mle["median"], mle["sd"], mle["n"], RB_MARGIN)
            cases.append(p < C.ALPHA)
            worst = max(worst, abs(r["median"] - mle["median"]))
    return Verdict(sum(cases) > len(cases) / 2,
                   f"equivalent in {sum(cases)} of {len(cases)} cases (parameter x SNR > 3 x network vs MLE); "
                   f"largest |difference| of medians {worst:.2f} points")


def range_wider(ev: Evidence, task: str, parameters: tuple[str, ...]) -> Verdict:
    """"Both neural networks displayed a larger range of values than the MLE": the range (max - min over the
    brain, the paper's whiskers) wider than the MLE's in most cases (parameter x SNR > 3), for each network."""
    rb = _montecarlo(ev, task, "rb", parameters)
    width = (rb["max"] - rb["min"]).unstack("method")
    width = width[width.index.get_level_values("snr") > 3]
    wider = {net: int((width[net] > width["mle"]).sum()) for net in NETWORKS}
    return Verdict(all(v > len(width) / 2 for v in wider.values()),
                   ", ".join(f"{METHOD_NAMES[n]} wider in {v} of {len(width)}" for n, v in wider.items())
                   + f"; median range MLE {width['mle'].median():.1f}, RIM {width['rim'].median():.1f}, "
                   f"ResNet {width['resnet'].median():.1f} points")


def cv_lowest(ev: Evidence, task: str, parameter: str) -> Verdict:
    """"The RIM presented lower CV than the other methods for all SNRs": median CV, every SNR."""
    cv = _montecarlo(ev, task, "cv", (parameter,))["median"].unstack("method").loc[parameter]
    lowest = cv["rim"] < cv.drop(columns="rim").min(axis=1)
    return Verdict(bool(lowest.all()), f"lowest at {lowest.sum()} of {len(lowest)} SNRs; "
                   + "; ".join(f"SNR {s:g}: {_names(cv.loc[s].to_dict())}" for s in cv.index))


def mle_cv_higher(ev: Evidence, task: str, parameter: str) -> Verdict:
    """"The MLE displayed significantly higher CV compared to RIM and ResNet, accentuated in low SNR": at every
    SNR a one-sided Welch t-test (unit: brain pixel) of the MLE's CV against each network's at 0.05, and the gap
    between the MLE's median CV and the larger network median wider at the lowest SNR than at the highest."""
    cv = _montecarlo(ev, task, "cv", (parameter,)).loc[parameter]
    significant, gaps = 0, {}
    snrs = sorted(set(cv.index.get_level_values("snr")))
    for snr in snrs:
        mle = cv.loc[(snr, "mle")]
        ps = [C.greater(mle["mean"], mle["sd"], mle["n"], cv.loc[(snr, n), "mean"], cv.loc[(snr, n), "sd"],
                        cv.loc[(snr, n), "n"]) for n in NETWORKS]
        significant += all(p < C.ALPHA for p in ps)
        gaps[snr] = mle["median"] - max(cv.loc[(snr, n), "median"] for n in NETWORKS)
    accentuated = gaps[snrs[0]] > gaps[snrs[-1]]
    return Verdict(significant == len(snrs) and accentuated,
                   f"significantly higher at {significant} of {len(snrs)} SNRs; gap to the networks "
                   f"{gaps[snrs[0]]:+.2f} points at SNR {snrs[0]:g}, {gaps[snrs[-1]]:+.2f} at SNR {snrs[-1]:g}")


def low_snr_rim_below_resnet(ev: Evidence) -> Verdict:
    """"For low SNR, the RIM had lower variance than the ResNet": median CV at the lowest SNR, every T1-task
    parameter."""
    cv = _montecarlo(ev, "t1", "cv", ("A", "B", "T1"))["median"].unstack("method")
    snr = cv.index.get_level_values("snr").min()
    low = cv.xs(snr, level="snr")
    below = low["rim"] < low["resnet"]
    return Verdict(bool(below.all()), f"SNR {snr:g}: " + "; ".join(
        f"{p}: RIM {low.loc[p, 'rim']:.2f}%, ResNet {low.loc[p, 'resnet']:.2f}%" for p in low.index))


def rim_beats_resnet(ev: Evidence) -> Verdict:
    """"Higher precision and higher accuracy than ... the ResNet": T1 median CV lower at every SNR, median |RB|
    lower at most SNRs > 3, and mean |RB| over HP_T1's in-range spheres lower."""
    cv = _montecarlo(ev, "t1", "cv", ("T1",))["median"].unstack("method").loc["T1"]
    rb = _montecarlo(ev, "t1", "rb", ("T1",))["median"].unstack("method").loc["T1"].abs()
    rb = rb[rb.index > 3]
    phantom = restricted_averages(ev.need("phantoms", ev.paper_dataset("HP_T1", "phantoms")))["rb"]
    precise, accurate = int((cv["rim"] < cv["resnet"]).sum()), int((rb["rim"] < rb["resnet"]).sum())
    return Verdict(precise == len(cv) and accurate > len(rb) / 2 and phantom["rim"] < phantom["resnet"],
                   f"CV lower at {precise} of {len(cv)} SNRs, |RB| lower at {accurate} of {len(rb)} SNRs > 3; "
                   f"HP_T1 mean |RB| RIM {phantom['rim']:.2f}%, ResNet {phantom['resnet']:.2f}%")


# ---------------------------------------------------------------- blurriness (section 6.1, fig. 3)

def _blur(ev: Evidence, region: str) -> pd.DataFrame:
    """Return the blurriness rows of ``region``, indexed by (method, structure, scenario)."""
    table = ev.need("blurriness")
    return table[table["region"] == region].set_index(["method", "structure", "scenario"]).sort_index()


def _structures(ev: Evidence) -> list[str]:
    """Return the structure names in the table's order (the hypo-intense point first)."""
    return list(dict.fromkeys(ev.need("blurriness")["structure"]))


def networks_bias_increases(ev: Evidence) -> Verdict:
    """"Both neural networks presented increased Relative Bias compared to scenario E1": median |RB| over the
    Structure higher in E2 than in E1, every structure, both networks."""
    b, structures = _blur(ev, "Structure"), _structures(ev)
    up = {n: sum(abs(b.loc[(n, s, "E2"), "rb_median"]) > abs(b.loc[(n, s, "E1"), "rb_median"]) for s in structures)
          for n in NETWORKS}
    return Verdict(all(v == len(structures) for v in up.values()),
                   ", ".join(f"{METHOD_NAMES[n]} increased at {v} of {len(structures)} structures" for n, v in up.items()))


def _increase(b: pd.DataFrame, method: str, structure: str) -> float:
    """Return the rise of median |RB| (points) from E1 to E2 of one method in one structure."""
    return abs(b.loc[(method, structure, "E2"), "rb_median"]) - abs(b.loc[(method, structure, "E1"), "rb_median"])


def rim_hypo_largest(ev: Evidence) -> Verdict:
    """"For the RIM, the highest increase occurred for the hypo-intense point"."""
    b, structures = _blur(ev, "Structure"), _structures(ev)
    rise = {s: _increase(b, "rim", s) for s in structures}
    return Verdict(max(rise, key=rise.get) == structures[0],
                   "; ".join(f"{s}: {v:+.2f} points" for s, v in rise.items()))


def rim_hypo_values(ev: Evidence) -> Verdict:
    """"Relative Bias going from 0.68% to 3.43%": the RIM's median RB at the hypo-intense point, both within the
    band."""
    b, hypo = _blur(ev, "Structure"), _structures(ev)[0]
    e1, e2 = (b.loc[("rim", hypo, e), "rb_median"] for e in ("E1", "E2"))
    return Verdict(C.in_band(e1, 0.68) and C.in_band(e2, 3.43), f"{e1:.2f}% -> {e2:.2f}%")


def rim_hypo_ms(ev: Evidence) -> Verdict:
    """"An average error of 11ms over the ground-truth T1 value of 400ms": the RIM's rise of relative bias at the
    hypo-intense point, in ms of its 400 ms, within the band."""
    b, hypo = _blur(ev, "Structure"), _structures(ev)[0]
    ms = (b.loc[("rim", hypo, "E2"), "rb_median"] - b.loc[("rim", hypo, "E1"), "rb_median"]) / 100 * 400
    return Verdict(C.in_band(ms, 11.0), f"{ms:+.1f} ms")


def resnet_considerably_worse(ev: Evidence) -> Verdict:
    """"The ResNet showed considerably higher bias than RIM when small structures were added": E2 median |RB|
    higher at every structure and at least twice the RIM's on average."""
    b, structures = _blur(ev, "Structure"), _structures(ev)
    r = {s: abs(b.loc[("resnet", s, "E2"), "rb_median"]) for s in structures}
    m = {s: abs(b.loc[("rim", s, "E2"), "rb_median"]) for s in structures}
    ratio = np.mean(list(r.values())) / max(np.mean(list(m.values())), 1e-9)
    higher = sum(r[s] > m[s] for s in structures)
    return Verdict(higher == len(structures) and ratio >= 2,
                   f"higher at {higher} of {len(structures)} structures; mean |RB| ResNet/RIM {ratio:.1f}x")


def _equivalent_scenarios(b: pd.DataFrame, method: str, structure: str) -> float:
    """Return the TOST p-value that a method's pooled relative errors in E1 and E2 differ by less than
    ``RB_MARGIN`` (unit: every estimate of every pixel of the region, as the paper's t-test)."""
    e1, e2 = b.loc[(method, structure, "E1")], b.loc[(method, structure, "E2")]
    return C.equivalent(e1["error_mean"], e1["error_sd"], e1["error_n"], e2["error_mean"], e2["error_sd"],
                        e2["error_n"], RB_MARGIN)


def mle_structures_unchanged(ev: Evidence) -> Verdict:
    """"For the MLE, the difference between scenarios E1 and E2 is not significant (with exception for the
    horizontal line)": E1/E2 equivalent (TOST) at every structure but the horizontal line, and there the t-test
    significant."""
    b, structures = _blur(ev, "Structure"), _structures(ev)
    horizontal = next(s for s in structures if s.startswith("horizontal"))
    same = {s: _equivalent_scenarios(b, "mle", s) for s in structures if s != horizontal}
    p_horizontal = b.loc[("mle", horizontal, "E2"), "p_rb"]
    return Verdict(all(p < C.ALPHA for p in same.values()) and p_horizontal < C.ALPHA,
                   "TOST p: " + "; ".join(f"{s} {p:.2g}" for s, p in same.items())
                   + f"; {horizontal}: t-test p = {p_horizontal:.2g}")


def rim_cv_increases(ev: Evidence) -> Verdict:
    """"The RIM showed increased CV for all structures compared to the baseline"."""
    b, structures = _blur(ev, "Structure"), _structures(ev)
    up = sum(b.loc[("rim", s, "E2"), "cv_median"] > b.loc[("rim", s, "E1"), "cv_median"] for s in structures)
    return Verdict(up == len(structures), f"increased at {up} of {len(structures)} structures")


def rim_cv_between(ev: Evidence) -> Verdict:
    """"Values were still lower than the MLE's and comparable to the ResNet's": the RIM's E2 median CV below the
    MLE's and within ``CV_MARGIN`` of the ResNet's at every structure (a point structure has one pixel: no test)."""
    b, structures = _blur(ev, "Structure"), _structures(ev)
    cv = {m: np.array([b.loc[(m, s, "E2"), "cv_median"] for s in structures]) for m in ("mle", "rim", "resnet")}
    lower, close = int((cv["rim"] < cv["mle"]).sum()), int((abs(cv["rim"] - cv["resnet"]) <= CV_MARGIN).sum())
    return Verdict(lower == len(structures) and close == len(structures),
                   f"below the MLE at {lower}, within {CV_MARGIN:g} points of the ResNet at {close} of "
                   f"{len(structures)} structures (largest gap {abs(cv['rim'] - cv['resnet']).max():.2f})")


def neighbourhood_networks_worse(ev: Evidence) -> Verdict:
    """"Higher Relative Bias for RIM and ResNet than the MLE, with a wider range of values" (Neighbourhood):
    median |RB| and range (max - min over the region) larger than the MLE's for each network, structure and
    scenario."""
    b, structures = _blur(ev, "Neighbourhood"), _structures(ev)
    cases = [(s, e) for s in structures for e in ("E1", "E2")]
    higher = {n: sum(abs(b.loc[(n, s, e), "rb_median"]) > abs(b.loc[("mle", s, e), "rb_median"]) for s, e in cases)
              for n in NETWORKS}
    width = {m: np.array([b.loc[(m, s, e), "rb_max"] - b.loc[(m, s, e), "rb_min"] for s, e in cases])
             for m in ("mle", *NETWORKS)}
    wider = {n: int((width[n] > width["mle"]).sum()) for n in NETWORKS}
    return Verdict(all(v == len(cases) for v in (*higher.values(), *wider.values())),
                   "; ".join(f"{METHOD_NAMES[n]}: |RB| higher in {higher[n]}, range wider in {wider[n]} of "
                             f"{len(cases)}" for n in NETWORKS))


def neighbourhood_unchanged(ev: Evidence) -> Verdict:
    """"We found no significant differences between E1 and E2 for any of the cases" (Neighbourhood): E1/E2
    equivalent (TOST at ``RB_MARGIN``) for every method and structure."""
    b, structures = _blur(ev, "Neighbourhood"), _structures(ev)
    ps = {(m, s): _equivalent_scenarios(b, m, s) for m in ("mle", *NETWORKS) for s in structures}
    shown = sum(p < C.ALPHA for p in ps.values())
    return Verdict(shown == len(ps), f"equivalent in {shown} of {len(ps)} (largest TOST p {max(ps.values()):.2g}); "
                   f"t-test p < 0.05 in {int((_blur(ev, 'Neighbourhood')['p_rb'] < C.ALPHA).sum())}")


def structures_retained(ev: Evidence) -> Verdict:
    """"The error introduced by the pixel neighborhood does not represent a significant change in the relaxation
    time of those structures" (RIM): the RIM's relative error in each E2 structure equivalent to zero within
    ``RETAINED_MARGIN`` (TOST, unit: every estimate of every pixel)."""
    b, structures = _blur(ev, "Structure"), _structures(ev)
    ps = {s: C.equivalent(b.loc[("rim", s, "E2"), "error_mean"], b.loc[("rim", s, "E2"), "error_sd"],
                          b.loc[("rim", s, "E2"), "error_n"], 0.0, 0.0, 1, RETAINED_MARGIN) for s in structures}
    return Verdict(all(p < C.ALPHA for p in ps.values()),
                   "; ".join(f"{s}: mean error {b.loc[('rim', s, 'E2'), 'error_mean']:+.2f}%, TOST p {p:.2g}"
                             for s, p in ps.items()))


# ---------------------------------------------------------------- timing (section 6.1, abstract, conclusion)

def _timing(ev: Evidence) -> pd.Series:
    """Return seconds per method of the paper's timing setting on a CPU, else raise ``NotChecked``."""
    t = ev.need("timing")
    setting = f"{t['matrix'].iloc[0]} x {t['n_images'].iloc[0]}"
    if setting != "256x256 x 31":
        raise NotChecked(f"this run timed a {setting} slice, not the paper's 256x256 x 31")
    if (t["device"] != "cpu").any():
        raise NotChecked("this run timed on " + ", ".join(sorted(set(t["device"]))) + ", the paper on a CPU")
    return t.set_index("method")["seconds"]


def _hardware(ev: Evidence) -> str:
    return str(ev.need("timing")["hardware"].iloc[0])


def time_value(ev: Evidence, method: str, paper: float) -> Verdict:
    """The paper's seconds per 256 x 256 x 31 slice of one method: ours on a CPU within the band."""
    seconds = _timing(ev)[method]
    return Verdict(C.in_band(seconds, paper), f"{seconds:.2f} s ({paper / seconds:.1f}x faster) on {_hardware(ev)}")


def time_ranking(ev: Evidence) -> Verdict:
    """RIM fastest, MLE slowest (3.8 s < 27 s < 575 s)."""
    t = _timing(ev)
    return Verdict(C.ranked(t.to_dict(), ("rim", "resnet", "mle")),
                   " < ".join(f"{METHOD_NAMES[m]} {t[m]:.2f} s" for m in t.sort_values().index))


def speed_ratio(ev: Evidence) -> Verdict:
    """"150 times faster than the MLE": MLE seconds over RIM seconds within ``RATIO_BAND`` of 151 (575 / 3.8)."""
    t = _timing(ev)
    ratio = t["mle"] / t["rim"]
    return Verdict(C.in_band(ratio, 575 / 3.8, RATIO_BAND), f"{ratio:.1f}x on {_hardware(ev)}")


# ---------------------------------------------------------------- phantom (section 6.2, fig. 4, A2; discussion)

def _averages(ev: Evidence, name: str) -> pd.DataFrame:
    """Return per method the mean |RB| and CV (%) over the in-range spheres of the paper's phantom ``name``."""
    return restricted_averages(ev.need("phantoms", ev.paper_dataset(name, "phantoms")))


def phantom_rim_lowest(ev: Evidence, metric: str) -> Verdict:
    """The RIM's mean over HP_T1's in-range spheres below the MLE's and the ResNet's."""
    values = _averages(ev, "HP_T1")[metric]
    return Verdict(bool(values["rim"] < values.drop("rim").min()), _names(values.to_dict()))


def phantom_values(ev: Evidence, metric: str, paper: dict[str, float]) -> Verdict:
    """The paper's HP_T1 averages, every method within the band."""
    values = _averages(ev, "HP_T1")[metric]
    inside = [m for m in paper if C.in_band(values[m], paper[m])]
    return Verdict(len(inside) == len(paper), _names(values.to_dict()) + f"; {len(inside)} of {len(paper)} in band")


def phantom_t2_larger(ev: Evidence) -> Verdict:
    """"Larger Relative Bias for all methods" (HP_T2 against HP_T1): each method's mean |RB| over the in-range
    spheres."""
    t1, t2 = _averages(ev, "HP_T1")["rb"], _averages(ev, "HP_T2")["rb"]
    larger = [m for m in t1.index if t2[m] > t1[m]]
    return Verdict(len(larger) == len(t1), "; ".join(f"{METHOD_NAMES[m]} {t1[m]:.2f}% -> {t2[m]:.2f}%" for m in t1.index))


def phantoms_rim_lowest_bias(ev: Evidence) -> Verdict:
    """"The RIM has the lowest Relative Bias among the evaluated methods" (phantom experiments): HP_T1 and HP_T2."""
    found = {name: _averages(ev, name)["rb"] for name in ("HP_T1", "HP_T2")}
    lowest = [n for n, v in found.items() if v["rim"] < v.drop("rim").min()]
    return Verdict(len(lowest) == len(found), "; ".join(f"{n}: {_names(v.to_dict())}" for n, v in found.items()))


def phantoms_resnet_significantly_worse(ev: Evidence) -> Verdict:
    """"The ResNet presented significantly higher error": per in-range sphere its mean |RB| against the RIM's
    and the MLE's, one-sided paired t-test over spheres at 0.05, HP_T1 and HP_T2."""
    found = {}
    for name in ("HP_T1", "HP_T2"):
        table = ev.need("phantoms", ev.paper_dataset(name, "phantoms"))
        rb = table[(table["metric"] == "rb") & table["in_range"]].pivot(index="sphere", columns="method",
                                                                         values="pixel_abs_mean")
        found[name] = {m: C.greater_paired(rb["resnet"] - rb[m]) for m in ("rim", "mle")}
    return Verdict(all(p < C.ALPHA for ps in found.values() for p in ps.values()), "; ".join(
        f"{n}: p = {ps['rim']:.2g} vs RIM, {ps['mle']:.2g} vs MLE" for n, ps in found.items()))


# ---------------------------------------------------------------- in vivo (section 6.3, fig. 5-8; discussion)

def _volunteer(ev: Evidence, name: str, parameter: str) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Return volunteer 1's maps ``{method: (scans, H, W)}`` of ``parameter``, its truth (H, W) and labels (H, W)."""
    arrays = ev.need("invivo", ev.paper_dataset(name, "invivo"))
    q = list(arrays["param_names"]).index(parameter)
    maps = {m: arrays[m][0, :, q] for m in ("mle", "rim", "resnet") if m in arrays}
    return maps, arrays["truth"][0, q], arrays["labels"][0]


def _outlier_counts(ev: Evidence, name: str, scans: int) -> dict[str, int]:
    """Return per method the outliers (``qmri.paper.metrics.outliers``, against the truth) in the brain of volunteer
    1's first ``scans`` scans."""
    maps, truth, labels = _volunteer(ev, name, "T1")
    brain = np.isin(labels, T.BRAIN_LABELS)
    return {m: int(sum(outliers(v[c], truth, brain).sum() for c in range(min(scans, len(v))))) for m, v in maps.items()}


def clean_rim_map(ev: Evidence) -> Verdict:
    """"Outliers in the MLE and ResNet, while the RIM produced a clean T1 map" (IV_T1, volunteer 1, scan 1): the
    RIM none, the MLE and the ResNet at least one."""
    n = _outlier_counts(ev, "IV_T1", 1)
    return Verdict(n["rim"] == 0 and n["mle"] > 0 and n["resnet"] > 0, _names(n, "{}", " outliers"))


def noisy_fewer_outliers(ev: Evidence) -> Verdict:
    """"Clearly outperforming these methods in terms of outliers" (IV_T1 noisy, volunteer 1, scans 1 and 2): the
    RIM at most half the MLE's and the ResNet's outliers, and fewer than each."""
    n = _outlier_counts(ev, "IV_T1 noisy", 2)
    clear = all(n["rim"] < n[m] and n["rim"] <= n[m] / 2 for m in ("mle", "resnet"))
    return Verdict(clear, _names(n, "{}", " outliers"))


def mle_most_outliers(ev: Evidence) -> Verdict:
    """"The MLE presented a high number of outliers": the most of the three (IV_T1 noisy, volunteer 1, 2 scans)."""
    n = _outlier_counts(ev, "IV_T1 noisy", 2)
    return Verdict(n["mle"] > max(n["rim"], n["resnet"]), _names(n, "{}", " outliers"))


def _relative_differences(ev: Evidence, name: str, parameter: str, region: np.ndarray | None = None
                          ) -> dict[str, np.ndarray]:
    """Return per network the per-pixel relative difference to the MLE (%) of volunteer 1, scan 1, over GM and
    WM (or ``region``)."""
    maps, _, labels = _volunteer(ev, name, parameter)
    keep = np.isin(labels, (T.GM, T.WM)) if region is None else region
    mle = maps["mle"][0][keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        return {n: (maps[n][0][keep] / mle - 1) * 100 for n in NETWORKS}


def rim_near_mle_resnet_over(ev: Evidence) -> Verdict:
    """"The RIM estimate is nearly unbiased when compared to the MLE's, while the ResNet presented overestimated
    T1 values" (IV_T1, volunteer 1, scan 1, GM and WM pixels): the RIM's per-pixel relative difference equivalent
    to zero within ``UNBIASED_MARGIN`` (TOST), the ResNet's significantly above that margin (one-sided t-test)."""
    d = _relative_differences(ev, "IV_T1", "T1")
    p_rim, p_resnet = C.equivalent_paired(d["rim"], UNBIASED_MARGIN), C.greater_paired(d["resnet"], UNBIASED_MARGIN)
    return Verdict(p_rim < C.ALPHA and p_resnet < C.ALPHA,
                   f"mean difference to the MLE: RIM {np.nanmean(d['rim']):+.2f}% (TOST p {p_rim:.2g}), "
                   f"ResNet {np.nanmean(d['resnet']):+.2f}% (p {p_resnet:.2g})")


def _mean_cvs(ev: Evidence) -> dict[str, float]:
    """Return per method the mean pixel-wise T1 CV (%) over the brain of IV_T1 noisy's volunteer 1 ("average CV
    over all pixels", fig. 6b)."""
    maps, _, labels = _volunteer(ev, "IV_T1 noisy", "T1")
    brain = np.isin(labels, T.BRAIN_LABELS)
    return {m: float(np.nanmean(coefficient_of_variation(v[:, brain]))) for m, v in maps.items()}


def noisy_cv_ranking(ev: Evidence) -> Verdict:
    """RIM 6.4 % < ResNet 11.06 % < MLE 17.1 %."""
    cv = _mean_cvs(ev)
    return Verdict(C.ranked(cv, ("rim", "resnet", "mle")), _names(cv))


def noisy_cv_values(ev: Evidence) -> Verdict:
    """The paper's average CVs, every method within the band."""
    cv, paper = _mean_cvs(ev), {"rim": 6.4, "mle": 17.1, "resnet": 11.06}
    inside = [m for m in paper if C.in_band(cv[m], paper[m])]
    return Verdict(len(inside) == len(paper), _names(cv) + f"; {len(inside)} of {len(paper)} in band")


def sharpness_equivalent(ev: Evidence) -> Verdict:
    """"The paired t-test shows no significant differences between methods": |nu| of every pair of methods
    equivalent over the lines (paired TOST, margin ``SHARPNESS_MARGIN`` of the mean |nu|)."""
    wide = ev.need("sharpness").pivot(index="line", columns="method", values="abs_nu").dropna()
    margin = SHARPNESS_MARGIN * float(wide.to_numpy().mean())
    methods = [m for m in ("mle", "rim", "resnet") if m in wide]
    ps = {(a, b): C.equivalent_paired(wide[a] - wide[b], margin) for i, a in enumerate(methods) for b in methods[i + 1:]}
    return Verdict(all(p < C.ALPHA for p in ps.values()),
                   f"{len(wide)} lines, margin {margin:.3g}/mm; TOST p: "
                   + ", ".join(f"{METHOD_NAMES[a]}-{METHOD_NAMES[b]} {p:.2g}" for (a, b), p in ps.items()))


def _t2_differences(ev: Evidence) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Return per network T2 minus the MLE's (ms) of IV_T2 volunteer 1 scan 1 over the brain, with the labels
    there."""
    maps, _, labels = _volunteer(ev, "IV_T2", "T2")
    brain = np.isin(labels, T.BRAIN_LABELS)
    return {n: maps[n][0][brain] - maps["mle"][0][brain] for n in NETWORKS}, labels[brain]


def t2_resnet_over_most_regions(ev: Evidence) -> Verdict:
    """"The ResNet overestimated the T2 values for most of the brain regions": mean ResNet - MLE positive in
    more than half of the brain's tissue classes (CSF, GM, WM), each by a one-sided t-test at 0.05."""
    d, labels = _t2_differences(ev)
    ps = {T.LABEL_NAMES[k]: C.greater_paired(d["resnet"][labels == k]) for k in T.BRAIN_LABELS}
    over = [k for k, p in ps.items() if p < C.ALPHA]
    return Verdict(len(over) > len(ps) / 2, f"over in {', '.join(over) or 'none'} ("
                   + ", ".join(f"{k} {np.mean(d['resnet'][labels == T.BRAIN_LABELS[i]]):+.1f} ms"
                               for i, k in enumerate(ps)) + ")")


def t2_difference(ev: Evidence, network: str, paper: float) -> Verdict:
    """The paper's average T2 difference to the MLE over the brain mask (with CSF), volunteer 1, scan 1."""
    value = float(np.nanmean(_t2_differences(ev)[0][network]))
    return Verdict(C.in_band(value, paper), f"{value:+.2f} ms")


def t2_networks_fail_above(ev: Evidence, threshold_ms: float = 750.0) -> Verdict:
    """"Neither neural network was able to correctly estimate T2 values above 750 ms": in the brain pixels whose
    simulated T2 exceeds 750 ms, most estimates of each network off the truth by more than ``CORRECT_TOLERANCE``."""
    maps, truth, labels = _volunteer(ev, "IV_T2", "T2")
    high = np.isin(labels, T.BRAIN_LABELS) & (truth > threshold_ms)
    if not high.any():
        raise NotChecked("no brain pixel of volunteer 1 has T2 above 750 ms")
    wrong = {n: float(np.mean(np.abs(maps[n][0][high] / truth[high] - 1) > CORRECT_TOLERANCE) * 100) for n in NETWORKS}
    return Verdict(all(v > 50 for v in wrong.values()),
                   f"{int(high.sum())} pixels; off by > 20 %: " + _names(wrong, "{:.0f}"))


def t2_agreement_below(ev: Evidence, threshold_ms: float = 500.0) -> Verdict:
    """"For T2 < 500 ms, the RIM presented a strong agreement with the MLE, while the ResNet produced, in average,
    overestimated values": over brain pixels with MLE T2 below 500 ms, the RIM's relative difference equivalent
    to zero within ``AGREEMENT_MARGIN`` (TOST), the ResNet's mean difference positive (one-sided t-test)."""
    maps, _, labels = _volunteer(ev, "IV_T2", "T2")
    d = _relative_differences(ev, "IV_T2", "T2", np.isin(labels, T.BRAIN_LABELS) & (maps["mle"][0] < threshold_ms))
    p_rim, p_resnet = C.equivalent_paired(d["rim"], AGREEMENT_MARGIN), C.greater_paired(d["resnet"])
    return Verdict(p_rim < C.ALPHA and p_resnet < C.ALPHA,
                   f"RIM {np.nanmean(d['rim']):+.2f}% (TOST p {p_rim:.2g}), ResNet {np.nanmean(d['resnet']):+.2f}% "
                   f"(p {p_resnet:.2g})")


def t2_mapped_near_2000(ev: Evidence, threshold_ms: float = 500.0) -> Verdict:
    """"T2 values above this range were mapped to a narrow distribution around 2000 ms": for brain pixels whose
    simulated T2 exceeds 500 ms, each network's median estimate within the band of 2000 ms and its interquartile
    range below ``NARROW`` of that median."""
    maps, truth, labels = _volunteer(ev, "IV_T2", "T2")
    high = np.isin(labels, T.BRAIN_LABELS) & (truth > threshold_ms)
    if not high.any():
        raise NotChecked("no brain pixel of volunteer 1 has T2 above 500 ms")
    found = {n: np.percentile(maps[n][0][high], [25, 50, 75]) for n in NETWORKS}
    holds = all(C.in_band(q[1], 2000.0) and (q[2] - q[0]) < NARROW * q[1] for q in found.values())
    return Verdict(holds, "; ".join(f"{METHOD_NAMES[n]} median {q[1]:.0f} ms, IQR {q[2] - q[0]:.0f} ms"
                                    for n, q in found.items()))


# ---------------------------------------------------------------- generalisation (section 6.4, fig. 9)

def _generalisation(ev: Evidence) -> pd.DataFrame:
    return ev.need("generalisation")


def rims_below_mle_resnet(ev: Evidence) -> Verdict:
    """"The RIM produces estimates with lower variance than the MLE and ResNet, regardless of the number of
    inversion times used to create the training set": every T1 RIM's median CV below both, every dataset and
    subject."""
    g = _generalisation(ev)
    cases = 0
    below = 0
    for _, part in g.groupby(["dataset", "subject"]):
        cv = part.set_index("model")["median_cv_t1"]
        rims = [m for m in cv.index if m.startswith("rim ")]
        cases += len(rims)
        below += sum(cv[r] < min(cv["mle"], cv["resnet"]) for r in rims)
    return Verdict(below == cases, f"{below} of {cases} (RIM, dataset, subject) below both")


def own_rim_best(ev: Evidence) -> Verdict:
    """"In every case, the RIM trained for the specific data performs slightly better than the other RIM
    models": the own protocol's RIM has the lowest median CV among the RIMs, every dataset and subject."""
    g = _generalisation(ev)
    best, lines = 0, []
    groups = list(g.groupby(["dataset", "subject"]))
    for (dataset, subject), part in groups:
        cv = part.set_index("model")["median_cv_t1"]
        rims = cv[[m for m in cv.index if m.startswith("rim ")]]
        own = f"rim {part['protocol'].iloc[0]}"
        best += rims.idxmin() == own
        lines.append(f"{dataset} {subject}: lowest {rims.idxmin()} ({rims.min():.2f}%), own {rims[own]:.2f}%")
    return Verdict(best == len(groups), f"own RIM lowest in {best} of {len(groups)}; " + "; ".join(lines))


def rims_equally_repeatable(ev: Evidence) -> Verdict:
    """"We found no significant differences in repeatability between these models": every other RIM's per-pixel
    CV equivalent to the own RIM's within ``REPEATABILITY_MARGIN`` (paired TOST over the tissue pixels), every
    dataset and subject."""
    g = _generalisation(ev)
    rows = g[g["model"].str.startswith("rim ") & (g["model"] != "rim " + g["protocol"])]
    ps = [C.equivalent(r.cv_minus_own_mean, r.cv_minus_own_sd, r.pixels, 0.0, 0.0, 1, REPEATABILITY_MARGIN)
          for r in rows.itertuples()]
    shown = sum(p < C.ALPHA for p in ps)
    return Verdict(shown == len(ps), f"equivalent in {shown} of {len(ps)}; mean CV differences "
                   f"{rows['cv_minus_own_mean'].min():+.2f} to {rows['cv_minus_own_mean'].max():+.2f} points")
