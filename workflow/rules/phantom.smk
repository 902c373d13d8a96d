# Section 5.2: test-retest of the ISMRM/NIST system phantom (figure 4 and A2), digital or real sessions.


rule phantom:
    input:
        sessions=phantom_sessions,
        rim=lambda w: f"results/models/rim/{PHANTOMS[w.phantom]['protocol']}.pt",
        resnet=lambda w: f"results/models/resnet/{PHANTOMS[w.phantom]['protocol']}.pt",
    output:
        table="results/phantom/{phantom}.csv",
        arrays="results/phantom/{phantom}.npz",
    params:
        spec=lambda w: PHANTOMS[w.phantom],
        task=lambda w: PROTOCOLS[PHANTOMS[w.phantom]["protocol"]]["task"],
        tau_ms=lambda w: PROTOCOLS[PHANTOMS[w.phantom]["protocol"]]["tau_ms"],
        lambda_b=lambda w: PHANTOMS[w.phantom].get("lambda_b", config["mle"]["lambda_b"]),
        geometry=config["simulation"],
        seed=config["seed"],
    log:
        "logs/phantom/{phantom}.log",
    benchmark:
        "benchmarks/phantom/{phantom}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/phantom.py"


rule phantom_figure:
    input:
        unpack(phantom_results),
    output:
        png=report("results/figures/{figure}.png", caption="../report/phantom.rst", category="Phantom"),
        pdf="results/figures/{figure}.pdf",
    wildcard_constraints:
        figure="|".join(PHANTOM_FIGURES.values()),
    log:
        "logs/figures/{figure}.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/phantom_figure.py"
