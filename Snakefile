# qmri-rim: reproduce Sabidussi et al. (2021), "Recurrent inference machines as inverse problem
# solvers for MR relaxometry". Run from the repository root:  snakemake --cores 8 all_figures
import pathlib

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/brains.smk"
include: "workflow/rules/trainset.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/fits.smk"
include: "workflow/rules/montecarlo.smk"
include: "workflow/rules/blurriness.smk"
include: "workflow/rules/invivo.smk"
include: "workflow/rules/phantom.smk"
include: "workflow/rules/timing.smk"
include: "workflow/rules/forms.smk"
include: "workflow/rules/budget.smk"
include: "workflow/rules/arim.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/figures.smk"


rule all_figures:
    default_target: True
    input:
        ALL_FIGURES,
        "results/report/reproduction.md",
