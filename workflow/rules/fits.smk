# The fit stage: every dataset of every experiment mapped by each method in a job of its own, cached, so
# that metrics, figures and the report read the maps and a cluster runs the fits in parallel.


rule fit:
    input:
        unpack(fit_inputs),
    output:
        "results/fits/{experiment}/{dataset}/{estimator}.npz",
    wildcard_constraints:
        experiment="|".join(EXPERIMENTS),
        dataset="[^/]+",
        estimator=f"mle|arim|({'|'.join(METHODS)})({SEED_MARK}[0-9]+)?-({'|'.join(PROTOCOLS)})",
    params:
        study=lambda w: study({"invivo_real": "invivo"}.get(w.experiment, w.experiment)),
    log:
        "logs/fits/{experiment}/{dataset}/{estimator}.log",
    benchmark:
        "benchmarks/fit/{experiment}/{dataset}/{estimator}.tsv"
    threads: job_threads()
    resources:
        mem_mb=6000,
        runtime=lambda w: 240 if w.estimator == "mle" else 60,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/fit.py"
