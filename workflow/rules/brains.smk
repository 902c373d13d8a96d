rule brains:
    output:
        labels="results/brains/{model}.nii.gz",
        meta="results/brains/{model}.json",
    params:
        spec=lambda w: BRAINS[w.model],
    log:
        "logs/brains/{model}.log",
    benchmark:
        "benchmarks/brains/{model}.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/brains.py"
