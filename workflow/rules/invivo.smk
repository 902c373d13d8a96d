# Section 5.3: test-retest on volunteers (figures 5, 6, 8) and section 5.4: generalisability (figure 9, volunteers
# and the T1 phantom).


rule invivo:
    input:
        unpack(test_brain),
        unpack(lambda w: fits_of("invivo", w.dataset, INVIVO[w.dataset]["protocol"])),
    output:
        "results/invivo/{dataset}.npz",
    params:
        study=study("invivo"),
    log:
        "logs/invivo/{dataset}.log",
    benchmark:
        "benchmarks/invivo/{dataset}.tsv"
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/invivo.py"


rule invivo_real:
    input:
        unpack(lambda w: fits_of("invivo_real", w.real, REAL_INVIVO[w.real]["protocol"])),
        scans=lambda w: real_invivo_scans(w.real),
    output:
        "results/invivo_real/{real}.npz",
    params:
        study=study("invivo"),
    log:
        "logs/invivo_real/{real}.log",
    benchmark:
        "benchmarks/invivo_real/{real}.tsv"
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/invivo_real.py"


rule invivo_figure:
    input:
        lambda w: INVIVO_FIGURES[w.figure]["arrays"],
    output:
        png=report("results/figures/{figure}.png", caption="../report/invivo.rst", category="Volunteers"),
        pdf="results/figures/{figure}.pdf",
    wildcard_constraints:
        figure="|".join(INVIVO_FIGURES),
    params:
        view=lambda w: INVIVO_FIGURES[w.figure]["view"],
        title=lambda w: INVIVO_FIGURES[w.figure]["title"],
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "benchmarks/invivo_figure/{figure}.tsv"
    resources:
        mem_mb=2000,
        runtime=5,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/invivo_figure.py"


rule generalisation:
    input:
        unpack(test_brain),
        fits=GENERALISATION_FITS.values(),
        sessions=[f for d in T1_PHANTOMS for f in phantom_sessions(d)],
    output:
        "results/generalisation/generalisation.csv",
    params:
        study=study("invivo", "phantom"),
        fits=GENERALISATION_FITS,
    log:
        "logs/generalisation.log",
    benchmark:
        "benchmarks/generalisation.tsv"
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/generalisation.py"


rule generalisation_figure:
    input:
        "results/generalisation/generalisation.csv",
    output:
        png=report(
            "results/figures/fig9_generalisation.png",
            caption="../report/generalisation.rst",
            category="Volunteers",
        ),
        pdf="results/figures/fig9_generalisation.pdf",
    log:
        "logs/figures/fig9_generalisation.log",
    benchmark:
        "benchmarks/generalisation_figure.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/generalisation_figure.py"


rule sharpness:
    input:
        "results/invivo/iv-t1.npz",
    output:
        "results/sharpness/iv-t1.csv",
    params:
        pixel_mm=config["simulation"]["pixel_mm"],
    log:
        "logs/sharpness/iv-t1.log",
    benchmark:
        "benchmarks/sharpness.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/sharpness.py"


rule sharpness_figure:
    input:
        arrays="results/invivo/iv-t1.npz",
        table="results/sharpness/iv-t1.csv",
    output:
        png=report("results/figures/fig7_boundary_sharpness.png", caption="../report/sharpness.rst",
                   category="Volunteers"),
        pdf="results/figures/fig7_boundary_sharpness.pdf",
    params:
        pixel_mm=config["simulation"]["pixel_mm"],
        data=f"iv-t1, {protocol_words(INVIVO['iv-t1']['protocol'])}, SNR {INVIVO['iv-t1']['snr']:g}, scan 1",
    log:
        "logs/figures/fig7_boundary_sharpness.log",
    benchmark:
        "benchmarks/sharpness_figure.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/qmri.yaml"
    script:
        "../scripts/sharpness_figure.py"
