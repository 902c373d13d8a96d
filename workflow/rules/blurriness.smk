# Section 5.1.2: small structures added to the test slice's T1 map (figure 3).


rule blurriness:
    input:
        unpack(test_brain),
        **fits_of("blurriness", TIMING_PROTOCOL, TIMING_PROTOCOL),
    output:
        table="results/blurriness/blurriness.csv",
        maps="results/blurriness/structures.npz",
    params:
        study=study("blurriness"),
        protocol=TIMING_PROTOCOL,
    log:
        "logs/blurriness.log",
    benchmark:
        "benchmarks/blurriness.tsv"
    resources:
        mem_mb=6000,
        runtime=10,
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
    params:
        title=f"Blurriness (section 5.1.2), {protocol_words(TIMING_PROTOCOL)}, SNR {config['blurriness']['snr']:g}, "
        f"C = {config['blurriness']['repetitions']}",
    log:
        "logs/figures/fig3_blurriness.log",
    benchmark:
        "benchmarks/blurriness_figure.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/blurriness_figure.py"
