# Beyond the paper: our any-protocol RIM (aRIM) trained and shipped as the package holds it (`snakemake arim`):
# one model per task trained on structure-agnostic maps and the brain share of the run's training brains, scored
# on eight unseen subjects (T1) and the phantoms of its task after the step its validation slices choose
# (qmri.bench.steps), then copied with its model card into
# src/qmri/estimators/networks/weights/ (commit them). One task's weights ship alone:
# `snakemake src/qmri/estimators/networks/weights/arim-t1.pt` trains, scores and ships the T1 model only.


rule arim_train:
    input:
        unpack(lambda w: trainsets(config["arim"]["voxel_noise"])),
    output:
        model="results/arim/{task}.pt",
        csv="results/arim/{task}.csv",
    wildcard_constraints:
        task="t1|t2",
    params:
        settings=lambda w: arim_settings(w.task),
        network="arim",
        protocol="any",
        task=lambda w: w.task,
        tau_ms=None,
        seed=config["arim"]["seed"],
        # a parameter, not an input: the packaged model is also this target's output
        start=lambda w: str(packaged_weights(w.task)) if config["arim"]["start"] == "packaged" else None,
        data=lambda w: arim_data(w.task),  # per job: no preset read when a run plans other targets
        config=lambda w: {"arim": config["arim"], "trainset": config["trainset"] | {
            "voxel_noise": config["arim"]["voxel_noise"]}},
    log:
        "logs/arim/{task}.log",
    benchmark:
        "benchmarks/arim/{task}.tsv"
    threads: job_threads()
    resources:
        mem_mb=6000,
        runtime=240,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/train.py"


rule arim_steps:
    input:
        model="results/arim/{task}.pt",
    output:
        model="results/arim/{task}-stopped.pt",
        csv="results/arim/steps-{task}.csv",
    wildcard_constraints:
        task="t1|t2",
    params:
        study=study("montecarlo", "brains"),
    log:
        "logs/arim/steps-{task}.log",
    benchmark:
        "benchmarks/arim/steps-{task}.tsv"
    threads: job_threads()
    resources:
        mem_mb=6000,
        runtime=30,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/arim_steps.py"


rule arim_quality_mle:
    output:
        "results/arim/quality-mle.csv",
    params:
        study=study("montecarlo", "brains"),
    log:
        "logs/arim/quality-mle.log",
    benchmark:
        "benchmarks/arim/quality-mle.tsv"
    threads: job_threads()
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/arim_quality_mle.py"


rule arim_quality:
    input:
        model="results/arim/t1-stopped.pt",
        mle="results/arim/quality-mle.csv",
    output:
        "results/arim/quality-t1.csv",
    params:
        study=study("montecarlo", "brains"),
    log:
        "logs/arim/quality-t1.log",
    benchmark:
        "benchmarks/arim/quality-t1.tsv"
    threads: job_threads()
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/arim_quality.py"


rule arim_phantoms:
    input:
        model="results/arim/{task}-stopped.pt",
        presets=config["arim"]["phantoms"],
    output:
        "results/arim/phantoms-{task}.csv",
    wildcard_constraints:
        task="t1|t2",
    params:
        study=study("phantom"),
    log:
        "logs/arim/phantoms-{task}.log",
    benchmark:
        "benchmarks/arim/phantoms-{task}.tsv"
    threads: job_threads()
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/arim_phantoms.py"


rule arim_ship:
    input:
        unpack(lambda w: {"quality": "results/arim/quality-t1.csv"} if w.task == "t1" else {}),
        model="results/arim/{task}-stopped.pt",
        phantoms="results/arim/phantoms-{task}.csv",
    output:
        weights=f"{PACKAGED_WEIGHTS}/arim-{{task}}.pt",
        card=f"{PACKAGED_WEIGHTS}/arim-{{task}}.json",
    wildcard_constraints:
        task="t1|t2",
    params:
        allow_dirty=config["arim"]["allow_dirty"],
    log:
        "logs/arim/ship-{task}.log",
    resources:
        mem_mb=2000,
        runtime=5,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/arim_ship.py"


rule arim:
    input:
        expand(f"{PACKAGED_WEIGHTS}/arim-{{task}}.pt", task=["t1", "t2"]),
