# Beyond the paper: which implementation choices of the paper-form networks matter (qmri.bench.forms,
# qmri.paper.fidelity). Each arm trains the T1 Monte Carlo protocol's RIM and ResNet with one difference from the
# authors' code set as theirs, or all of them (an arm whose voxel noise is not the run's trains on
# results/trainset-<kind>/; an arm that is the run's form scores the run's own model);
# `snakemake forms` scores every arm (config `forms.enabled` puts the table in the report).


rule form_train:
    input:
        unpack(lambda w: trainsets(form_voxel_noise(w.arm))),
    output:
        model="results/forms/{arm}/{method}.pt",
        csv="results/forms/{arm}/{method}.csv",
    wildcard_constraints:
        arm="|".join(FORM_ARMS),
    params:
        settings=lambda w: form_settings(config, w.arm, w.method),
        network=lambda w: w.method,
        protocol=FORM_PROTOCOL,
        task="t1",
        tau_ms=PROTOCOLS[FORM_PROTOCOL]["tau_ms"],
        seed=config["seed"],
        config=lambda w: {"arm": w.arm, "changes": FORM_ARMS[w.arm],
                          "trainset": config["trainset"] | {"voxel_noise": form_voxel_noise(w.arm)}},
    log:
        "logs/forms/{arm}/{method}.log",
    benchmark:
        "benchmarks/form_train/{arm}/{method}.tsv"
    threads: job_threads()
    resources:
        mem_mb=6000,
        runtime=240,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/train.py"


rule form_score:
    input:
        unpack(test_brain),
        unpack(lambda w: {} if w.arm == "mle" else form_weights(w.arm)),
    output:
        "results/forms/{arm}/score.csv",
    wildcard_constraints:
        arm="|".join(["mle", *FORM_ARMS]),
    params:
        study=study("montecarlo", "phantom"),
        arm=lambda w: w.arm,
    log:
        "logs/forms/{arm}/score.log",
    benchmark:
        "benchmarks/form_score/{arm}.tsv"
    threads: job_threads()
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/score_networks.py"


rule forms:
    input:
        expand("results/forms/{arm}/score.csv", arm=["mle", *FORM_ARMS]),
    output:
        "results/forms/forms.csv",
    log:
        "logs/forms/forms.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/gather_scores.py"
