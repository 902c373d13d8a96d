# Beyond the paper: is it the training budget? The T1 Monte Carlo protocol's paper-form networks trained in the
# run's form for each number of iterations of config `budget.iterations` (the run's own where it is the run's
# budget), scored as the implementation study scores its arms (qmri.bench.forms.score) beside the MLE;
# `snakemake budget` (config `budget.enabled` puts the table in the report). Each training asks a cluster for a GPU.


rule budget_train:
    input:
        unpack(lambda w: trainsets(RUN_VOXEL_NOISE)),
    output:
        model="results/budget/{iterations}/{method}.pt",
        csv="results/budget/{iterations}/{method}.csv",
    wildcard_constraints:
        iterations=r"\d+",
        method="rim|resnet",
    params:
        settings=lambda w: budget_settings(w.method, int(w.iterations)),
        network=lambda w: w.method,
        protocol=FORM_PROTOCOL,
        task="t1",
        tau_ms=PROTOCOLS[FORM_PROTOCOL]["tau_ms"],
        seed=config["seed"],
        config=lambda w: {"budget": int(w.iterations), "trainset": config["trainset"]},
    log:
        "logs/budget/{iterations}/{method}.log",
    benchmark:
        "benchmarks/budget_train/{iterations}/{method}.tsv"
    threads: job_threads()
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=240,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/train.py"


rule budget_score:
    input:
        unpack(test_brain),
        unpack(lambda w: budget_weights(int(w.iterations))),
    output:
        "results/budget/{iterations}/score.csv",
    wildcard_constraints:
        iterations=r"\d+",
    params:
        study=study("montecarlo", "phantom"),
        arm=lambda w: f"{w.iterations} iterations",
    log:
        "logs/budget/{iterations}/score.log",
    benchmark:
        "benchmarks/budget_score/{iterations}.tsv"
    threads: job_threads()
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/score_networks.py"


rule budget:
    input:
        "results/forms/mle/score.csv",
        expand("results/budget/{iterations}/score.csv", iterations=config["budget"]["iterations"]),
    output:
        "results/budget/budget.csv",
    log:
        "logs/budget/budget.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/gather_scores.py"
