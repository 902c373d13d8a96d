"""The reproduction report: every statement of the paper's register (``qmri.paper.audit.register``) next to ours.

The report opens with a one-screen summary per section of the paper, then lists every register row with
its verdict (agrees, DISAGREES, inconclusive, not comparable, not checked), the data it is judged on, the
criterion and the figure or table that shows it.
Statements of ours (our network, the budget study) have their own "beyond the paper" sections.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import yaml

from qmri.paper.audit import judges as J
from qmri.paper.audit.evidence import RunData
from qmri.paper.audit.judges import Verdict
from qmri.paper.audit.register import SECTIONS, Claim, data_of, distinct_statements
from qmri.paper.metrics import coefficient_of_variation, outliers
from qmri.paper.naming import METHOD_NAMES, OUR_METHODS, method_name
from qmri.paper.phantom.analysis import restricted_averages
from qmri.simulation import tissues as T

#: how each kind of verdict is printed in the register
MARKS = {J.AGREES: "agrees", J.DISAGREES: "**DISAGREES**", J.INCONCLUSIVE: "inconclusive",
         J.NOT_COMPARABLE: "not comparable", J.NOT_CHECKED: "not checked"}


def counts(verdicts: list[Verdict]) -> str:
    """Return "a agree, d DISAGREE, i inconclusive, n not comparable, c not checked"."""
    kinds = [v.kind for v in verdicts]
    words = {J.AGREES: "agree", J.DISAGREES: "DISAGREE"}
    return ", ".join(f"{kinds.count(k)} {words.get(k, k)}" for k in J.KINDS)


def header(claims: tuple[Claim, ...], verdicts: dict[str, Verdict], seeds: int = 1,
           unstable: dict[str, list[str]] | None = None) -> str:
    """Return the report's first line: distinct statements and rows, the five counts of the independent rows
    and those of the rows that repeat a statement on their own clause; with ``seeds`` > 1, how many rows are
    ``unstable`` (their verdict differs between the networks' seeds)."""
    independent = [verdicts[c.key] for c in claims if not c.is_repeat]
    repeats = [verdicts[c.key] for c in claims if c.is_repeat]
    line = (f"**{len(distinct_statements(claims))} distinct statements, {len(claims)} rows.** "
            f"Independent rows ({len(independent)}): {counts(independent)}. Rows that repeat a statement of the "
            f"paper, judged on their own clause ({len(repeats)}): {counts(repeats)}.")
    if seeds > 1:
        moved = [c.key for c in claims if c.key in (unstable or {})]
        line += (f" Verdicts on the networks of seed 1; judged again on each of {seeds} seeds, "
                 f"{len(moved)} rows are unstable" + (f" ({', '.join(moved)})." if moved else "."))
    else:
        line += " Networks trained with one seed: verdict stability not measured (`training.seeds`)."
    return line


def verdict_cell(verdict: Verdict, seeds: list[str] | None = None) -> str:
    """Return a register row's verdict; ``seeds``: the kinds of each seed where they differ ("unstable")."""
    mark = MARKS[verdict.kind]
    return mark if not seeds else f"{mark}, unstable (seeds 1-{len(seeds)}: {', '.join(seeds)})"


def _cell(text: str) -> str:
    """Return ``text`` safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def summary(claims: tuple[Claim, ...], verdicts: dict[str, Verdict]) -> list[str]:
    """Return the one-screen summary: per section of the paper, the five counts of its rows and those that
    disagree, then each measured reason attached to a disagreement with the rows it explains."""
    lines = ["| section | subject | agree | DISAGREE | inconclusive | not comparable | not checked | does not "
             "reproduce |", "|---|---|---|---|---|---|---|---|"]
    for section, subject in SECTIONS.items():
        rows = [c for c in claims if c.section == section]
        kinds = [verdicts[c.key].kind for c in rows]
        failed = ", ".join(c.key for c in rows if verdicts[c.key].kind == J.DISAGREES)
        lines.append(f"| {section} | {subject} | " + " | ".join(str(kinds.count(k)) for k in J.KINDS)
                     + f" | {failed or '-'} |")
    causes: dict[str, list[str]] = {}
    for c in claims:
        v = verdicts[c.key]
        if v.kind == J.DISAGREES and v.reason:
            causes.setdefault(v.reason, []).append(c.key)
    if causes:
        lines += ["", "Measured reasons:"] + [f"- {', '.join(keys)}: {cause}" for cause, keys in causes.items()]
    return lines


def method_lines() -> list[str]:
    """Return the section that says how the audit judges: the kinds of verdict and one margin per wording."""
    lines = ["## How the audit judges", "",
             "Each row is judged among the paper's three methods (ours never changes a verdict), on the data its "
             "\"data\" column names, by a criterion fixed before any result was read (`qmri.paper.audit`). Five "
             "kinds of verdict:", "",
             "- **agrees**: the data show what the words say;",
             "- **DISAGREES**: the data contradict the words: a significant difference beyond the margin, or a "
             "ranking reversed with significance;",
             "- **inconclusive**: neither is shown; the row gives the 90 % confidence interval and the sample size "
             "that would decide it;",
             "- **not comparable**: this run's stand-in data or implementation cannot answer the words (the reason "
             "says why and what would);",
             "- **not checked**: nothing in this run answers them.", "",
             "A statement of several clauses holds only if each does; a repeated statement (abstract, discussion, "
             "conclusion) is judged on its own clause. One margin per kind of wording:", "",
             "| wording | quantity | margin | test |", "|---|---|---|---|"]
    lines += [f"| {_cell(m.wording)} | {_cell(m.quantity)} | {_cell(m.margin)} | {_cell(m.test)} |"
              for m in J.MARGINS]
    return lines


def register_rows(claims: tuple[Claim, ...], verdicts: dict[str, Verdict], figures: dict[str, str],
                  run: RunData | None = None, real: dict[str, Verdict] | None = None,
                  unstable: dict[str, list[str]] | None = None) -> list[str]:
    """Return the register as a Markdown table; ``figures`` maps a figure name to its path relative to the
    report (the evidence column links it); ``real`` adds each phantom row's second verdict on real scans;
    ``unstable`` marks the rows whose verdict differs between seeds."""
    run, unstable = run or RunData(), unstable or {}
    head = "| # | section | the paper's words | paper | data | ours | criterion | verdict |"
    head += " on real phantom scans |" if real else ""
    lines = [head + " why / evidence |", "|---" * (10 if real else 9) + "|"]
    for claim in claims:
        v = verdicts[claim.key]
        link = f"[{claim.evidence}]({figures[claim.evidence]})" if claim.evidence in figures else claim.evidence
        data = "; ".join(run.describe(d) for d in data_of(claim, claims))
        cells = [claim.key, claim.section, f"\"{claim.words}\"", claim.paper, data, v.ours or "-", claim.criterion,
                 verdict_cell(v, unstable.get(claim.key))]
        if real:
            second = real.get(claim.key)
            cells.append(f"{MARKS[second.kind]}: {second.ours or second.reason}" if second else "-")
        cells.append(f"{v.reason + '; ' if v.reason else ''}{link}")
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def ours_table(t1: pd.DataFrame, t2: pd.DataFrame, phantoms: dict[str, pd.DataFrame], timing: pd.DataFrame
               ) -> pd.DataFrame:
    """Return our RIM beside the paper's RIM and the MLE: Monte Carlo medians over the brain of the measured time
    per SNR, phantom averages over the in-range spheres, and seconds per slice (``timing``)."""
    compared = [m for m in ("mle", "rim", *OUR_METHODS) if m in set(t1["method"])]
    rows = []
    for table, parameter in ((t1, "T1"), (t2, "T2")):
        medians = table[table["parameter"] == parameter].pivot_table(index=["snr", "metric"], columns="method",
                                                                      values="median")
        for (snr, metric), row in medians.iterrows():
            rows.append({"experiment": f"Monte Carlo {parameter}, SNR {snr:g}", "quantity": f"median {metric.upper()} (%)",
                         **{m: row[m] for m in compared}})
    for dataset, table in phantoms.items():
        averages = restricted_averages(table)
        for metric in ("rb", "cv"):
            rows.append({"experiment": f"phantom {dataset}, in-range spheres",
                         "quantity": f"mean {'|RB|' if metric == 'rb' else 'CV'} (%)",
                         **{m: averages.loc[m, metric] for m in compared if m in averages.index}})
    seconds = timing.set_index("method")["seconds"]
    rows.append({"experiment": f"time per slice ({timing['matrix'].iloc[0]} x {timing['n_images'].iloc[0]})",
                 "quantity": "seconds", **{m: seconds[m] for m in compared if m in seconds.index}})
    return pd.DataFrame(rows).rename(columns=METHOD_NAMES).set_index(["experiment", "quantity"])


def timing_table(timing: pd.DataFrame) -> pd.DataFrame:
    """Return seconds per slice of each timed method and each one's speed-up over both MLEs (the paper's kind,
    per voxel, and ours, vectorised over voxels)."""
    seconds = timing.set_index("method")["seconds"]
    table = pd.DataFrame({"seconds": seconds, "paper (s)": timing.set_index("method")["paper_seconds"]})
    for mle in ("mle-voxelwise", "mle"):
        if mle in seconds:
            table[f"speed-up over {METHOD_NAMES.get(mle, mle)}"] = seconds[mle] / seconds
    table.index = [METHOD_NAMES.get(m, m) for m in table.index]
    return table.rename_axis("method")


def volunteer_table(invivo: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    """Return per in-vivo dataset (simulated: labels, truth and maps ``(V, C, Q, H, W)``; real: ``mask`` and maps)
    and method the mean and median pixel-wise CV (%) of the relaxation time over the brain (head mask for real
    scans), averaged over volunteers, and for simulated volunteers the outliers of volunteer 1, scan 1."""
    rows = []
    for dataset, arrays in invivo.items():
        names = list(arrays["param_names"])
        q = len(names) - 1
        simulated = "labels" in arrays
        regions = np.isin(arrays["labels"], T.BRAIN_LABELS) if simulated else arrays["mask"].astype(bool)
        for method in [m for m in METHOD_NAMES if m in arrays]:
            maps = arrays[method]
            cvs = [coefficient_of_variation(maps[v, :, q][:, regions[v]]) for v in range(len(regions))]
            bad = (int(outliers(maps[0, 0, q], arrays["truth"][0, q], regions[0]).sum()) if simulated else None)
            rows.append({"dataset": dataset, "volunteers": "simulated" if simulated else "real",
                         "parameter": names[q], "method": METHOD_NAMES[method],
                         "mean CV (%)": np.mean([np.nanmean(c) for c in cvs]),
                         "median CV (%)": np.mean([np.nanmedian(c) for c in cvs]),
                         "outliers (volunteer 1, scan 1)": bad})
    return pd.DataFrame(rows).set_index(["dataset", "volunteers", "parameter", "method"])


def generalisation_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Return figure 9 as a table: median T1 CV (%) per dataset and subject (rows) and model (columns)."""
    wide = table.pivot_table(index=["dataset", "n_tau", "subject"], columns="model", values="median_cv_t1",
                             sort=False)
    return wide.rename(columns=method_name)


def headline_table(t1: pd.DataFrame) -> pd.DataFrame:
    """Return median relative bias and CV of T1 over the brain per SNR and method (fig. 2c, f)."""
    part = t1[t1["parameter"] == "T1"]
    table = part.pivot_table(index="snr", columns=["metric", "method"], values="median")
    table.columns = [f"{method_name(m)} {'RB' if k == 'rb' else 'CV'} (%)" for k, m in table.columns]
    return table


def training_table(metas: list[dict]) -> pd.DataFrame:
    """Return one row per trained model (checkpoint metadata): its seed, where and how long it trained, and the model
    it was fine-tuned from (``started from``, empty when trained from scratch)."""
    return pd.DataFrame([{"model": f"{METHOD_NAMES[m['method']]} {m['protocol']}", "seed": m.get("seed", ""),
                          "iterations": m["iterations"],
                          "started from": m.get("started_from", ""),
                          "seconds": round(m["train_seconds"]), "device": m["device"],
                          "precision": m["autocast"].removeprefix("torch."), "hardware": m.get("hardware", ""),
                          "git revision": m["git_revision"][:12]} for m in metas]).set_index("model")


def render(claims: tuple[Claim, ...], verdicts: dict[str, Verdict], headline: pd.DataFrame, context: dict[str, str],
           figures: list[str], config: dict, models: pd.DataFrame, ours: pd.DataFrame | None = None,
           tables: dict[str, pd.DataFrame] | None = None,
           run: RunData | None = None, real: dict[str, Verdict] | None = None, seeds: int = 1,
           unstable: dict[str, list[str]] | None = None) -> str:
    """Return the report as Markdown: the counts, the summary, how the audit judges, the register with its
    verdicts (and second verdicts on real phantom scans, ``real``), the headline, the models, ``tables`` (title ->
    table: volunteers, generalisation, the studies beyond the paper, run cost, ...), ours (``ours_table``), every
    figure and the run's ``config``; ``figures`` are
    paths relative to the report; ``run`` names the data each row is judged on; ``unstable``: the rows whose
    verdict differs between the ``seeds`` the networks were trained with."""
    by_name = {f.rsplit("/", 1)[-1].removesuffix(".png"): f for f in figures}
    lines = ["# Reproduction report: Sabidussi et al., Medical Image Analysis 74 (2021) 102220", "",
             header(claims, verdicts, seeds, unstable), "", "## Summary", "", *summary(claims, verdicts), "",
             "## How this was produced", ""]
    lines += [f"- **{k}**: {v}" for k, v in context.items()]
    lines += ["", *method_lines()]
    lines += ["", "## The register: every statement of the paper", "", *register_rows(claims, verdicts, by_name, run,
                                                                                      real, unstable)]
    lines += ["", "## Headline: T1 on the unseen slice (median over the brain, Monte Carlo of section 5.1.1)", "",
              headline.to_markdown(floatfmt=".2f"), "", "## Trained models", "", models.to_markdown(disable_numparse=True), ""]
    for title, table in (tables or {}).items():
        lines += [f"## {title}", "", table.reset_index().to_markdown(index=False, floatfmt=".2f"), ""]
        lines += [*table.attrs.get("notes", []), ""] if table.attrs.get("notes") else []
    if ours is not None:
        lines += ["## Beyond the paper: our any-protocol RIM (aRIM)", "",
                  "One model per task for every protocol, trained on structure-agnostic maps over the physical range, "
                  "B pooled over the image (docs: the networks); same scans as the paper's methods. Not part of the "
                  "statements above.", "", ours.reset_index().to_markdown(index=False, floatfmt=".2f"), ""]
    lines += ["## Figures", ""]
    lines += [f"![{f}]({f})" for f in figures]
    lines += ["", "## Configuration of this run", "", "```yaml", yaml.safe_dump(config, sort_keys=False).strip(), "```"]
    return "\n".join(lines) + "\n"
