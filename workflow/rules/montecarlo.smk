# Section 5.1.1: noise robustness on the unseen test slice (figure 2, supplementary figure A1).


rule montecarlo:
    input:
        unpack(test_brain),
        **fits_of("montecarlo", "{protocol}", "{protocol}"),
    output:
        "results/montecarlo/{protocol}.csv",
    params:
        study=study("montecarlo"),
    log:
        "logs/montecarlo/{protocol}.log",
    benchmark:
        "benchmarks/montecarlo/{protocol}.tsv"
    resources:
        mem_mb=6000,
        runtime=10,
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
        title=lambda w: f"Monte Carlo, unseen slice, {protocol_words(MONTECARLO_FIGURES[w.figure])}, "
        f"C = {config['montecarlo']['repetitions']} noise realisations per SNR: per-pixel metrics over the brain",
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "benchmarks/montecarlo_figure/{figure}.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/montecarlo_figure.py"
