# Section 5.1.2: small structures added to the test slice's T1 map (figure 3).


rule blurriness:
    input:
        unpack(test_brain),
        rim=f"results/models/rim/{TIMING_PROTOCOL}.pt",
        resnet=f"results/models/resnet/{TIMING_PROTOCOL}.pt",
    output:
        table="results/blurriness/blurriness.csv",
        maps="results/blurriness/structures.npz",
    params:
        task=PROTOCOLS[TIMING_PROTOCOL]["task"],
        tau_ms=PROTOCOLS[TIMING_PROTOCOL]["tau_ms"],
        snr=config["blurriness"]["snr"],
        repetitions=config["blurriness"]["repetitions"],
        lambda_b=config["mle"]["lambda_b"],
        trainset=config["trainset"],
        geometry=config["simulation"],
        seed=config["seed"],
    log:
        "logs/blurriness.log",
    benchmark:
        "benchmarks/blurriness.tsv"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/blurriness.py"


rule blurriness_figure:
    input:
        table="results/blurriness/blurriness.csv",
        maps="results/blurriness/structures.npz",
    output:
        png=report("results/figures/fig3_blurriness.png", caption="../report/blurriness.rst", category="Simulations"),
        pdf="results/figures/fig3_blurriness.pdf",
    log:
        "logs/figures/fig3_blurriness.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/blurriness_figure.py"
