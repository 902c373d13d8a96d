# Section 5.1.1: noise robustness on the unseen test slice (figure 2, supplementary figure A1).


rule montecarlo:
    input:
        unpack(test_brain),
        rim="results/models/rim/{protocol}.pt",
        resnet="results/models/resnet/{protocol}.pt",
    output:
        "results/montecarlo/{protocol}.csv",
    params:
        task=lambda w: PROTOCOLS[w.protocol]["task"],
        tau_ms=lambda w: PROTOCOLS[w.protocol]["tau_ms"],
        snr=config["montecarlo"]["snr"],
        repetitions=config["montecarlo"]["repetitions"],
        lambda_b=config["mle"]["lambda_b"],
        trainset=config["trainset"],
        geometry=config["simulation"],
        seed=config["seed"],
    log:
        "logs/montecarlo/{protocol}.log",
    benchmark:
        "benchmarks/montecarlo/{protocol}.tsv"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=120,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/montecarlo.py"


rule montecarlo_figure:
    input:
        lambda w: f"results/montecarlo/{MONTECARLO_FIGURES[w.figure]}.csv",
    output:
        png=report(
            "results/figures/{figure}.png",
            caption="../report/montecarlo.rst",
            category="Simulations",
        ),
        pdf="results/figures/{figure}.pdf",
    wildcard_constraints:
        figure="|".join(MONTECARLO_FIGURES),
    params:
        title=lambda w: f"Monte Carlo, {MONTECARLO_FIGURES[w.figure]}: per-pixel metrics over the brain",
    log:
        "logs/figures/{figure}.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/montecarlo_figure.py"
