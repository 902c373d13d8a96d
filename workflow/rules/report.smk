# The reproduction report: every statement of the paper's register judged on this run (results/report/reproduction.md).


rule report:
    input:
        montecarlo_t1=f"results/montecarlo/{config['montecarlo']['protocols']['t1']}.csv",
        montecarlo_t2=f"results/montecarlo/{config['montecarlo']['protocols']['t2']}.csv",
        timing="results/timing/timing.csv",
        blurriness="results/blurriness/blurriness.csv",
        sharpness="results/sharpness/iv-t1.csv",
        phantom=expand("results/phantom/{phantom}.csv", phantom=PHANTOMS),
        invivo=expand("results/invivo/{dataset}.npz", dataset=INVIVO),
        invivo_real=expand("results/invivo_real/{real}.npz", real=REAL_INVIVO),
        generalisation="results/generalisation/generalisation.csv",
        figures=ALL_FIGURES,
        models=expand("results/models/{method}/{protocol}.pt", method=METHODS + list(REPLICATES),
                      protocol=PROTOCOLS),
        # the studies beyond the paper, where config forms.enabled and budget.enabled
        **({"forms": "results/forms/forms.csv"} if config["forms"]["enabled"] else {}),
        **({"budget": "results/budget/budget.csv"} if config["budget"]["enabled"] else {}),
    output:
        report(
            "results/report/reproduction.md",
            caption="../report/reproduction.rst",
            category="Report",
        ),
    params:
        config=config,
        # every job's timing table: the report runs after all of them, so theirs are written (run cost section)
        benchmarks="benchmarks",
    log:
        "logs/report.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/report.py"
