# Section 5.3: test-retest on volunteers (figures 5, 6, 8) and section 5.4: generalisability (figure 9).


rule invivo:
    input:
        unpack(test_brain),
        rim=lambda w: f"results/models/rim/{INVIVO[w.dataset]['protocol']}.pt",
        resnet=lambda w: f"results/models/resnet/{INVIVO[w.dataset]['protocol']}.pt",
    output:
        "results/invivo/{dataset}.npz",
    params:
        task=lambda w: PROTOCOLS[INVIVO[w.dataset]["protocol"]]["task"],
        tau_ms=lambda w: PROTOCOLS[INVIVO[w.dataset]["protocol"]]["tau_ms"],
        snr=lambda w: INVIVO[w.dataset]["snr"],
        scans=config["invivo"]["scans"],
        volunteers=config["invivo"]["volunteers"],
        lambda_b=config["mle"]["lambda_b"],
        trainset=config["trainset"],
        geometry=config["simulation"],
        seed=config["seed"],
    log:
        "logs/invivo/{dataset}.log",
    benchmark:
        "benchmarks/invivo/{dataset}.tsv"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/invivo.py"


rule invivo_real:
    input:
        scans=real_invivo_scans,
        rim=lambda w: f"results/models/rim/{REAL_INVIVO[w.real]['protocol']}.pt",
        resnet=lambda w: f"results/models/resnet/{REAL_INVIVO[w.real]['protocol']}.pt",
    output:
        "results/invivo_real/{real}.npz",
    params:
        spec=lambda w: REAL_INVIVO[w.real],
        task=lambda w: PROTOCOLS[REAL_INVIVO[w.real]["protocol"]]["task"],
        tau_ms=lambda w: PROTOCOLS[REAL_INVIVO[w.real]["protocol"]]["tau_ms"],
        lambda_b=config["mle"]["lambda_b"],
    log:
        "logs/invivo_real/{real}.log",
    benchmark:
        "benchmarks/invivo_real/{real}.tsv"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/invivo_real.py"


rule invivo_figure:
    input:
        lambda w: INVIVO_FIGURES[w.figure],
    output:
        png=report("results/figures/{figure}.png", caption="../report/invivo.rst", category="Volunteers"),
        pdf="results/figures/{figure}.pdf",
    wildcard_constraints:
        figure="|".join(INVIVO_FIGURES),
    log:
        "logs/figures/{figure}.log",
    resources:
        mem_mb=2000,
        runtime=5,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/invivo_figure.py"


rule generalisation:
    input:
        unpack(test_brain),
        rims=expand("results/models/rim/{protocol}.pt", protocol=T1_PROTOCOLS),
        resnets=[f"results/models/resnet/{INVIVO[d]['protocol']}.pt" for d in T1_DATASETS],
    output:
        "results/generalisation/generalisation.csv",
    params:
        datasets={d: INVIVO[d] | {"tau_ms": PROTOCOLS[INVIVO[d]["protocol"]]["tau_ms"]} for d in T1_DATASETS},
        scans=config["invivo"]["scans"],
        volunteers=config["invivo"]["volunteers"],
        lambda_b=config["mle"]["lambda_b"],
        trainset=config["trainset"],
        geometry=config["simulation"],
        seed=config["seed"],
    log:
        "logs/generalisation.log",
    benchmark:
        "benchmarks/generalisation.tsv"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/generalisation.py"


rule generalisation_figure:
    input:
        "results/generalisation/generalisation.csv",
    output:
        png=report(
            "results/figures/fig9_generalisation.png",
            caption="../report/generalisation.rst",
            category="Volunteers",
        ),
        pdf="results/figures/fig9_generalisation.pdf",
    log:
        "logs/figures/fig9_generalisation.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/generalisation_figure.py"


rule sharpness:
    input:
        "results/invivo/iv-t1.npz",
    output:
        "results/sharpness/iv-t1.csv",
    params:
        pixel_mm=config["simulation"]["pixel_mm"],
    log:
        "logs/sharpness/iv-t1.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/sharpness.py"


rule sharpness_figure:
    input:
        arrays="results/invivo/iv-t1.npz",
        table="results/sharpness/iv-t1.csv",
    output:
        png=report("results/figures/fig7_boundary_sharpness.png", caption="../report/sharpness.rst",
                   category="Volunteers"),
        pdf="results/figures/fig7_boundary_sharpness.pdf",
    params:
        pixel_mm=config["simulation"]["pixel_mm"],
    log:
        "logs/figures/fig7_boundary_sharpness.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/sharpness_figure.py"
