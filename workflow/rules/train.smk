rule train:
    input:
        expand("results/trainset/{model}.npz", model=TRAIN_BRAINS),
    output:
        model="results/models/{method}/{protocol}.pt",
        csv="results/models/{method}/{protocol}.csv",
    params:
        settings=lambda w: config["training"][w.method],
        task=lambda w: PROTOCOLS[w.protocol]["task"],
        tau_ms=lambda w: PROTOCOLS[w.protocol]["tau_ms"],
        seed=config["seed"],
        config=lambda w: {"protocol": PROTOCOLS[w.protocol], "training": config["training"][w.method],
                          "trainset": config["trainset"], "brains": config["brains"]},
    log:
        "logs/train/{method}/{protocol}.log",
    benchmark:
        "benchmarks/train/{method}/{protocol}.tsv"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=240,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/train.py"
