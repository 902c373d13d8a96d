rule trainset_examples:
    input:
        f"results/trainset/{TRAIN_BRAINS[0]}.npz",
    output:
        png=report(
            "results/figures/trainset_examples.png",
            caption="../report/trainset_examples.rst",
            category="Training data",
        ),
        pdf="results/figures/trainset_examples.pdf",
    params:
        tau_ms=PROTOCOLS[config["figures"]["trainset_examples"]["protocol"]]["tau_ms"],
        task=PROTOCOLS[config["figures"]["trainset_examples"]["protocol"]]["task"],
        n_patches=config["figures"]["trainset_examples"]["n_patches"],
        seed=config["seed"],
    log:
        "logs/figures/trainset_examples.log",
    benchmark:
        "benchmarks/trainset_examples.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/trainset_examples.py"


rule loss_curve:
    input:
        "results/models/{method}/{protocol}.csv",
    output:
        report(
            "results/figures/training/{method}_{protocol}.png",
            caption="../report/loss_curve.rst",
            category="Training",
            subcategory="{method}",
        ),
    params:
        loss=lambda w: training_form(config, w.method, w.protocol).loss,
    log:
        "logs/figures/loss_curve/{method}_{protocol}.log",
    benchmark:
        "benchmarks/loss_curve/{method}_{protocol}.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/loss_curve.py"
