rule train:
    input:
        unpack(training_start),
        trainsets=expand("results/trainset/{model}.npz", model=TRAIN_BRAINS),
    output:
        model="results/models/{method}/{protocol}.pt",
        csv="results/models/{method}/{protocol}.csv",
    params:
        settings=lambda w: training_record(w)["training"],
        task=lambda w: PROTOCOLS[w.protocol]["task"],
        tau_ms=lambda w: PROTOCOLS[w.protocol]["tau_ms"],
        network=lambda w: replicate_of(w.method)[0],
        protocol=lambda w: w.protocol,
        seed=lambda w: training_seed(config, w.method),
        config=training_record,
    log:
        "logs/train/{method}/{protocol}.log",
    benchmark:
        "benchmarks/train/{method}/{protocol}.tsv"
    threads: job_threads()
    # trainings first: the fits, figures and the report of the networks wait on them
    priority: 1
    resources:
        mem_mb=6000,
        runtime=240,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/train.py"
