# Section 5.2: test-retest of the ISMRM/NIST system phantom (figure 4 and A2), digital or real sessions.


rule phantom:
    input:
        unpack(lambda w: fits_of("phantom", w.phantom, PHANTOMS[w.phantom]["protocol"])),
        sessions=lambda w: phantom_sessions(w.phantom),
    output:
        table="results/phantom/{phantom}.csv",
        arrays="results/phantom/{phantom}.npz",
    params:
        study=study("phantom"),
    log:
        "logs/phantom/{phantom}.log",
    benchmark:
        "benchmarks/phantom/{phantom}.tsv"
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/phantom.py"


rule phantom_figure:
    input:
        unpack(phantom_results),
    output:
        png=report("results/figures/{figure}.png", caption="../report/phantom.rst", category="Phantom"),
        pdf="results/figures/{figure}.pdf",
    wildcard_constraints:
        figure="|".join(PHANTOM_FIGURES.values()),
    params:
        data=lambda w: phantom_words({f: d for d, f in PHANTOM_FIGURES.items()}[w.figure]),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "benchmarks/phantom_figure/{figure}.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/phantom_figure.py"
