# The run's training patches (results/trainset/) and, for the implementation study, the same patches drawn with
# the other voxel noise (results/trainset-multiplicative/ or results/trainset-additive/).


rule trainset:
    input:
        labels="results/brains/{model}.nii.gz",
        meta="results/brains/{model}.json",
    output:
        "results/{folder}/{model}.npz",
    wildcard_constraints:
        folder="|".join(TRAINSET_FOLDERS),
    params:
        settings=lambda w: config["trainset"] | TRAINSET_FOLDERS[w.folder],
        seed=config["seed"],
    log:
        "logs/{folder}/{model}.log",
    benchmark:
        "benchmarks/{folder}/{model}.tsv"
    resources:
        mem_mb=8000,
        runtime=30,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/trainset.py"
