# Section 6.1: time to map one 256 x 256 slice with each method, next to the paper's 3.8 s / 27 s / 575 s.


rule timing:
    input:
        unpack(test_brain),
        rim=f"results/models/rim/{TIMING_PROTOCOL}.pt",
        resnet=f"results/models/resnet/{TIMING_PROTOCOL}.pt",
        **({"arim": our_weights(config, "t1")} if "arim" in FIT_METHODS else {}),
    output:
        "results/timing/timing.csv",
    params:
        study=study("montecarlo", "timing"),
    log:
        "logs/timing.log",
    benchmark:
        "benchmarks/timing.tsv"
    threads: all_cores()
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/timing.py"
